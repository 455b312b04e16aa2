//! cosign's encrypted private key format (`cosign generate-key-pair`).
//!
//! The PEM body is JSON: scrypt parameters and salt, a NaCl secretbox (XSalsa20-Poly1305) nonce,
//! and the ciphertext of a PKCS#8 DER key. cosign accepts N = 32768, 65536 and 131072 with
//! r = 8, p = 1, and writes 65536; so do we.

use base64::{engine::general_purpose::STANDARD as B64, Engine as _};
use crypto_secretbox::{aead::Aead, KeyInit, Nonce, XSalsa20Poly1305};
use rand_core::CryptoRngCore;
use serde::Deserialize;
use zeroize::Zeroizing;

use crate::keys::{KeyError, PrivateKey};

/// The label cosign 2 and later write.
pub const LABEL_SIGSTORE: &str = "ENCRYPTED SIGSTORE PRIVATE KEY";
/// The label older cosign wrote; still read.
pub const LABEL_COSIGN: &str = "ENCRYPTED COSIGN PRIVATE KEY";

/// The scrypt work factors cosign accepts (go-securesystemslib `CheckParams`).
const ACCEPTED_LOG_N: [u8; 3] = [15, 16, 17];
/// The work factor cosign writes (N = 65536).
pub const DEFAULT_LOG_N: u8 = 16;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire {
    kdf: WireKdf,
    cipher: WireCipher,
    ciphertext: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireKdf {
    name: String,
    params: WireScrypt,
    salt: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireScrypt {
    #[serde(rename = "N")]
    n: u64,
    r: u32,
    p: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireCipher {
    name: String,
    nonce: String,
}

/// A parsed, still-encrypted cosign key.
pub struct EncryptedKey {
    log_n: u8,
    salt: Vec<u8>,
    nonce: [u8; 24],
    ciphertext: Vec<u8>,
}

impl EncryptedKey {
    /// Parses the JSON inside the PEM block and checks every parameter before any work is done.
    pub fn from_json(json: &[u8]) -> Result<Self, KeyError> {
        let bad = |why: &str| KeyError::BadEncryptedKey(why.to_string());
        let wire: Wire = serde_json::from_slice(json)
            .map_err(|_| bad("the body is not cosign's JSON layout"))?;
        if wire.kdf.name != "scrypt" {
            return Err(bad("the KDF is not scrypt"));
        }
        if wire.cipher.name != "nacl/secretbox" {
            return Err(bad("the cipher is not nacl/secretbox"));
        }
        let p = &wire.kdf.params;
        let log_n = ACCEPTED_LOG_N
            .into_iter()
            .find(|&l| 1u64 << l == p.n)
            .filter(|_| p.r == 8 && p.p == 1)
            .ok_or_else(|| {
                bad(&format!(
                    "scrypt N={} r={} p={} (cosign accepts N=32768, 65536 or 131072 with r=8, p=1)",
                    p.n, p.r, p.p
                ))
            })?;
        let salt = B64
            .decode(&wire.kdf.salt)
            .map_err(|_| bad("the salt is not base64"))?;
        let nonce: [u8; 24] = B64
            .decode(&wire.cipher.nonce)
            .ok()
            .and_then(|n| n.try_into().ok())
            .ok_or_else(|| bad("the nonce is not 24 base64 bytes"))?;
        let ciphertext = B64
            .decode(&wire.ciphertext)
            .map_err(|_| bad("the ciphertext is not base64"))?;
        Ok(EncryptedKey {
            log_n,
            salt,
            nonce,
            ciphertext,
        })
    }

    /// Derives the key from `password` and decrypts. The plaintext must be PKCS#8, as cosign requires.
    pub fn decrypt(&self, password: &[u8]) -> Result<PrivateKey, KeyError> {
        let key = derive(password, &self.salt, self.log_n)?;
        let cipher = XSalsa20Poly1305::new(key.as_slice().into());
        let plain = Zeroizing::new(
            cipher
                .decrypt(Nonce::from_slice(&self.nonce), self.ciphertext.as_slice())
                .map_err(|_| KeyError::WrongPassword)?,
        );
        PrivateKey::from_pkcs8_der(&plain).map_err(|e| {
            if PrivateKey::from_sec1_der(&plain).is_ok() {
                KeyError::EncryptedSec1
            } else {
                e
            }
        })
    }
}

fn derive(password: &[u8], salt: &[u8], log_n: u8) -> Result<Zeroizing<[u8; 32]>, KeyError> {
    let params = scrypt::Params::new(log_n, 8, 1, 32)
        .map_err(|_| KeyError::BadEncryptedKey("scrypt parameters".into()))?;
    let mut out = Zeroizing::new([0u8; 32]);
    scrypt::scrypt(password, salt, &params, out.as_mut_slice())
        .map_err(|_| KeyError::BadEncryptedKey("scrypt output length".into()))?;
    Ok(out)
}

/// Encrypts `key` as cosign does (N = 2^`log_n`, r = 8, p = 1, random salt and nonce) and returns
/// the PEM text under the `ENCRYPTED SIGSTORE PRIVATE KEY` label.
pub fn encrypt(
    key: &PrivateKey,
    password: &[u8],
    log_n: u8,
    rng: &mut impl CryptoRngCore,
) -> Result<String, KeyError> {
    if !ACCEPTED_LOG_N.contains(&log_n) {
        return Err(KeyError::BadEncryptedKey(format!("scrypt N=2^{log_n}")));
    }
    let mut salt = [0u8; 32];
    let mut nonce = [0u8; 24];
    rng.fill_bytes(&mut salt);
    rng.fill_bytes(&mut nonce);
    let derived = derive(password, &salt, log_n)?;
    let cipher = XSalsa20Poly1305::new(derived.as_slice().into());
    let plain = key.to_pkcs8_der()?;
    let ciphertext = cipher
        .encrypt(Nonce::from_slice(&nonce), plain.as_slice())
        .map_err(|_| KeyError::BadEncryptedKey("encryption failed".into()))?;
    // Field order as Go's json.Marshal writes it, so our files match cosign's byte layout.
    let json = format!(
        r#"{{"kdf":{{"name":"scrypt","params":{{"N":{},"r":8,"p":1}},"salt":"{}"}},"cipher":{{"name":"nacl/secretbox","nonce":"{}"}},"ciphertext":"{}"}}"#,
        1u64 << log_n,
        B64.encode(salt),
        B64.encode(nonce),
        B64.encode(ciphertext)
    );
    Ok(crate::pem::encode(LABEL_SIGSTORE, json.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{Curve, Signer};
    use crate::private_pem::PrivateKeyPem;
    use rand_core::OsRng;

    fn encrypted(pem: &str) -> EncryptedKey {
        match PrivateKeyPem::parse(pem.as_bytes()).unwrap() {
            PrivateKeyPem::Encrypted(e) => e,
            PrivateKeyPem::Plain(_) => panic!("expected an encrypted key"),
        }
    }

    #[test]
    fn round_trip_and_wrong_password() {
        let key = PrivateKey::generate(Curve::P256, &mut OsRng);
        let pem = encrypt(&key, b"pw", 15, &mut OsRng).unwrap();
        assert!(pem.starts_with("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n"));
        let enc = encrypted(&pem);
        assert_eq!(enc.decrypt(b"pw").unwrap().public_key(), key.public_key());
        assert_eq!(enc.decrypt(b"pW").err(), Some(KeyError::WrongPassword));
    }

    #[test]
    fn unaccepted_work_factor_is_refused_before_deriving() {
        let json = br#"{"kdf":{"name":"scrypt","params":{"N":1024,"r":8,"p":1},"salt":"AA=="},"cipher":{"name":"nacl/secretbox","nonce":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},"ciphertext":"AA=="}"#;
        assert!(matches!(
            EncryptedKey::from_json(json),
            Err(KeyError::BadEncryptedKey(_))
        ));
    }
}
