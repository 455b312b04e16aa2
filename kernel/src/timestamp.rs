//! RFC 3161 timestamps in a bundle (`timestampVerificationData.rfc3161Timestamps[]`): a time
//! stamping authority's signed statement that the bundle's signature existed at `genTime`.
//!
//! CMS (`cms`) and TSTInfo (`x509-tsp`) are RustCrypto's parsers; the TSA certificate path is
//! rustls-webpki's, checked at the stamped time against a timestamp authority of the trusted root
//! valid then, for the timeStamping purpose.

use std::fmt;

use cms::content_info::ContentInfo;
use cms::signed_data::{SignedData, SignerIdentifier};
use x509_cert::der::asn1::{ObjectIdentifier, OctetString};
use x509_cert::der::{Decode, Encode};
use x509_tsp::{TimeStampResp, TstInfo};

use crate::digest::HashAlgorithm;
use crate::keys::PublicKey;
use crate::trusted_root::TrustedRoot;

const ID_SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
const ID_CT_TSTINFO: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.1.4");
const ID_CONTENT_TYPE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
const ID_MESSAGE_DIGEST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");
/// id-kp-timeStamping, DER body.
const TIME_STAMPING: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x08];

/// Why a timestamp does not vouch for the signing time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimestampError {
    Malformed(String),
    /// The stamped digest is not the digest of the bundle's signature.
    Imprint,
    /// The CMS signature does not verify with the TSA certificate.
    Signature,
    /// No timestamp authority of the trusted root, valid at the stamped time, issued the signer.
    Authority {
        time: u64,
        why: String,
    },
}

impl fmt::Display for TimestampError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TimestampError::Malformed(e) => write!(f, "malformed: {e}"),
            TimestampError::Imprint => f.write_str("its message imprint is not the digest of the bundle's signature"),
            TimestampError::Signature => f.write_str("its signature does not verify with the time stamping authority's certificate"),
            TimestampError::Authority { time, why } => write!(
                f,
                "timestamp outside the TSA certificate's validity, or from an authority the trusted root does not hold at {}: {why}",
                crate::time::utc(*time)
            ),
        }
    }
}

impl std::error::Error for TimestampError {}

fn malformed(e: impl fmt::Display) -> TimestampError {
    TimestampError::Malformed(e.to_string())
}

fn hash_of(oid: &ObjectIdentifier) -> Option<HashAlgorithm> {
    match oid.to_string().as_str() {
        "2.16.840.1.101.3.4.2.1" | "1.2.840.10045.4.3.2" => Some(HashAlgorithm::Sha256),
        "2.16.840.1.101.3.4.2.2" | "1.2.840.10045.4.3.3" => Some(HashAlgorithm::Sha384),
        "2.16.840.1.101.3.4.2.3" | "1.2.840.10045.4.3.4" => Some(HashAlgorithm::Sha512),
        _ => None,
    }
}

/// The token inside: a bare TimeStampToken (ContentInfo), or a whole TimeStampResp (what
/// sigstore-python and cosign store).
fn token(der: &[u8]) -> Result<ContentInfo, TimestampError> {
    if let Ok(ci) = ContentInfo::from_der(der) {
        return Ok(ci);
    }
    let resp = TimeStampResp::from_der(der).map_err(malformed)?;
    resp.time_stamp_token
        .ok_or_else(|| malformed("the response holds no token"))
}

/// Step 1: the CMS SignedData of a token (or of a whole response) and the TSTInfo it signs.
fn signed_tst_info(der: &[u8]) -> Result<(SignedData, TstInfo, Vec<u8>), TimestampError> {
    let ci = token(der)?;
    if ci.content_type != ID_SIGNED_DATA {
        return Err(malformed("not a CMS SignedData"));
    }
    let sd: SignedData = ci.content.decode_as().map_err(malformed)?;
    if sd.encap_content_info.econtent_type != ID_CT_TSTINFO {
        return Err(malformed("the content is not a TSTInfo"));
    }
    let econtent = sd
        .encap_content_info
        .econtent
        .as_ref()
        .ok_or_else(|| malformed("no TSTInfo"))?;
    let tst_der = OctetString::from_der(&econtent.to_der().map_err(malformed)?)
        .map_err(malformed)?
        .into_bytes();
    let tst = TstInfo::from_der(&tst_der).map_err(malformed)?;
    Ok((sd, tst, tst_der))
}

/// The nonce a token's TSTInfo carries, as big-endian bytes without leading zeros (a signer
/// checks it is the one it sent before storing the token).
pub fn nonce(der: &[u8]) -> Result<Option<Vec<u8>>, TimestampError> {
    let (_, tst, _) = signed_tst_info(der)?;
    Ok(tst.nonce.map(|n| {
        let b = n.as_bytes();
        let first = b.iter().position(|&x| x != 0).unwrap_or(b.len());
        b[first..].to_vec()
    }))
}

/// Verifies one timestamp over `signature` against `root`; returns the stamped time.
pub fn verify(der: &[u8], signature: &[u8], root: &TrustedRoot) -> Result<u64, TimestampError> {
    // 1. CMS SignedData around a TSTInfo.
    let (sd, tst, tst_der) = signed_tst_info(der)?;

    // 2. The imprint is the digest of the bundle's signature.
    let imprint_alg = hash_of(&tst.message_imprint.hash_algorithm.oid)
        .ok_or_else(|| malformed("unsupported imprint hash"))?;
    if imprint_alg.digest(signature).as_bytes() != tst.message_imprint.hashed_message.as_bytes() {
        return Err(TimestampError::Imprint);
    }
    let time = tst.gen_time.to_unix_duration().as_secs();
    // 3. One signer, with signed attributes binding the TSTInfo.
    let [signer] = sd.signer_infos.0.as_slice() else {
        return Err(malformed("a timestamp has exactly one signer"));
    };
    let attrs = signer
        .signed_attrs
        .as_ref()
        .ok_or_else(|| malformed("no signed attributes"))?;
    let digest_alg =
        hash_of(&signer.digest_alg.oid).ok_or_else(|| malformed("unsupported digest"))?;
    let attr = |oid: ObjectIdentifier| {
        attrs
            .iter()
            .find(|a| a.oid == oid)
            .and_then(|a| a.values.iter().next())
            .ok_or_else(|| malformed("a required signed attribute is missing"))
    };
    let content_type: ObjectIdentifier = attr(ID_CONTENT_TYPE)?.decode_as().map_err(malformed)?;
    if content_type != ID_CT_TSTINFO {
        return Err(malformed("the content-type attribute is not TSTInfo"));
    }
    let md: OctetString = attr(ID_MESSAGE_DIGEST)?.decode_as().map_err(malformed)?;
    if md.as_bytes() != digest_alg.digest(&tst_der).as_bytes() {
        return Err(malformed(
            "the message-digest attribute is not the TSTInfo's digest",
        ));
    }
    let signed_attrs = attrs.to_der().map_err(malformed)?;
    // 4. The signer's certificate: embedded, or the leaf of a timestamp authority.
    let mut candidates: Vec<Vec<u8>> = Vec::new();
    for c in sd.certificates.iter().flat_map(|set| set.0.iter()) {
        if let cms::cert::CertificateChoices::Certificate(cert) = c {
            candidates.push(cert.to_der().map_err(malformed)?);
        }
    }
    candidates.extend(
        root.timestamp_authorities
            .iter()
            .filter_map(|a| a.chain.first().cloned()),
    );
    let sid_matches = |der: &[u8]| -> bool {
        let Ok(cert) = x509_cert::Certificate::from_der(der) else {
            return false;
        };
        match &signer.sid {
            SignerIdentifier::IssuerAndSerialNumber(is) => {
                is.issuer == cert.tbs_certificate.issuer
                    && is.serial_number == cert.tbs_certificate.serial_number
            }
            SignerIdentifier::SubjectKeyIdentifier(ski) => cert
                .tbs_certificate
                .get::<x509_cert::ext::pkix::SubjectKeyIdentifier>()
                .ok()
                .flatten()
                .is_some_and(|(_, s)| s == *ski),
        }
    };
    let mut why = "no certificate for the signer".to_string();
    for leaf in candidates.iter().filter(|c| sid_matches(c)) {
        // 5. The certificate chains to an authority of the root valid at the stamped time...
        if let Err(e) = crate::certificate::chain_to_authority(
            leaf,
            &root.timestamp_authorities,
            time,
            TIME_STAMPING,
        ) {
            why = e;
            continue;
        }
        // 6. ...and its key made the signature over the signed attributes.
        let cert = x509_cert::Certificate::from_der(leaf).map_err(malformed)?;
        let spki = &cert.tbs_certificate.subject_public_key_info;
        let sig = signer.signature.as_bytes();
        let ok = match signer.signature_algorithm.oid.to_string().as_str() {
            // ecdsa-with-SHA256/384/512, or id-ecPublicKey with the digest algorithm's hash.
            "1.2.840.10045.4.3.2"
            | "1.2.840.10045.4.3.3"
            | "1.2.840.10045.4.3.4"
            | "1.2.840.10045.2.1" => {
                let hash = hash_of(&signer.signature_algorithm.oid).unwrap_or(digest_alg);
                let key = PublicKey::from_spki_der(&spki.to_der().map_err(malformed)?)
                    .map_err(malformed)?;
                key.verify_prehash(hash.digest(&signed_attrs).as_bytes(), sig)
                    .is_ok()
            }
            // rsaEncryption or sha{256,384,512}WithRSAEncryption: PKCS#1 v1.5 with the digest's hash.
            "1.2.840.113549.1.1.1"
            | "1.2.840.113549.1.1.11"
            | "1.2.840.113549.1.1.12"
            | "1.2.840.113549.1.1.13" => {
                use aws_lc_rs::signature as s;
                let alg: &s::RsaParameters = match digest_alg {
                    HashAlgorithm::Sha256 => &s::RSA_PKCS1_2048_8192_SHA256,
                    HashAlgorithm::Sha384 => &s::RSA_PKCS1_2048_8192_SHA384,
                    HashAlgorithm::Sha512 => &s::RSA_PKCS1_2048_8192_SHA512,
                    _ => return Err(malformed("unsupported digest")),
                };
                let raw = spki.subject_public_key.raw_bytes();
                s::UnparsedPublicKey::new(alg, raw)
                    .verify(&signed_attrs, sig)
                    .is_ok()
            }
            other => {
                return Err(malformed(format!(
                    "unsupported signature algorithm {other}"
                )))
            }
        };
        if !ok {
            return Err(TimestampError::Signature);
        }
        return Ok(time);
    }
    Err(TimestampError::Authority { time, why })
}
