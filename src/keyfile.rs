//! Reading keys named on the command line, and the password for encrypted ones.

use std::io::IsTerminal as _;
use std::path::Path;

use modelseal_kernel::keys::PrivateKeyPem;
use modelseal_kernel::{KeyError, PrivateKey, PublicKey};
use zeroize::Zeroizing;

use crate::failure::{self, Failure};

/// cosign's environment variable for the private key password.
pub const PASSWORD_ENV: &str = "COSIGN_PASSWORD";

fn refuse_kms(arg: &str) -> Result<(), Failure> {
    if arg.starts_with("awskms://") {
        return Err(Failure::cannot_check(
            format!("cannot use key {arg}: AWS KMS keys are not supported by this build yet"),
            "use a key file (cosign.key to sign, cosign.pub to verify)",
        ));
    }
    Ok(())
}

fn key_failure(path: &str, e: &KeyError, wanted: &str) -> Failure {
    let hint = match e {
        KeyError::WrongPassword => format!("check the password ({PASSWORD_ENV} or the prompt)"),
        KeyError::WrongKind { .. } => format!("pass the {wanted}"),
        KeyError::NotPem | KeyError::UnterminatedPem(_) | KeyError::BadBase64(_) => {
            format!("pass a PEM file holding the {wanted}")
        }
        _ => "use an ECDSA P-256, P-384 or P-521 key, as cosign generate-key-pair or openssl ecparam make".into(),
    };
    Failure::cannot_check(format!("cannot use key {path}: {e}"), hint)
}

fn read(path: &str) -> Result<Vec<u8>, Failure> {
    std::fs::read(path).map_err(|e| failure::io("read key", Path::new(path), &e))
}

/// Reads a `PUBLIC KEY` PEM.
pub fn public_key(arg: &str) -> Result<PublicKey, Failure> {
    refuse_kms(arg)?;
    PublicKey::from_pem(&read(arg)?).map_err(|e| key_failure(arg, &e, "public key (cosign.pub)"))
}

/// Reads a private key, asking for the password only when the key is encrypted.
pub fn private_key(arg: &str) -> Result<PrivateKey, Failure> {
    refuse_kms(arg)?;
    let text = Zeroizing::new(read(arg)?);
    let wanted = "private key (cosign.key or a PEM EC key)";
    match PrivateKey::from_pem(&text).map_err(|e| key_failure(arg, &e, wanted))? {
        PrivateKeyPem::Plain(key) => Ok(*key),
        PrivateKeyPem::Encrypted(enc) => {
            let password = password(false)?;
            enc.decrypt(password.as_bytes())
                .map_err(|e| key_failure(arg, &e, wanted))
        }
    }
}

/// The password: `COSIGN_PASSWORD` verbatim (even empty, as cosign), else a terminal prompt.
pub fn password(confirm: bool) -> Result<Zeroizing<String>, Failure> {
    if let Some(p) = std::env::var_os(PASSWORD_ENV) {
        return p.into_string().map(Zeroizing::new).map_err(|_| {
            Failure::cannot_check(
                format!("{PASSWORD_ENV} is not valid UTF-8"),
                "set it to the key's password",
            )
        });
    }
    let no_password = || {
        Failure::cannot_check(
            "the key is encrypted and no password was given",
            format!("set {PASSWORD_ENV}, or run on a terminal to be prompted"),
        )
    };
    if !std::io::stdin().is_terminal() {
        return Err(no_password());
    }
    let first = Zeroizing::new(
        rpassword::prompt_password("Enter password for private key: ")
            .map_err(|_| no_password())?,
    );
    if confirm {
        let again = Zeroizing::new(
            rpassword::prompt_password("Enter password for private key again: ")
                .map_err(|_| no_password())?,
        );
        if *again != *first {
            return Err(Failure::cannot_check(
                "the passwords do not match",
                "try again",
            ));
        }
    }
    Ok(first)
}
