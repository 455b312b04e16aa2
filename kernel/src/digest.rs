//! Hash algorithms and running hashers, used both for file contents and for signature prehashes.

use std::fmt;

use sha2::Digest as _;

/// A hash algorithm the kernel knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HashAlgorithm {
    Sha256,
    Sha384,
    Sha512,
    /// BLAKE2b with a 64-byte digest (Python's `hashlib.blake2b()` default).
    Blake2b,
    Blake3,
}

impl HashAlgorithm {
    /// The name model_signing records in `hash_type` and in per-file `algorithm`.
    pub fn oms_name(self) -> &'static str {
        match self {
            HashAlgorithm::Sha256 => "sha256",
            HashAlgorithm::Sha384 => "sha384",
            HashAlgorithm::Sha512 => "sha512",
            HashAlgorithm::Blake2b => "blake2b",
            HashAlgorithm::Blake3 => "blake3",
        }
    }

    /// Parses a model_signing `hash_type`. Only the file hashes OMS v1.0 allows are accepted.
    pub fn from_oms_name(name: &str) -> Option<Self> {
        match name {
            "sha256" => Some(HashAlgorithm::Sha256),
            "blake2b" => Some(HashAlgorithm::Blake2b),
            "blake3" => Some(HashAlgorithm::Blake3),
            _ => None,
        }
    }

    /// The Sigstore protobuf `HashAlgorithm` name used in `messageDigest.algorithm`.
    pub fn sigstore_name(self) -> Option<&'static str> {
        match self {
            HashAlgorithm::Sha256 => Some("SHA2_256"),
            HashAlgorithm::Sha384 => Some("SHA2_384"),
            HashAlgorithm::Sha512 => Some("SHA2_512"),
            HashAlgorithm::Blake2b | HashAlgorithm::Blake3 => None,
        }
    }

    pub fn from_sigstore_name(name: &str) -> Option<Self> {
        match name {
            "SHA2_256" => Some(HashAlgorithm::Sha256),
            "SHA2_384" => Some(HashAlgorithm::Sha384),
            "SHA2_512" => Some(HashAlgorithm::Sha512),
            _ => None,
        }
    }

    /// The lowercase SHA-2 names Rekor and in-toto use (`sha256`, `sha384`, `sha512`).
    pub fn from_sha2_name(name: &str) -> Option<Self> {
        match name {
            "sha256" => Some(HashAlgorithm::Sha256),
            "sha384" => Some(HashAlgorithm::Sha384),
            "sha512" => Some(HashAlgorithm::Sha512),
            _ => None,
        }
    }

    /// Digest length in bytes.
    pub fn output_len(self) -> usize {
        match self {
            HashAlgorithm::Sha256 | HashAlgorithm::Blake3 => 32,
            HashAlgorithm::Sha384 => 48,
            HashAlgorithm::Sha512 | HashAlgorithm::Blake2b => 64,
        }
    }

    pub fn hasher(self) -> Hasher {
        Hasher::new(self)
    }

    /// Hashes `data` in one call.
    pub fn digest(self, data: &[u8]) -> Digest {
        let mut h = self.hasher();
        h.update(data);
        h.finalize()
    }
}

impl fmt::Display for HashAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.oms_name())
    }
}

/// A running hash. Feed it with [`Hasher::update`] as bytes arrive; the kernel never reads them itself.
#[derive(Clone)]
pub enum Hasher {
    Sha256(sha2::Sha256),
    Sha384(sha2::Sha384),
    Sha512(sha2::Sha512),
    Blake2b(Box<blake2::Blake2b512>),
    Blake3(Box<blake3::Hasher>),
}

impl Hasher {
    pub fn new(algorithm: HashAlgorithm) -> Self {
        match algorithm {
            HashAlgorithm::Sha256 => Hasher::Sha256(sha2::Sha256::new()),
            HashAlgorithm::Sha384 => Hasher::Sha384(sha2::Sha384::new()),
            HashAlgorithm::Sha512 => Hasher::Sha512(sha2::Sha512::new()),
            HashAlgorithm::Blake2b => Hasher::Blake2b(Box::default()),
            HashAlgorithm::Blake3 => Hasher::Blake3(Box::default()),
        }
    }

    pub fn algorithm(&self) -> HashAlgorithm {
        match self {
            Hasher::Sha256(_) => HashAlgorithm::Sha256,
            Hasher::Sha384(_) => HashAlgorithm::Sha384,
            Hasher::Sha512(_) => HashAlgorithm::Sha512,
            Hasher::Blake2b(_) => HashAlgorithm::Blake2b,
            Hasher::Blake3(_) => HashAlgorithm::Blake3,
        }
    }

    pub fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(data),
            Hasher::Sha384(h) => h.update(data),
            Hasher::Sha512(h) => h.update(data),
            Hasher::Blake2b(h) => blake2::Digest::update(h.as_mut(), data),
            Hasher::Blake3(h) => {
                h.update(data);
            }
        }
    }

    pub fn finalize(self) -> Digest {
        let algorithm = self.algorithm();
        let bytes = match self {
            Hasher::Sha256(h) => h.finalize().to_vec(),
            Hasher::Sha384(h) => h.finalize().to_vec(),
            Hasher::Sha512(h) => h.finalize().to_vec(),
            Hasher::Blake2b(h) => blake2::Digest::finalize(*h).to_vec(),
            Hasher::Blake3(h) => h.finalize().as_bytes().to_vec(),
        };
        Digest { algorithm, bytes }
    }
}

/// A finished digest: the algorithm and its raw bytes. Displays as lowercase hex.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Digest {
    algorithm: HashAlgorithm,
    bytes: Vec<u8>,
}

impl Digest {
    /// Builds a digest from raw bytes, checking the length fits the algorithm.
    pub fn new(algorithm: HashAlgorithm, bytes: Vec<u8>) -> Option<Self> {
        (bytes.len() == algorithm.output_len()).then_some(Digest { algorithm, bytes })
    }

    /// A SHA-256 pin as KServe's `VERIFICATION_DIGEST` and `verify --digest` take it: 64 hex
    /// digits, optionally `sha256:`-prefixed, either case.
    pub fn parse_pin(text: &str) -> Option<Self> {
        let hex = text.strip_prefix("sha256:").unwrap_or(text);
        Self::from_hex(HashAlgorithm::Sha256, hex)
    }

    /// Parses lowercase or uppercase hex of the right length.
    pub fn from_hex(algorithm: HashAlgorithm, text: &str) -> Option<Self> {
        Digest::new(algorithm, hex::decode(text).ok()?)
    }

    pub fn algorithm(&self) -> HashAlgorithm {
        self.algorithm
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub fn to_hex(&self) -> String {
        hex::encode(&self.bytes)
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm, self.to_hex())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_answers() {
        assert_eq!(
            HashAlgorithm::Sha256.digest(b"").to_hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            HashAlgorithm::Blake3.digest(b"").to_hex(),
            "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
        );
        assert_eq!(HashAlgorithm::Blake2b.digest(b"abc").as_bytes().len(), 64);
        assert!(HashAlgorithm::Blake2b
            .digest(b"abc")
            .to_hex()
            .starts_with("ba80a53f981c4d0d"));
    }

    #[test]
    fn digest_length_is_checked() {
        assert!(Digest::from_hex(HashAlgorithm::Sha256, "00").is_none());
        assert!(Digest::from_hex(HashAlgorithm::Sha256, &"ab".repeat(32)).is_some());
    }
}
