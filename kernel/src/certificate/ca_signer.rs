//! The path of a signing certificate that is itself a CA (basicConstraints cA=TRUE).
//!
//! model_signing's certificate method accepts such a certificate as the signer (pyOpenSSL does
//! not look at the leaf's basic constraints), model-transparency's own test-CA script issues
//! them, and the OMS conformance suite's bundles are signed with them. rustls-webpki refuses a
//! CA as an end entity by design (`CaUsedAsEndEntity`) and offers no way to ask otherwise, so
//! this module builds and checks that one kind of path itself; every other chain stays
//! webpki's ([`crate::certificate`]).
//!
//! It is deliberately narrow and fails closed. Each certificate is parsed by webpki (X.509 v3,
//! no unknown critical extension, the signature algorithm named twice alike) and by x509-cert
//! (validity, basic constraints, key usage); each signature is verified by webpki's algorithms
//! over the exact TBS bytes of the certificate. Every certificate of the path is valid at the
//! verification time; every issuer below the anchor is a CA, within its path length, with
//! keyCertSign when it has a KeyUsage. Name constraints, on an issuer or an anchor, are not
//! evaluated here, so a path through one is refused.

use rustls_pki_types::{CertificateDer, TrustAnchor};
use webpki::EndEntityCert;
use x509_cert::der::asn1::BitStringRef;
use x509_cert::der::{Decode, Header, Reader, SliceReader};
use x509_cert::ext::pkix::{BasicConstraints, KeyUsage, NameConstraints};

/// Issuers between the signing certificate and the anchor, at most.
const MAX_INTERMEDIATES: usize = 6;
/// Signature checks one path search may make (webpki's own budget is 100).
const MAX_SIGNATURES: usize = 64;

const NO_PATH: &str = "no path to a trusted root (a missing intermediate, or another CA)";

/// A certificate as its issuer signed it: the exact TBS bytes, the signature algorithm and
/// the signature, beside the fields the path is judged by.
struct Cert<'a> {
    der: &'a [u8],
    tbs: &'a [u8],
    /// The signature AlgorithmIdentifier's content (webpki's form of an algorithm id).
    algorithm: &'a [u8],
    signature: &'a [u8],
    /// Issuer and subject names and the SubjectPublicKeyInfo, as DER contents (as a
    /// [`TrustAnchor`] keeps them).
    issuer: Vec<u8>,
    subject: Vec<u8>,
    spki: Vec<u8>,
    x509: x509_cert::Certificate,
}

impl<'a> Cert<'a> {
    fn parse(der: &'a [u8]) -> Result<Self, String> {
        let cert = CertificateDer::from(der);
        let webpki = EndEntityCert::try_from(&cert).map_err(|e| super::webpki_reason(&e))?;
        let (tbs, algorithm, signature) = split_certificate(der).map_err(|e| e.to_string())?;
        let spki = webpki.subject_public_key_info();
        Ok(Cert {
            der,
            tbs,
            algorithm: content(algorithm).map_err(|e| e.to_string())?,
            signature,
            issuer: webpki.issuer().to_vec(),
            subject: webpki.subject().to_vec(),
            spki: content(spki.as_ref()).map_err(|e| e.to_string())?.to_vec(),
            x509: x509_cert::Certificate::from_der(der).map_err(|e| e.to_string())?,
        })
    }

    /// Valid at `at` (seconds since the Unix epoch), both ends inclusive as webpki has them.
    fn check_validity(&self, at: u64) -> Result<(), String> {
        let v = &self.x509.tbs_certificate.validity;
        let (from, to) = (
            v.not_before.to_unix_duration().as_secs(),
            v.not_after.to_unix_duration().as_secs(),
        );
        if at < from {
            return Err(format!(
                "a certificate is not valid before {} (verification time {})",
                crate::time::utc(from),
                crate::time::utc(at)
            ));
        }
        if at > to {
            return Err(format!(
                "a certificate expired at {} (verification time {})",
                crate::time::utc(to),
                crate::time::utc(at)
            ));
        }
        Ok(())
    }

    /// What an issuer `below` certificates above the signing certificate must be.
    fn check_issuer(&self, below: usize, at: u64) -> Result<(), String> {
        self.check_validity(at)?;
        let tbs = &self.x509.tbs_certificate;
        let bad = |e: x509_cert::der::Error| format!("invalid DER: {e}");
        match tbs.get::<BasicConstraints>().map_err(bad)? {
            Some((_, bc)) if bc.ca => {
                if bc
                    .path_len_constraint
                    .is_some_and(|n| below > usize::from(n))
                {
                    return Err("a CA's path length constraint is exceeded".into());
                }
            }
            _ => return Err("an intermediate is not a CA certificate".into()),
        }
        if let Some((_, ku)) = tbs.get::<KeyUsage>().map_err(bad)? {
            if !ku.key_cert_sign() {
                return Err("an intermediate's KeyUsage does not allow signing certificates (no keyCertSign)".into());
            }
        }
        if tbs.get::<NameConstraints>().map_err(bad)?.is_some() {
            return Err("an intermediate has name constraints, which are not evaluated for a signing certificate that is a CA".into());
        }
        Ok(())
    }
}

/// Checks a path from `leaf` (a CA certificate used to sign) through any of `intermediates` to
/// one of `anchors`, every certificate valid at `at`. The leaf's own purpose and identity are
/// the caller's to check. The error says why no path was found, as a sentence.
pub(crate) fn verify_path(
    leaf: &[u8],
    intermediates: &[Vec<u8>],
    anchors: &[TrustAnchor<'_>],
    at: u64,
) -> Result<(), String> {
    let leaf = Cert::parse(leaf)?;
    leaf.check_validity(at)?;
    // A certificate that does not parse cannot be on a path; it is not an error by itself,
    // as a stray certificate in a chain is not one for webpki.
    let candidates: Vec<Cert<'_>> = intermediates
        .iter()
        .filter_map(|der| Cert::parse(der).ok())
        .collect();
    let mut search = Search {
        candidates: &candidates,
        anchors,
        at,
        budget: MAX_SIGNATURES,
    };
    search.from(&leaf, &mut vec![leaf.der])
}

struct Search<'c, 'a> {
    candidates: &'c [Cert<'c>],
    anchors: &'a [TrustAnchor<'a>],
    at: u64,
    budget: usize,
}

impl<'c> Search<'c, '_> {
    /// A path from `child` (whose own checks are done) upward; `path` holds the certificates
    /// below, leaf first, so that none is used twice.
    fn from(&mut self, child: &Cert<'_>, path: &mut Vec<&'c [u8]>) -> Result<(), String> {
        let mut why = NO_PATH.to_string();
        for anchor in self.anchors {
            if anchor.subject.as_ref() != child.issuer.as_slice() {
                continue;
            }
            if !self.signed_by(child, anchor.subject_public_key_info.as_ref()) {
                why = "a certificate's signature does not verify with its issuer's key".into();
                continue;
            }
            if anchor.name_constraints.is_some() {
                why = "the trusted root has name constraints, which are not evaluated for a signing certificate that is a CA".into();
                continue;
            }
            return Ok(());
        }
        let below = path.len() - 1;
        if below >= MAX_INTERMEDIATES {
            return Err(why);
        }
        for issuer in self.candidates {
            if issuer.subject != child.issuer || path.contains(&issuer.der) {
                continue;
            }
            if let Err(e) = issuer.check_issuer(below, self.at) {
                why = e;
                continue;
            }
            if !self.signed_by(child, &issuer.spki) {
                why = "a certificate's signature does not verify with its issuer's key".into();
                continue;
            }
            path.push(issuer.der);
            match self.from(issuer, path) {
                Ok(()) => return Ok(()),
                Err(e) => why = e,
            }
            path.pop();
        }
        Err(why)
    }

    /// Whether `child`'s signature verifies with the key in `spki` (SubjectPublicKeyInfo
    /// content), by one of webpki's algorithms for that key and signature algorithm.
    fn signed_by(&mut self, child: &Cert<'_>, spki: &[u8]) -> bool {
        if self.budget == 0 {
            return false;
        }
        self.budget -= 1;
        let Ok((key_algorithm, key)) = split_spki(spki) else {
            return false;
        };
        webpki::ALL_VERIFICATION_ALGS.iter().any(|alg| {
            alg.public_key_alg_id().as_ref() == key_algorithm
                && alg.signature_alg_id().as_ref() == child.algorithm
                && alg
                    .verify_signature(key, child.tbs, child.signature)
                    .is_ok()
        })
    }
}

/// `Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue }`: the exact
/// TBS bytes, the AlgorithmIdentifier as encoded, and the signature's bytes.
fn split_certificate(der: &[u8]) -> x509_cert::der::Result<(&[u8], &[u8], &[u8])> {
    let mut reader = SliceReader::new(der)?;
    let parts = reader.sequence(|r| {
        let tbs = r.tlv_bytes()?;
        let algorithm = r.tlv_bytes()?;
        let signature = BitStringRef::decode(r)?;
        let signature = signature.as_bytes().ok_or_else(|| {
            r.error(x509_cert::der::ErrorKind::Noncanonical {
                tag: x509_cert::der::Tag::BitString,
            })
        })?;
        Ok((tbs, algorithm, signature))
    })?;
    reader.finish(parts)
}

/// A SubjectPublicKeyInfo's content: its AlgorithmIdentifier's content and the key's bytes.
fn split_spki(spki: &[u8]) -> x509_cert::der::Result<(&[u8], &[u8])> {
    let mut reader = SliceReader::new(spki)?;
    let algorithm = content(reader.tlv_bytes()?)?;
    let key = BitStringRef::decode(&mut reader)?;
    let key = key.as_bytes().ok_or_else(|| {
        reader.error(x509_cert::der::ErrorKind::Noncanonical {
            tag: x509_cert::der::Tag::BitString,
        })
    })?;
    reader.finish((algorithm, key))
}

/// The content of one DER TLV (its value without tag and length).
fn content(tlv: &[u8]) -> x509_cert::der::Result<&[u8]> {
    let mut reader = SliceReader::new(tlv)?;
    let header = Header::decode(&mut reader)?;
    let value = reader.read_slice(header.length)?;
    reader.finish(value)
}
