//! A private CA for tests: leaves issued with `openssl` by the issuing CA of
//! `testdata/model-signing-pki/ca/` (root -> issuing CA), made fresh for each test so no
//! checked-in leaf can expire under a test.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A leaf certificate and everything a signer and a verifier are given.
pub struct Leaf {
    /// The leaf's private key (SEC1 PEM, as `openssl ecparam -genkey` writes it).
    pub key: PathBuf,
    /// The leaf certificate (PEM).
    pub cert: PathBuf,
    /// The issuing CA (PEM): what `sign --certificate-chain` carries in the bundle.
    pub chain: PathBuf,
    /// The root CA (PEM): what a verifier trusts.
    pub roots: PathBuf,
}

impl Leaf {
    /// (key, cert, chain, roots) as the strings command lines take.
    pub fn paths(&self) -> (&str, &str, &str, &str) {
        fn s(p: &Path) -> &str {
            p.to_str().expect("a UTF-8 temporary path")
        }
        (s(&self.key), s(&self.cert), s(&self.chain), s(&self.roots))
    }
}

fn ca(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata/model-signing-pki/ca")
        .join(name)
}

/// Runs openssl in `dir`, failing the test with its stderr when it fails.
pub fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Makes a P-256 key pair in `dir` with openssl: the private key (SEC1 PEM) at `key`, its
/// public key (SubjectPublicKeyInfo PEM) at `public`.
pub fn p256_key_pair(dir: &Path, key: &str, public: &str) {
    openssl(
        dir,
        &[
            "ecparam",
            "-name",
            "prime256v1",
            "-genkey",
            "-noout",
            "-out",
            key,
        ],
    );
    openssl(dir, &["pkey", "-in", key, "-pubout", "-out", public]);
}

/// Issues `NAME.pem` (key `NAME.key`, P-256) in `dir` for `email`: see [`certify`].
pub fn issue_leaf(dir: &Path, name: &str, email: &str) -> Leaf {
    let key = format!("{name}.key");
    let public = format!("{name}.pub");
    p256_key_pair(dir, &key, &public);
    let mut leaf = certify(dir, name, email, &dir.join(public));
    leaf.key = dir.join(key);
    leaf
}

/// Certifies a public key (PEM; e.g. a KMS key's, from `modelseal public-key`) as `NAME.pem` in
/// `dir` for `email`: valid from now for a day, for digital signatures and code signing, as an
/// enterprise CA would issue it for a pipeline. `key` in the result is the public key's path.
pub fn certify(dir: &Path, name: &str, email: &str, public_key: &Path) -> Leaf {
    let cert = format!("{name}.pem");
    let ext = format!("{name}.ext");
    std::fs::write(
        dir.join(&ext),
        format!(
            "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n\
             extendedKeyUsage=codeSigning\nsubjectAltName=email:{email}\n"
        ),
    )
    .expect("write the extensions");
    let serial = format!("0x{:x}{:x}", std::process::id(), name.len() + email.len());
    openssl(
        dir,
        &[
            "x509",
            "-new",
            "-force_pubkey",
            public_key.to_str().expect("utf-8 path"),
            "-subj",
            &format!("/CN={name}"),
            "-CA",
            ca("intermediate.pem").to_str().expect("utf-8 path"),
            "-CAkey",
            ca("intermediate.key").to_str().expect("utf-8 path"),
            "-set_serial",
            &serial,
            "-days",
            "1",
            "-extfile",
            &ext,
            "-out",
            &cert,
        ],
    );
    Leaf {
        key: public_key.to_path_buf(),
        cert: dir.join(cert),
        chain: ca("intermediate.pem"),
        roots: ca("root.pem"),
    }
}

/// A private PKI in the shape model-transparency's test-CA script (certtool) makes and the OMS
/// conformance suite signs with, made with openssl in `dir`: an RSA root and intermediate (CA,
/// keyCertSign) and a P-384 signing certificate that is itself a CA (basicConstraints CA:TRUE,
/// KeyUsage digitalSignature, EKU codeSigning, named like its issuer). Valid from now for a
/// day. `key` is the signing key (SEC1 PEM), `chain` the intermediate, `roots` the root.
pub fn ca_signing_leaf(dir: &Path) -> Leaf {
    let write = |name: &str, text: &str| std::fs::write(dir.join(name), text).expect("write");
    write(
        "ca.ext",
        "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign\n",
    );
    write(
        "signer.ext",
        "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=codeSigning\n",
    );
    openssl(dir, &["genrsa", "-out", "root-ca.key", "2048"]);
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-x509",
            "-key",
            "root-ca.key",
            "-subj",
            "/CN=root-ca",
            "-days",
            "1",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign",
            "-out",
            "root-ca.pem",
        ],
    );
    openssl(dir, &["genrsa", "-out", "int-ca.key", "2048"]);
    openssl(
        dir,
        &[
            "ecparam",
            "-name",
            "secp384r1",
            "-genkey",
            "-noout",
            "-out",
            "signer.key",
        ],
    );
    for (name, issuer, ext, serial) in [
        ("int-ca", "root-ca", "ca.ext", "0x11"),
        ("signer", "int-ca", "signer.ext", "0x12"),
    ] {
        let csr = format!("{name}.csr");
        openssl(
            dir,
            &[
                "req",
                "-new",
                "-key",
                &format!("{name}.key"),
                "-subj",
                "/CN=intermediate-ca",
                "-out",
                &csr,
            ],
        );
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                &format!("{issuer}.pem"),
                "-CAkey",
                &format!("{issuer}.key"),
                "-set_serial",
                serial,
                "-days",
                "1",
                "-extfile",
                ext,
                "-out",
                &format!("{name}.pem"),
            ],
        );
    }
    Leaf {
        key: dir.join("signer.key"),
        cert: dir.join("signer.pem"),
        chain: dir.join("int-ca.pem"),
        roots: dir.join("root-ca.pem"),
    }
}
