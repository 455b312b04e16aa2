//! Sigstore keyless certificates: a Fulcio leaf chained to a certificate authority of the
//! trusted root at the signing time, its embedded SCTs checked against the root's CT logs, and
//! the identity (subject alternative name) and OIDC issuer (Fulcio's extensions) it names.

use std::fmt;

use rustls_pki_types::CertificateDer;
use sha2::{Digest as _, Sha256};
use x509_cert::der::asn1::{ObjectIdentifier, OctetString, Utf8StringRef};
use x509_cert::der::{Decode, Encode};
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::SubjectAltName;

use crate::keys::PublicKey;
use crate::trusted_root::TrustedRoot;

/// Fulcio's OIDC issuer extension, v1 (raw string) and v2 (DER UTF8String).
const ISSUER_V1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.1");
const ISSUER_V2: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.8");
/// Fulcio's otherName SAN for username identities.
const USERNAME_SAN: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.7");
/// RFC 6962 embedded SCT list.
const SCT_LIST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.11129.2.4.2");
/// id-kp-codeSigning, DER body, as webpki wants it.
const CODE_SIGNING: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x03];

/// How a certificate identity or issuer is matched.
#[derive(Debug, Clone)]
pub enum Matcher {
    Exact(String),
    /// A regular expression that must match the whole value (cosign's searches unanchored,
    /// so `org/repo` would match `evil-org/repo-x`; we do not).
    Regex(regex_lite::Regex),
}

impl Matcher {
    /// `pattern` anchored at both ends.
    pub fn regex(pattern: &str) -> Result<Self, String> {
        regex_lite::Regex::new(&format!("^(?:{pattern})$"))
            .map(Matcher::Regex)
            .map_err(|e| format!("'{pattern}' is not a regular expression: {e}"))
    }

    /// From a pair of settings (cosign's `--x` / `--x-regexp`): the exact value if given, else
    /// the regexp, else `None`. The error is the regexp's.
    pub fn either(exact: Option<&str>, regexp: Option<&str>) -> Result<Option<Self>, String> {
        match (exact, regexp) {
            (Some(e), _) => Ok(Some(Matcher::Exact(e.to_string()))),
            (None, Some(r)) => Matcher::regex(r).map(Some),
            (None, None) => Ok(None),
        }
    }

    pub fn matches(&self, value: &str) -> bool {
        match self {
            Matcher::Exact(s) => s == value,
            Matcher::Regex(r) => r.is_match(value),
        }
    }
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Matcher::Exact(s) => write!(f, "'{s}'"),
            Matcher::Regex(r) => {
                let p = r.as_str();
                let inner = p
                    .strip_prefix("^(?:")
                    .and_then(|p| p.strip_suffix(")$"))
                    .unwrap_or(p);
                write!(f, "/{inner}/")
            }
        }
    }
}

/// Why a keyless certificate is not trusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FulcioError {
    Malformed(String),
    /// The bundle carries a root certificate (roots come only from the trusted root).
    RootInBundle,
    /// No certificate authority of the trusted root issued the leaf, valid at the time.
    Chain {
        time: u64,
        why: String,
    },
    /// The leaf was not valid at the signing time.
    OutsideValidity {
        time: u64,
        not_before: u64,
        not_after: u64,
    },
    Sct(String),
    Identity {
        wanted: String,
        found: Vec<String>,
    },
    Issuer {
        wanted: String,
        found: Option<String>,
    },
    /// Fulcio's two OIDC issuer extensions (1.3.6.1.4.1.57264.1.1 and .1.8) name different
    /// issuers: clients that read one or the other would disagree about the signer.
    IssuersDisagree {
        v1: String,
        v2: String,
    },
}

impl fmt::Display for FulcioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use crate::time::utc;
        match self {
            FulcioError::Malformed(e) => write!(f, "the signing certificate is malformed: {e}"),
            FulcioError::RootInBundle => f.write_str("the bundle's certificate chain holds a root certificate; roots come only from the trusted root"),
            FulcioError::Chain { time, why } => write!(f, "the signing certificate does not chain to a certificate authority of the trusted root at {}: {why}", utc(*time)),
            FulcioError::OutsideValidity { time, not_before, not_after } => write!(
                f,
                "the signing time {} is outside the signing certificate's validity ({} to {})",
                utc(*time), utc(*not_before), utc(*not_after)
            ),
            FulcioError::Sct(why) => write!(f, "certificate transparency: {why}"),
            FulcioError::Identity { wanted, found } => write!(
                f,
                "certificate identity {wanted} does not match '{}'",
                found.join("', '")
            ),
            FulcioError::Issuer { wanted, found: Some(found) } => {
                write!(f, "certificate OIDC issuer {wanted} does not match '{found}'")
            }
            FulcioError::Issuer { wanted, found: None } => {
                write!(f, "certificate OIDC issuer {wanted} does not match: the certificate names no issuer")
            }
            FulcioError::IssuersDisagree { v1, v2 } => write!(
                f,
                "the signing certificate's two OIDC issuer extensions disagree ('{v1}' in 1.3.6.1.4.1.57264.1.1, '{v2}' in .1.8)"
            ),
        }
    }
}

impl std::error::Error for FulcioError {}

/// A parsed Fulcio leaf.
pub struct Leaf {
    pub der: Vec<u8>,
    cert: x509_cert::Certificate,
    pub key: PublicKey,
    pub not_before: u64,
    pub not_after: u64,
    /// Subject alternative names: URIs, emails, DNS names, Fulcio username otherNames.
    pub identities: Vec<String>,
    pub issuer: Option<String>,
}

fn malformed(e: impl fmt::Display) -> FulcioError {
    FulcioError::Malformed(e.to_string())
}

impl Leaf {
    pub fn parse(der: &[u8]) -> Result<Self, FulcioError> {
        let cert = x509_cert::Certificate::from_der(der).map_err(malformed)?;
        let tbs = &cert.tbs_certificate;
        let spki = tbs.subject_public_key_info.to_der().map_err(malformed)?;
        let key = PublicKey::from_spki_der(&spki).map_err(malformed)?;
        let identities = match tbs.get::<SubjectAltName>().map_err(malformed)? {
            None => Vec::new(),
            Some((_, san)) => san
                .0
                .iter()
                .filter_map(|n| match n {
                    GeneralName::Rfc822Name(s) => Some(s.to_string()),
                    GeneralName::UniformResourceIdentifier(s) => Some(s.to_string()),
                    GeneralName::DnsName(s) => Some(s.to_string()),
                    // Fulcio's username identities: otherName of type 1.3.6.1.4.1.57264.1.7,
                    // a UTF8String (cosign matches it as the certificate identity).
                    GeneralName::OtherName(o) if o.type_id == USERNAME_SAN => o
                        .value
                        .decode_as::<Utf8StringRef<'_>>()
                        .ok()
                        .map(|u| u.as_str().to_string()),
                    _ => None,
                })
                .collect(),
        };
        let ext = |oid: ObjectIdentifier| {
            tbs.extensions
                .iter()
                .flatten()
                .find(|e| e.extn_id == oid)
                .map(|e| e.extn_value.as_bytes().to_vec())
        };
        let v2 = ext(ISSUER_V2)
            .map(|v2| {
                Utf8StringRef::from_der(&v2)
                    .map(|s| s.as_str().to_string())
                    .map_err(malformed)
            })
            .transpose()?;
        let v1 = ext(ISSUER_V1)
            .map(|v1| String::from_utf8(v1).map_err(malformed))
            .transpose()?;
        // sigstore-python reads the first, cosign and we the second: when both are there they
        // must agree, or one certificate would pass one verifier and fail another.
        let issuer = match (v1, v2) {
            (Some(v1), Some(v2)) if v1 != v2 => {
                return Err(FulcioError::IssuersDisagree { v1, v2 })
            }
            (v1, v2) => v2.or(v1),
        };
        let validity = &tbs.validity;
        Ok(Leaf {
            der: der.to_vec(),
            key,
            not_before: validity.not_before.to_unix_duration().as_secs(),
            not_after: validity.not_after.to_unix_duration().as_secs(),
            identities,
            issuer,
            cert,
        })
    }

    /// Identity and issuer, as the verifier asked for them.
    pub fn check_identity(&self, identity: &Matcher, issuer: &Matcher) -> Result<(), FulcioError> {
        if !self.identities.iter().any(|i| identity.matches(i)) {
            return Err(FulcioError::Identity {
                wanted: identity.to_string(),
                found: self.identities.clone(),
            });
        }
        if !self.issuer.as_deref().is_some_and(|i| issuer.matches(i)) {
            return Err(FulcioError::Issuer {
                wanted: issuer.to_string(),
                found: self.issuer.clone(),
            });
        }
        Ok(())
    }

    /// The leaf chains to a certificate authority of `root` valid at `time` (both the authority's
    /// window and every certificate's), for code signing. Returns the issuing certificate's DER.
    pub fn verify_chain(&self, root: &TrustedRoot, time: u64) -> Result<Vec<u8>, FulcioError> {
        if time < self.not_before || time > self.not_after {
            return Err(FulcioError::OutsideValidity {
                time,
                not_before: self.not_before,
                not_after: self.not_after,
            });
        }
        crate::certificate::chain_to_authority(
            &self.der,
            &root.certificate_authorities,
            time,
            CODE_SIGNING,
        )
        .map_err(|why| FulcioError::Chain { time, why })
    }

    /// At least one SCT embedded in the leaf verifies with a CT log of `root` valid at the SCT's
    /// time (RFC 6962 precertificate entry over the TBS without the SCT extension).
    pub fn verify_scts(&self, issuer_der: &[u8], root: &TrustedRoot) -> Result<(), FulcioError> {
        let sct = |e: &str| FulcioError::Sct(e.to_string());
        let tbs = &self.cert.tbs_certificate;
        let ext = tbs
            .extensions
            .iter()
            .flatten()
            .find(|e| e.extn_id == SCT_LIST)
            .ok_or_else(|| sct("the signing certificate has no embedded SCT"))?;
        let list = OctetString::from_der(ext.extn_value.as_bytes())
            .map_err(|_| sct("the SCT list is not an OCTET STRING"))?;
        let scts = parse_sct_list(list.as_bytes()).map_err(|e| sct(&e))?;
        // The precertificate's TBS: the leaf's TBS without the SCT extension.
        let mut pre = tbs.clone();
        if let Some(exts) = pre.extensions.as_mut() {
            exts.retain(|e| e.extn_id != SCT_LIST);
        }
        let pre_der = pre.to_der().map_err(malformed)?;
        let issuer = x509_cert::Certificate::from_der(issuer_der).map_err(malformed)?;
        let issuer_spki = issuer
            .tbs_certificate
            .subject_public_key_info
            .to_der()
            .map_err(malformed)?;
        let issuer_key_hash = Sha256::digest(&issuer_spki);
        let mut why = String::from("no SCT from a CT log of the trusted root");
        for s in &scts {
            let Some(log) = root.ctlog(&s.log_id) else {
                continue;
            };
            if !log.valid.contains(s.timestamp / 1000) {
                why = format!(
                    "the CT log key of {} was not valid at the SCT's time",
                    log.base_url
                );
                continue;
            }
            let mut signed = Vec::with_capacity(pre_der.len() + 64);
            signed.extend_from_slice(&[0, 0]); // v1, certificate_timestamp
            signed.extend_from_slice(&s.timestamp.to_be_bytes());
            signed.extend_from_slice(&[0, 1]); // precert_entry
            signed.extend_from_slice(&issuer_key_hash);
            let len = pre_der.len();
            if len >= 1 << 24 {
                return Err(sct("the certificate is too large for an SCT"));
            }
            signed.extend_from_slice(&[(len >> 16) as u8, (len >> 8) as u8, len as u8]);
            signed.extend_from_slice(&pre_der);
            signed.extend_from_slice(&(s.extensions.len() as u16).to_be_bytes());
            signed.extend_from_slice(&s.extensions);
            if log.key.verifies(&signed, &s.signature) {
                return Ok(());
            }
            why = format!("the SCT from {} does not verify", log.base_url);
        }
        Err(FulcioError::Sct(why))
    }
}

struct Sct {
    log_id: Vec<u8>,
    timestamp: u64,
    extensions: Vec<u8>,
    signature: Vec<u8>,
}

/// RFC 6962 SignedCertificateTimestampList (TLS encoding).
fn parse_sct_list(data: &[u8]) -> Result<Vec<Sct>, String> {
    let mut r = Reader(data);
    let mut list = Reader(r.vec16()?);
    r.end()?;
    let mut out = Vec::new();
    while !list.0.is_empty() {
        let mut s = Reader(list.vec16()?);
        if s.take(1)? != [0] {
            return Err("an SCT is not version 1".into());
        }
        let log_id = s.take(32)?.to_vec();
        let mut ts = [0u8; 8];
        ts.copy_from_slice(s.take(8)?);
        let extensions = s.vec16()?.to_vec();
        let _algorithms = s.take(2)?;
        let signature = s.vec16()?.to_vec();
        s.end()?;
        out.push(Sct {
            log_id,
            timestamp: u64::from_be_bytes(ts),
            extensions,
            signature,
        });
    }
    Ok(out)
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.0.len() < n {
            return Err("the SCT list is truncated".into());
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }

    fn vec16(&mut self) -> Result<&'a [u8], String> {
        let len = self.take(2)?;
        let n = usize::from(u16::from_be_bytes([len[0], len[1]]));
        self.take(n)
    }

    fn end(&self) -> Result<(), String> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err("the SCT list has trailing bytes".into())
        }
    }
}

/// Whether a DER certificate is self-issued and self-signed (a root).
pub fn is_root(der: &[u8]) -> bool {
    x509_cert::Certificate::from_der(der).is_ok_and(|c| {
        c.tbs_certificate.issuer == c.tbs_certificate.subject
            && webpki::anchor_from_trusted_cert(&CertificateDer::from(der)).is_ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regexps_match_whole_values() {
        let m = Matcher::regex("https://github.com/org/repo/.*").unwrap();
        assert!(m.matches("https://github.com/org/repo/.github/workflows/x.yml@refs/heads/main"));
        assert!(!m.matches("https://github.com/evil-org/repo/x"));
        let m = Matcher::regex("org/repo").unwrap();
        assert!(!m.matches("evil-org/repo-x"));
        assert!(m.matches("org/repo"));
        // Alternation stays inside the anchors.
        let m = Matcher::regex("a|b").unwrap();
        assert!(!m.matches("xa") && !m.matches("bx") && m.matches("b"));
        assert_eq!(m.to_string(), "/a|b/");
        assert!(Matcher::regex("(").is_err());
    }

    #[test]
    fn sct_lists_are_bounded() {
        assert!(parse_sct_list(&[]).is_err());
        assert!(parse_sct_list(&[0, 0]).unwrap().is_empty());
        assert!(parse_sct_list(&[0, 5, 0, 3, 0]).is_err());
        assert!(parse_sct_list(&[0, 0, 1]).is_err());
    }
}
