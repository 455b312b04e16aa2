//! EC keys (P-256, P-384, P-521): parsing, encoding, hints, signing and verification over prehashes.
//!
//! Signing goes through the [`Signer`] trait so a key held elsewhere (AWS KMS) drops in beside
//! a file key. Signatures are always ASN.1 DER `ECDSA-Sig-Value`, as cosign, openssl, KMS and
//! model_signing all produce.

use std::fmt;

use base64::Engine as _;
use ecdsa::signature::hazmat::{PrehashSigner, PrehashVerifier};
use p256::pkcs8::{
    der::Decode as _, spki::SubjectPublicKeyInfoRef, DecodePrivateKey as _, DecodePublicKey as _,
    EncodePrivateKey as _, EncodePublicKey as _, ObjectIdentifier, PrivateKeyInfo,
};
use rand_core::CryptoRngCore;
use zeroize::Zeroizing;

use crate::digest::{Digest, HashAlgorithm};
use crate::pem;

const OID_RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const OID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const OID_P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const OID_P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const OID_P521: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.35");

/// An elliptic curve the kernel signs and verifies with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Curve {
    P256,
    P384,
    P521,
}

impl Curve {
    /// The hash ECDSA uses with this curve (cosign, model_signing and KMS all pair them so).
    pub fn hash(self) -> HashAlgorithm {
        match self {
            Curve::P256 => HashAlgorithm::Sha256,
            Curve::P384 => HashAlgorithm::Sha384,
            Curve::P521 => HashAlgorithm::Sha512,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Curve::P256 => "P-256",
            Curve::P384 => "P-384",
            Curve::P521 => "P-521",
        }
    }

    fn from_oid(oid: ObjectIdentifier) -> Result<Self, KeyError> {
        match oid {
            OID_P256 => Ok(Curve::P256),
            OID_P384 => Ok(Curve::P384),
            OID_P521 => Ok(Curve::P521),
            other => Err(KeyError::UnsupportedCurve(other.to_string())),
        }
    }
}

/// Why a key could not be read or used. Messages never contain key material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyError {
    /// The text holds no PEM block.
    NotPem,
    /// A PEM block has a BEGIN line and no END line.
    UnterminatedPem(String),
    /// A PEM block's body is not base64.
    BadBase64(String),
    /// A PEM label we do not read (RSA, encrypted PKCS#8, certificates...).
    UnsupportedLabel(String),
    /// A private key where a public key was expected, or the other way round.
    WrongKind {
        expected: &'static str,
        found: String,
    },
    /// The key is not an EC key.
    NotEc,
    UnsupportedCurve(String),
    /// The DER inside is not a valid key of its kind.
    Malformed(&'static str),
    /// The encrypted cosign key's JSON or parameters are unusable.
    BadEncryptedKey(String),
    /// Decryption failed: the password is wrong (or the file is corrupt).
    WrongPassword,
    /// The encrypted cosign key decrypts to SEC1, which cosign refuses.
    EncryptedSec1,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::NotPem => f.write_str("not a PEM file"),
            KeyError::UnterminatedPem(l) => write!(f, "PEM block '{l}' has no END line"),
            KeyError::BadBase64(l) => write!(f, "PEM block '{l}' is not valid base64"),
            KeyError::UnsupportedLabel(l) => write!(f, "unsupported PEM type '{l}'"),
            KeyError::WrongKind { expected, found } => {
                write!(f, "expected a {expected}, found PEM type '{found}'")
            }
            KeyError::NotEc => {
                f.write_str("not an ECDSA key (signing keys are ECDSA P-256, P-384 or P-521; RSA public keys verify only)")
            }
            KeyError::UnsupportedCurve(oid) => write!(
                f,
                "unsupported curve {oid} (supported: P-256, P-384, P-521)"
            ),
            KeyError::Malformed(what) => write!(f, "malformed {what}"),
            KeyError::BadEncryptedKey(why) => write!(f, "unusable encrypted cosign key: {why}"),
            KeyError::WrongPassword => f.write_str("wrong password (decryption failed)"),
            KeyError::EncryptedSec1 => f.write_str(
                "the encrypted key holds a SEC1 key, not PKCS#8; cosign refuses such keys",
            ),
        }
    }
}

impl std::error::Error for KeyError {}

impl From<pem::PemError> for KeyError {
    fn from(e: pem::PemError) -> Self {
        match e {
            pem::PemError::NoBlock => KeyError::NotPem,
            pem::PemError::Unterminated(l) => KeyError::UnterminatedPem(l),
            pem::PemError::Base64(l) => KeyError::BadBase64(l),
        }
    }
}

/// Why a signature was not made or did not verify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignError {
    /// The bytes are not a DER ECDSA signature for this curve.
    MalformedSignature,
    /// The signature does not match the key and message.
    Mismatch,
    /// A signing backend (a KMS, say) failed; the text is the backend's own.
    Backend(String),
}

impl fmt::Display for SignError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignError::MalformedSignature => {
                f.write_str("the signature is not a DER ECDSA signature")
            }
            SignError::Mismatch => {
                f.write_str("the signature does not match the key and signed data")
            }
            SignError::Backend(msg) => write!(f, "signing failed: {msg}"),
        }
    }
}

impl std::error::Error for SignError {}

#[derive(Clone)]
enum Verifying {
    P256(p256::ecdsa::VerifyingKey),
    P384(p384::ecdsa::VerifyingKey),
    P521(p521::ecdsa::VerifyingKey),
    /// RSA (2048 to 8192 bits), verify only: PKCS#1 v1.5 with SHA-256 (cosign's RSA keys,
    /// RSA certificate leaves), checked by aws-lc-rs over the SPKI.
    Rsa,
}

/// A public key (ECDSA, or RSA for verification only), kept with its canonical
/// SubjectPublicKeyInfo DER.
#[derive(Clone)]
pub struct PublicKey {
    key: Verifying,
    spki_der: Vec<u8>,
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "PublicKey({}, {})",
            self.algorithm_name(),
            self.oms_hint()
        )
    }
}

impl PartialEq for PublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.spki_der == other.spki_der
    }
}

impl PublicKey {
    /// Reads a `PUBLIC KEY` (SubjectPublicKeyInfo) PEM.
    pub fn from_pem(text: &[u8]) -> Result<Self, KeyError> {
        let block = pem::parse(text)?;
        match block.label.as_str() {
            "PUBLIC KEY" => Self::from_spki_der(&block.der),
            other if other.contains("PRIVATE KEY") => Err(KeyError::WrongKind {
                expected: "public key",
                found: other.to_string(),
            }),
            other => Err(KeyError::UnsupportedLabel(other.to_string())),
        }
    }

    /// Reads SubjectPublicKeyInfo DER (what KMS `GetPublicKey` returns).
    pub fn from_spki_der(der: &[u8]) -> Result<Self, KeyError> {
        let spki = SubjectPublicKeyInfoRef::from_der(der)
            .map_err(|_| KeyError::Malformed("SubjectPublicKeyInfo"))?;
        if spki.algorithm.oid == OID_RSA_ENCRYPTION {
            aws_lc_rs::signature::UnparsedPublicKey::new(
                &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256,
                der,
            )
            .parse()
            .map_err(|_| KeyError::Malformed("RSA public key (2048 to 8192 bits)"))?;
            return Ok(PublicKey {
                key: Verifying::Rsa,
                spki_der: der.to_vec(),
            });
        }
        if spki.algorithm.oid != OID_EC_PUBLIC_KEY {
            return Err(KeyError::NotEc);
        }
        let curve_oid = spki
            .algorithm
            .parameters_oid()
            .map_err(|_| KeyError::Malformed("EC key parameters"))?;
        let bad = |_| KeyError::Malformed("EC public key");
        let (key, spki_der) = match Curve::from_oid(curve_oid)? {
            Curve::P256 => {
                let pk = p256::PublicKey::from_public_key_der(der).map_err(bad)?;
                let doc = pk
                    .to_public_key_der()
                    .map_err(|_| KeyError::Malformed("EC public key"))?;
                (Verifying::P256(pk.into()), doc.as_bytes().to_vec())
            }
            Curve::P384 => {
                let pk = p384::PublicKey::from_public_key_der(der).map_err(bad)?;
                let doc = pk
                    .to_public_key_der()
                    .map_err(|_| KeyError::Malformed("EC public key"))?;
                (Verifying::P384(pk.into()), doc.as_bytes().to_vec())
            }
            Curve::P521 => {
                let pk = p521::PublicKey::from_public_key_der(der).map_err(bad)?;
                let doc = pk
                    .to_public_key_der()
                    .map_err(|_| KeyError::Malformed("EC public key"))?;
                let vk = p521::ecdsa::VerifyingKey::from_affine(*pk.as_affine())
                    .map_err(|_| KeyError::Malformed("EC public key"))?;
                (Verifying::P521(vk), doc.as_bytes().to_vec())
            }
        };
        Ok(PublicKey { key, spki_der })
    }

    /// The key's curve; `None` for an RSA key.
    pub fn curve(&self) -> Option<Curve> {
        match self.key {
            Verifying::P256(_) => Some(Curve::P256),
            Verifying::P384(_) => Some(Curve::P384),
            Verifying::P521(_) => Some(Curve::P521),
            Verifying::Rsa => None,
        }
    }

    /// The hash the key signs digests under: the curve's, SHA-256 for RSA (as cosign).
    pub fn hash(&self) -> HashAlgorithm {
        self.curve().map_or(HashAlgorithm::Sha256, Curve::hash)
    }

    /// `P-256`, `P-384`, `P-521` or `RSA`.
    pub fn algorithm_name(&self) -> &'static str {
        self.curve().map_or("RSA", Curve::name)
    }

    pub fn spki_der(&self) -> &[u8] {
        &self.spki_der
    }

    /// The canonical PEM: 64 columns, trailing newline (as openssl and Python `cryptography` write).
    pub fn to_pem(&self) -> String {
        pem::encode("PUBLIC KEY", &self.spki_der)
    }

    /// model_signing's `publicKey.hint`: lowercase hex SHA-256 of the canonical PEM text.
    pub fn oms_hint(&self) -> String {
        HashAlgorithm::Sha256
            .digest(self.to_pem().as_bytes())
            .to_hex()
    }

    /// cosign's `publicKey.hint`: standard base64 of SHA-256 over the SPKI DER.
    pub fn cosign_hint(&self) -> String {
        base64::engine::general_purpose::STANDARD
            .encode(HashAlgorithm::Sha256.digest(&self.spki_der).as_bytes())
    }

    /// Verifies a DER ECDSA signature over `prehash`, the digest under `self.hash()`.
    pub fn verify_prehash(&self, prehash: &[u8], der_signature: &[u8]) -> Result<(), SignError> {
        match &self.key {
            Verifying::P256(vk) => {
                let sig = p256::ecdsa::Signature::from_der(der_signature)
                    .map_err(|_| SignError::MalformedSignature)?;
                vk.verify_prehash(prehash, &sig)
            }
            Verifying::P384(vk) => {
                let sig = p384::ecdsa::Signature::from_der(der_signature)
                    .map_err(|_| SignError::MalformedSignature)?;
                vk.verify_prehash(prehash, &sig)
            }
            Verifying::P521(vk) => {
                let sig = p521::ecdsa::Signature::from_der(der_signature)
                    .map_err(|_| SignError::MalformedSignature)?;
                vk.verify_prehash(prehash, &sig)
            }
            Verifying::Rsa => {
                let digest = aws_lc_rs::digest::Digest::import_less_safe(
                    prehash,
                    &aws_lc_rs::digest::SHA256,
                )
                .map_err(|_| SignError::Mismatch)?;
                return aws_lc_rs::signature::UnparsedPublicKey::new(
                    &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256,
                    &self.spki_der,
                )
                .verify_digest(&digest, der_signature)
                .map_err(|_| SignError::Mismatch);
            }
        }
        .map_err(|_| SignError::Mismatch)
    }

    /// Verifies a signature over a digest of any algorithm: ECDSA over its bytes (truncated or
    /// padded to the curve, as ECDSA defines), RSA PKCS#1 v1.5 under its algorithm. A digest
    /// the signature was not made over fails, whatever the key's own hash.
    pub fn verify_digest(&self, digest: &Digest, signature: &[u8]) -> Result<(), SignError> {
        match &self.key {
            Verifying::Rsa => {
                let (alg, params) = match digest.algorithm() {
                    HashAlgorithm::Sha256 => (
                        &aws_lc_rs::digest::SHA256,
                        &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256,
                    ),
                    HashAlgorithm::Sha384 => (
                        &aws_lc_rs::digest::SHA384,
                        &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA384,
                    ),
                    HashAlgorithm::Sha512 => (
                        &aws_lc_rs::digest::SHA512,
                        &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA512,
                    ),
                    _ => return Err(SignError::Mismatch),
                };
                let d = aws_lc_rs::digest::Digest::import_less_safe(digest.as_bytes(), alg)
                    .map_err(|_| SignError::Mismatch)?;
                aws_lc_rs::signature::UnparsedPublicKey::new(params, &self.spki_der)
                    .verify_digest(&d, signature)
                    .map_err(|_| SignError::Mismatch)
            }
            _ => self.verify_prehash(digest.as_bytes(), signature),
        }
    }

    /// Verifies a DER ECDSA signature over `message`, hashing it with the curve's hash.
    pub fn verify_message(&self, message: &[u8], der_signature: &[u8]) -> Result<(), SignError> {
        let prehash = self.hash().digest(message);
        self.verify_prehash(prehash.as_bytes(), der_signature)
    }
}

/// Something that signs: a key file in memory, or a key that never leaves a KMS.
pub trait Signer {
    fn public_key(&self) -> &PublicKey;

    /// Signs `prehash` (the digest under `public_key().hash()`), returning DER.
    fn sign_prehash(&self, prehash: &[u8]) -> Result<Vec<u8>, SignError>;

    /// Hashes `message` with the curve's hash and signs the digest.
    fn sign_message(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        let prehash = self.public_key().hash().digest(message);
        self.sign_prehash(prehash.as_bytes())
    }

    /// The certificate chain (DER, leaf first) a bundle names this signer by, if it has one
    /// (see [`crate::certificate::Certified`]); bare keys are named by their hint.
    fn certificates(&self) -> Option<&[Vec<u8>]> {
        None
    }

    /// True for an ephemeral key certified by Fulcio (its bundle carries the leaf alone).
    fn is_keyless(&self) -> bool {
        false
    }
}

#[derive(Clone)]
enum Signing {
    P256(p256::ecdsa::SigningKey),
    P384(p384::ecdsa::SigningKey),
    P521(p521::ecdsa::SigningKey),
}

/// An ECDSA private key held in memory. Its bytes are zeroed on drop by the curve crates.
#[derive(Clone)]
pub struct PrivateKey {
    key: Signing,
    public: PublicKey,
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "PrivateKey({}, [redacted])",
            self.public.algorithm_name()
        )
    }
}

impl PrivateKey {
    /// A fresh random key.
    pub fn generate(curve: Curve, rng: &mut impl CryptoRngCore) -> Self {
        let key = match curve {
            Curve::P256 => Signing::P256(p256::ecdsa::SigningKey::random(rng)),
            Curve::P384 => Signing::P384(p384::ecdsa::SigningKey::random(rng)),
            Curve::P521 => Signing::P521(p521::ecdsa::SigningKey::random(rng)),
        };
        Self::from_signing(key)
    }

    fn from_signing(key: Signing) -> Self {
        let pk_der = match &key {
            Signing::P256(k) => p256::PublicKey::from(k.verifying_key()).to_public_key_der(),
            Signing::P384(k) => p384::PublicKey::from(k.verifying_key()).to_public_key_der(),
            Signing::P521(k) => {
                p521::PublicKey::from_affine(*p521::ecdsa::VerifyingKey::from(k).as_affine())
                    .map_err(|_| p256::pkcs8::spki::Error::KeyMalformed)
                    .and_then(|pk| pk.to_public_key_der())
            }
        };
        let public = pk_der
            .ok()
            .and_then(|doc| PublicKey::from_spki_der(doc.as_bytes()).ok());
        match public {
            Some(public) => PrivateKey { key, public },
            // The public half of a valid scalar always encodes; this arm is unreachable.
            None => unreachable_key(),
        }
    }

    /// Reads PKCS#8 `PrivateKeyInfo` DER.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, KeyError> {
        let info = PrivateKeyInfo::from_der(der).map_err(|_| KeyError::Malformed("PKCS#8 key"))?;
        if info.algorithm.oid != OID_EC_PUBLIC_KEY {
            return Err(KeyError::NotEc);
        }
        let oid = info
            .algorithm
            .parameters_oid()
            .map_err(|_| KeyError::Malformed("EC key parameters"))?;
        let bad = |_| KeyError::Malformed("PKCS#8 EC key");
        let key = match Curve::from_oid(oid)? {
            Curve::P256 => {
                Signing::P256(p256::ecdsa::SigningKey::from_pkcs8_der(der).map_err(bad)?)
            }
            Curve::P384 => {
                Signing::P384(p384::ecdsa::SigningKey::from_pkcs8_der(der).map_err(bad)?)
            }
            Curve::P521 => {
                let sk = p521::SecretKey::from_pkcs8_der(der).map_err(bad)?;
                Signing::P521(
                    p521::ecdsa::SigningKey::from_bytes(&sk.to_bytes())
                        .map_err(|_| KeyError::Malformed("PKCS#8 EC key"))?,
                )
            }
        };
        Ok(Self::from_signing(key))
    }

    /// Reads SEC1 `ECPrivateKey` DER (openssl's `EC PRIVATE KEY`). The curve must be named.
    pub fn from_sec1_der(der: &[u8]) -> Result<Self, KeyError> {
        let parsed =
            sec1::EcPrivateKey::from_der(der).map_err(|_| KeyError::Malformed("SEC1 EC key"))?;
        let oid = parsed
            .parameters
            .and_then(|p| p.named_curve())
            .ok_or(KeyError::Malformed("SEC1 EC key without a named curve"))?;
        let bad = |_| KeyError::Malformed("SEC1 EC key");
        let key = match Curve::from_oid(oid)? {
            Curve::P256 => Signing::P256(p256::SecretKey::from_sec1_der(der).map_err(bad)?.into()),
            Curve::P384 => Signing::P384(p384::SecretKey::from_sec1_der(der).map_err(bad)?.into()),
            Curve::P521 => {
                let sk = p521::SecretKey::from_sec1_der(der).map_err(bad)?;
                Signing::P521(
                    p521::ecdsa::SigningKey::from_bytes(&sk.to_bytes())
                        .map_err(|_| KeyError::Malformed("SEC1 EC key"))?,
                )
            }
        };
        Ok(Self::from_signing(key))
    }

    /// PKCS#8 DER of this key, zeroed when dropped.
    pub fn to_pkcs8_der(&self) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        let doc = match &self.key {
            Signing::P256(k) => k.to_pkcs8_der(),
            Signing::P384(k) => k.to_pkcs8_der(),
            Signing::P521(k) => p521::SecretKey::from_bytes(&k.to_bytes())
                .map_err(|_| p256::pkcs8::Error::KeyMalformed)
                .and_then(|sk| sk.to_pkcs8_der()),
        }
        .map_err(|_| KeyError::Malformed("private key encoding"))?;
        Ok(Zeroizing::new(doc.as_bytes().to_vec()))
    }

    /// Unencrypted PKCS#8 PEM (`PRIVATE KEY`).
    pub fn to_pkcs8_pem(&self) -> Result<Zeroizing<String>, KeyError> {
        Ok(Zeroizing::new(pem::encode(
            "PRIVATE KEY",
            &self.to_pkcs8_der()?,
        )))
    }
}

/// Marks an arm that valid curve arithmetic never reaches, without panicking in library code.
#[allow(
    clippy::panic,
    reason = "the one place the kernel may panic: an arm valid curve arithmetic never reaches"
)]
fn unreachable_key() -> ! {
    // Invariant: the public key derived from a valid private scalar always encodes as SPKI
    // and parses back; reaching this means a bug in the curve crates.
    panic!("invariant broken: a valid EC private key has no encodable public key")
}

impl Signer for PrivateKey {
    fn public_key(&self) -> &PublicKey {
        &self.public
    }

    fn sign_prehash(&self, prehash: &[u8]) -> Result<Vec<u8>, SignError> {
        let der = match &self.key {
            Signing::P256(k) => {
                let s: p256::ecdsa::Signature = k
                    .sign_prehash(prehash)
                    .map_err(|e| SignError::Backend(e.to_string()))?;
                s.to_der().as_bytes().to_vec()
            }
            Signing::P384(k) => {
                let s: p384::ecdsa::Signature = k
                    .sign_prehash(prehash)
                    .map_err(|e| SignError::Backend(e.to_string()))?;
                s.to_der().as_bytes().to_vec()
            }
            Signing::P521(k) => {
                let s: p521::ecdsa::Signature = k
                    .sign_prehash(prehash)
                    .map_err(|e| SignError::Backend(e.to_string()))?;
                s.to_der().as_bytes().to_vec()
            }
        };
        Ok(der)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::OsRng;

    #[test]
    fn sign_verify_every_curve() {
        for curve in [Curve::P256, Curve::P384, Curve::P521] {
            let key = PrivateKey::generate(curve, &mut OsRng);
            let sig = key.sign_message(b"hello").unwrap();
            key.public_key().verify_message(b"hello", &sig).unwrap();
            assert_eq!(
                key.public_key().verify_message(b"hellp", &sig),
                Err(SignError::Mismatch)
            );
            let pem = key.public_key().to_pem();
            assert_eq!(
                PublicKey::from_pem(pem.as_bytes()).unwrap(),
                *key.public_key()
            );
            let der = key.to_pkcs8_der().unwrap();
            let back = PrivateKey::from_pkcs8_der(&der).unwrap();
            assert_eq!(back.public_key(), key.public_key());
        }
    }

    #[test]
    fn garbage_signature_is_malformed() {
        let key = PrivateKey::generate(Curve::P256, &mut OsRng);
        assert_eq!(
            key.public_key().verify_message(b"x", b"\x30\x00"),
            Err(SignError::MalformedSignature)
        );
    }

    #[test]
    fn private_key_is_not_a_public_key() {
        let key = PrivateKey::generate(Curve::P256, &mut OsRng);
        let pem = key.to_pkcs8_pem().unwrap();
        assert!(matches!(
            PublicKey::from_pem(pem.as_bytes()),
            Err(KeyError::WrongKind { .. })
        ));
    }
}
