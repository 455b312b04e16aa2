//! What a private-key PEM is: a plain key (`PRIVATE KEY`, PKCS#8; `EC PRIVATE KEY`, SEC1), or
//! a cosign encrypted key under either of its labels. The one module that knows both `keys`
//! and `cosign_key`, so neither depends on the other's caller.

use crate::cosign_key::{EncryptedKey, LABEL_COSIGN, LABEL_SIGSTORE};
use crate::keys::{KeyError, PrivateKey};
use crate::pem;

/// What a private-key PEM turned out to be.
pub enum PrivateKeyPem {
    /// An unencrypted PKCS#8 or SEC1 key, ready to use.
    Plain(Box<PrivateKey>),
    /// A cosign encrypted key; it needs a password.
    Encrypted(EncryptedKey),
}

impl PrivateKeyPem {
    /// Reads a private-key PEM by its label.
    pub fn parse(text: &[u8]) -> Result<Self, KeyError> {
        let block = pem::parse(text)?;
        match block.label.as_str() {
            "PRIVATE KEY" => Ok(PrivateKeyPem::Plain(Box::new(PrivateKey::from_pkcs8_der(
                &block.der,
            )?))),
            "EC PRIVATE KEY" => Ok(PrivateKeyPem::Plain(Box::new(PrivateKey::from_sec1_der(
                &block.der,
            )?))),
            LABEL_SIGSTORE | LABEL_COSIGN => Ok(PrivateKeyPem::Encrypted(EncryptedKey::from_json(
                &block.der,
            )?)),
            "PUBLIC KEY" => Err(KeyError::WrongKind {
                expected: "private key",
                found: block.label,
            }),
            other => Err(KeyError::UnsupportedLabel(other.to_string())),
        }
    }
}
