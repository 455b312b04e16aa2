//! X.509 certificate chains: a private CA's trust (model_signing's `certificate` method).
//!
//! Path building and every certificate signature are rustls-webpki's (on aws-lc-rs, the crypto
//! the TLS client already links); the extensions webpki does not judge (KeyUsage, the
//! codeSigning EKU, the subject alternative names) are read with RustCrypto's `x509-cert`. No
//! ASN.1 is parsed by hand here.
//!
//! A signing certificate that is itself a CA (basicConstraints cA=TRUE) is accepted as
//! model_signing accepts it, when it is otherwise a valid signer; webpki refuses such a leaf, so
//! its path is checked by [`ca_signer`].
//!
//! The chain is judged at the time the caller gives ([`CertificateTrust::at`]): the verifier's
//! clock. model_signing 1.1.1 judges it at the leaf's own notBefore, which never lets a
//! certificate expire; we do not, so a leaf past its notAfter (or a CA past its own) is refused.

use std::fmt;
use std::time::Duration;

use rustls_pki_types::{CertificateDer, TrustAnchor, UnixTime};
use webpki::{EndEntityCert, ExtendedKeyUsageValidator, KeyPurposeIdIter};
use x509_cert::der::{Decode, Encode};
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAltName};

use crate::keys::{KeyError, PublicKey, SignError, Signer};
use crate::pem;

mod ca_signer;

/// id-kp-codeSigning (RFC 5280 4.2.1.12).
const CODE_SIGNING: x509_cert::der::asn1::ObjectIdentifier =
    x509_cert::der::asn1::ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.3");

/// Why a file of trusted CA certificates cannot be used (the operator's input: exit 2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootsError {
    /// No PEM block, an unterminated block, or bad base64.
    Pem(KeyError),
    /// A block that is not a `CERTIFICATE`.
    Label { index: usize, label: String },
    /// A certificate that cannot be parsed or used as a trust anchor.
    Certificate { index: usize, reason: String },
}

impl fmt::Display for RootsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RootsError::Pem(e) => write!(f, "{e}"),
            RootsError::Label { index, label } => {
                write!(f, "PEM block {} is '{label}', not a CERTIFICATE", index + 1)
            }
            RootsError::Certificate { index, reason } => {
                write!(f, "certificate {} cannot be used: {reason}", index + 1)
            }
        }
    }
}

impl std::error::Error for RootsError {}

/// Why a bundle's certificate chain is not trusted (the artifact's fault: exit 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainError {
    /// The bundle names no certificate.
    Empty,
    /// Certificate `index` of the bundle's chain (0 is the leaf) is not a valid certificate.
    Malformed { index: usize, reason: String },
    /// No valid path from the leaf to a trusted root at the verification time.
    Path(String),
    /// The leaf is neither for digital signatures (KeyUsage) nor for code signing (EKU).
    NotForSigning,
    /// The leaf does not carry the identity the verifier asked for.
    Identity { wanted: String, found: Vec<String> },
    /// The leaf's key is not one modelseal verifies with.
    Key(KeyError),
    /// Signing: the certificate certifies another key than the signing key.
    NotTheSigningKey,
}

impl fmt::Display for ChainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChainError::Empty => f.write_str("the bundle's certificate chain is empty"),
            ChainError::Malformed { index: 0, reason } => {
                write!(f, "the signing certificate is malformed: {reason}")
            }
            ChainError::Malformed { index, reason } => write!(
                f,
                "certificate {} of the bundle's chain is malformed: {reason}",
                index + 1
            ),
            ChainError::Path(why) => write!(
                f,
                "the signing certificate does not chain to a trusted root: {why}"
            ),
            ChainError::NotForSigning => f.write_str(
                "the signing certificate is not for signing: its KeyUsage lacks digitalSignature \
                 and its ExtendedKeyUsage lacks codeSigning",
            ),
            ChainError::Identity { wanted, found } if found.is_empty() => write!(
                f,
                "certificate identity '{wanted}' does not match: the certificate names no identity"
            ),
            ChainError::Identity { wanted, found } => write!(
                f,
                "certificate identity '{wanted}' does not match '{}'",
                found.join("', '")
            ),
            ChainError::Key(e) => write!(f, "the signing certificate's key: {e}"),
            ChainError::NotTheSigningKey => {
                f.write_str("the certificate certifies another key than the signing key")
            }
        }
    }
}

impl std::error::Error for ChainError {}

/// A private CA's trust: the anchors, an optional identity the leaf must carry, and the time
/// the chain is judged at.
#[derive(Clone)]
pub struct CertificateTrust {
    anchors: Vec<TrustAnchor<'static>>,
    identity: Option<String>,
    at: u64,
}

impl fmt::Debug for CertificateTrust {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "CertificateTrust({} roots, identity {:?}, at {})",
            self.anchors.len(),
            self.identity,
            self.at
        )
    }
}

/// What a verified chain yields: the key that must verify the signature, and who it names.
#[derive(Debug, Clone)]
pub struct VerifiedLeaf {
    pub key: PublicKey,
    /// The leaf's subject alternative names (emails, URIs, DNS names).
    pub identities: Vec<String>,
}

impl CertificateTrust {
    /// Reads PEM CA certificates (every one a trust anchor, as `model_signing verify certificate
    /// --certificate_chain` and `cosign verify --certificate-chain` treat them). `at` is the
    /// verification time, in seconds since the Unix epoch.
    pub fn from_pem(
        roots_pem: &[u8],
        identity: Option<String>,
        at: u64,
    ) -> Result<Self, RootsError> {
        let anchors = certificates_from_pem(roots_pem)?
            .into_iter()
            .enumerate()
            .map(|(index, der)| {
                webpki::anchor_from_trusted_cert(&CertificateDer::from(der.as_slice()))
                    .map(|a| a.to_owned())
                    .map_err(|e| RootsError::Certificate {
                        index,
                        reason: webpki_reason(&e),
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(CertificateTrust {
            anchors,
            identity,
            at,
        })
    }

    /// In words, for a person checking a policy: the anchors and the identity asked for.
    pub fn describe(&self) -> String {
        let anchors = match self.anchors.len() {
            1 => "1 trusted CA certificate".to_string(),
            n => format!("{n} trusted CA certificates"),
        };
        match &self.identity {
            Some(id) => format!("private CA: {anchors}, identity {id}"),
            None => format!("private CA: {anchors}"),
        }
    }

    /// Checks a bundle's chain (leaf first, then any intermediates): a path to a trusted root
    /// valid at [`Self::at`], a leaf for signing, the identity when one was asked for. Returns
    /// the leaf's key, the only key the signature may be checked with.
    pub fn verify_chain(&self, chain: &[Vec<u8>]) -> Result<VerifiedLeaf, ChainError> {
        self.verify_chain_at(chain, self.at)
    }

    /// [`Self::verify_chain`] at another time (a time-bounded trust policy judges the chain at
    /// the signing time its evidence proves).
    pub fn verify_chain_at(&self, chain: &[Vec<u8>], at: u64) -> Result<VerifiedLeaf, ChainError> {
        let (leaf_der, rest) = chain.split_first().ok_or(ChainError::Empty)?;
        let leaf =
            x509_cert::Certificate::from_der(leaf_der).map_err(|e| ChainError::Malformed {
                index: 0,
                reason: e.to_string(),
            })?;
        for (i, der) in rest.iter().enumerate() {
            x509_cert::Certificate::from_der(der).map_err(|e| ChainError::Malformed {
                index: i + 1,
                reason: e.to_string(),
            })?;
        }
        // 1. The path: every signature, validity window, basic constraints and name
        //    constraint, from the leaf to one of the anchors, at the verification time. A leaf
        //    that is itself a CA signs as model_signing lets it (ca_signer); any other
        //    path is webpki's.
        let tbs = &leaf.tbs_certificate;
        let malformed = |e: x509_cert::der::Error| ChainError::Malformed {
            index: 0,
            reason: e.to_string(),
        };
        let leaf_is_ca = tbs
            .get::<BasicConstraints>()
            .map_err(malformed)?
            .is_some_and(|(_, bc)| bc.ca);
        if leaf_is_ca {
            ca_signer::verify_path(leaf_der, rest, &self.anchors, at).map_err(ChainError::Path)?;
        } else {
            let leaf_cert = CertificateDer::from(leaf_der.as_slice());
            let end_entity =
                EndEntityCert::try_from(&leaf_cert).map_err(|e| ChainError::Malformed {
                    index: 0,
                    reason: webpki_reason(&e),
                })?;
            let intermediates: Vec<CertificateDer<'_>> = rest
                .iter()
                .map(|d| CertificateDer::from(d.as_slice()))
                .collect();
            let issuers = IssuerRule::default();
            end_entity
                .verify_for_usage(
                    webpki::ALL_VERIFICATION_ALGS,
                    &self.anchors,
                    &intermediates,
                    UnixTime::since_unix_epoch(Duration::from_secs(at)),
                    AnyPurpose,
                    None,
                    Some(&|path: &webpki::VerifiedPath<'_>| issuers.check(path)),
                )
                .map_err(|e| ChainError::Path(issuers.reason(&e)))?;
        }
        // 2. The leaf is for signing: KeyUsage digitalSignature, or EKU codeSigning.
        let digital_signature = tbs
            .get::<KeyUsage>()
            .map_err(malformed)?
            .is_some_and(|(_, ku)| ku.digital_signature());
        let code_signing = tbs
            .get::<ExtendedKeyUsage>()
            .map_err(malformed)?
            .is_some_and(|(_, eku)| eku.0.contains(&CODE_SIGNING));
        if !digital_signature && !code_signing {
            return Err(ChainError::NotForSigning);
        }
        // 3. The identity, when asked for: one of the subject alternative names, exactly.
        let identities = match tbs.get::<SubjectAltName>().map_err(malformed)? {
            None => Vec::new(),
            Some((_, san)) => san.0.iter().filter_map(general_name_text).collect(),
        };
        if let Some(wanted) = &self.identity {
            if !identities.iter().any(|i| i == wanted) {
                return Err(ChainError::Identity {
                    wanted: wanted.clone(),
                    found: identities,
                });
            }
        }
        // 4. The key the signature must verify with.
        let spki = tbs.subject_public_key_info.to_der().map_err(malformed)?;
        let key = PublicKey::from_spki_der(&spki).map_err(ChainError::Key)?;
        Ok(VerifiedLeaf { key, identities })
    }
}

/// A leaf's path, for the purpose `eku` (DER body of the OID), to one of `authorities` (each a
/// chain from its issuing certificate to its root, as a trusted root lists it) whose window
/// holds `time`, every certificate valid at `time`. Returns the issuing certificate's DER, or
/// why no authority fits. Fulcio leaves (code signing) and TSA leaves (time stamping) use it.
///
/// The leaf must name the purpose in its EKU; an intermediate without an EKU is unrestricted
/// (RFC 5280, as Go and pyca read it), one with an EKU must include the purpose, and every
/// intermediate with a KeyUsage must allow keyCertSign ([`IssuerRule`]).
pub(crate) fn chain_to_authority(
    leaf: &[u8],
    authorities: &[crate::trusted_root::Authority],
    time: u64,
    eku: &'static [u8],
) -> Result<Vec<u8>, String> {
    let leaf_der = CertificateDer::from(leaf);
    let end_entity = EndEntityCert::try_from(&leaf_der).map_err(|e| webpki_reason(&e))?;
    leaf_has_purpose(leaf, eku)?;
    let mut why = "no authority of the trusted root is valid then".to_string();
    for authority in authorities.iter().filter(|a| a.valid.contains(time)) {
        let Some((anchor_der, rest)) = authority.chain.split_last() else {
            continue;
        };
        let anchor_der = CertificateDer::from(anchor_der.as_slice());
        let anchor = match webpki::anchor_from_trusted_cert(&anchor_der) {
            Ok(a) => a,
            Err(e) => {
                why = format!("{}: {}", authority.name, webpki_reason(&e));
                continue;
            }
        };
        // A TSA's chain may list the leaf itself first; it is not its own intermediate.
        let intermediates: Vec<CertificateDer<'_>> = rest
            .iter()
            .filter(|c| c.as_slice() != leaf)
            .map(|c| CertificateDer::from(c.as_slice()))
            .collect();
        let anchors = [anchor];
        let issuers = IssuerRule::default();
        match end_entity.verify_for_usage(
            webpki::ALL_VERIFICATION_ALGS,
            &anchors,
            &intermediates,
            UnixTime::since_unix_epoch(Duration::from_secs(time)),
            webpki::KeyUsage::required_if_present(eku),
            None,
            Some(&|path: &webpki::VerifiedPath<'_>| issuers.check(path)),
        ) {
            Ok(path) => {
                return Ok(path
                    .intermediate_certificates()
                    .next()
                    .map_or_else(|| anchor_der.to_vec(), |c| c.der().to_vec()))
            }
            Err(e) => why = format!("{}: {}", authority.name, issuers.reason(&e)),
        }
    }
    Err(why)
}

/// The leaf's ExtendedKeyUsage is present and lists `eku` (DER body of the OID).
fn leaf_has_purpose(leaf: &[u8], eku: &[u8]) -> Result<(), String> {
    let cert = x509_cert::Certificate::from_der(leaf).map_err(|e| format!("invalid DER: {e}"))?;
    let listed = cert
        .tbs_certificate
        .get::<ExtendedKeyUsage>()
        .map_err(|e| format!("invalid DER: {e}"))?
        .is_some_and(|(_, e)| e.0.iter().any(|oid| oid.as_bytes() == eku));
    if listed {
        Ok(())
    } else {
        Err(format!(
            "the certificate's ExtendedKeyUsage does not list {}",
            if eku == TIME_STAMPING_EKU {
                "timeStamping"
            } else {
                "codeSigning"
            }
        ))
    }
}

/// id-kp-timeStamping, DER body.
const TIME_STAMPING_EKU: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x08];

/// RFC 5280 4.2.1.3, which rustls-webpki leaves out on purpose: a CA certificate whose
/// KeyUsage is present must assert keyCertSign to issue. Checked on every intermediate of a
/// path webpki built (carried in the bundle or in a trusted root's chain); the signing
/// certificate and the trust anchors are not subject to it. A path that fails it is dropped
/// and path building goes on; if none is left, the reason is this rule's.
#[derive(Default)]
struct IssuerRule {
    refused: std::cell::RefCell<Option<String>>,
}

impl IssuerRule {
    fn check(&self, path: &webpki::VerifiedPath<'_>) -> Result<(), webpki::Error> {
        for (i, cert) in path.intermediate_certificates().enumerate() {
            let why = match x509_cert::Certificate::from_der(cert.der().as_ref()) {
                Err(e) => Some(format!("an intermediate is not valid DER: {e}")),
                Ok(c) => match c.tbs_certificate.get::<KeyUsage>() {
                    Err(e) => Some(format!("an intermediate's KeyUsage is not valid DER: {e}")),
                    Ok(Some((_, ku))) if !ku.key_cert_sign() => Some(format!(
                        "intermediate {} (issuer of the certificate below it) has a KeyUsage without keyCertSign, so it may not issue certificates",
                        i + 1
                    )),
                    Ok(_) => None,
                },
            };
            if let Some(why) = why {
                *self.refused.borrow_mut() = Some(why);
                return Err(webpki::Error::UnknownIssuer);
            }
        }
        Ok(())
    }

    /// Why no path was accepted: this rule's reason when it refused a path webpki accepted.
    fn reason(&self, e: &webpki::Error) -> String {
        match self.refused.borrow().as_ref() {
            Some(why) => why.clone(),
            None => webpki_reason(e),
        }
    }
}

/// Certificates in PEM (a `--certificate` or `--certificate-chain` file) as DER, in order.
pub fn certificates_from_pem(text: &[u8]) -> Result<Vec<Vec<u8>>, RootsError> {
    let blocks = pem::parse_all(text).map_err(|e| RootsError::Pem(e.into()))?;
    let mut out = Vec::with_capacity(blocks.len());
    for (index, block) in blocks.into_iter().enumerate() {
        if block.label != "CERTIFICATE" {
            return Err(RootsError::Label {
                index,
                label: block.label,
            });
        }
        x509_cert::Certificate::from_der(&block.der).map_err(|e| RootsError::Certificate {
            index,
            reason: e.to_string(),
        })?;
        out.push(block.der);
    }
    Ok(out)
}

/// The public key certified by `der` (for checking that a signing key matches its certificate).
pub fn certified_key(der: &[u8]) -> Result<PublicKey, ChainError> {
    let cert = x509_cert::Certificate::from_der(der).map_err(|e| ChainError::Malformed {
        index: 0,
        reason: e.to_string(),
    })?;
    let spki = cert
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .map_err(|e| ChainError::Malformed {
            index: 0,
            reason: e.to_string(),
        })?;
    PublicKey::from_spki_der(&spki).map_err(ChainError::Key)
}

/// A signer named by its certificate chain: model_signing's `certificate` method. The leaf must
/// certify the signer's key; the chain is what `sign --certificate-chain` adds, as given.
pub struct Certified {
    signer: Box<dyn Signer>,
    chain: Vec<Vec<u8>>,
}

impl Certified {
    /// `chain` is the leaf, then any intermediates. Refused when the leaf certifies another key.
    pub fn new(signer: Box<dyn Signer>, chain: Vec<Vec<u8>>) -> Result<Self, ChainError> {
        let leaf = chain.first().ok_or(ChainError::Empty)?;
        if certified_key(leaf)? != *signer.public_key() {
            return Err(ChainError::NotTheSigningKey);
        }
        Ok(Certified { signer, chain })
    }
}

impl Signer for Certified {
    fn public_key(&self) -> &PublicKey {
        self.signer.public_key()
    }

    fn sign_prehash(&self, prehash: &[u8]) -> Result<Vec<u8>, SignError> {
        self.signer.sign_prehash(prehash)
    }

    fn sign_message(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        self.signer.sign_message(message)
    }

    fn certificates(&self) -> Option<&[Vec<u8>]> {
        Some(&self.chain)
    }
}

/// The leaf's purpose is judged by [`CertificateTrust::verify_chain`] itself (KeyUsage or
/// EKU, as model_signing does); webpki's own EKU rule would refuse a leaf whose EKU lists other
/// purposes even when its KeyUsage allows signing.
struct AnyPurpose;

impl ExtendedKeyUsageValidator for AnyPurpose {
    fn validate(&self, iter: KeyPurposeIdIter<'_, '_>) -> Result<(), webpki::Error> {
        // A malformed EKU extension is still refused.
        for id in iter {
            id?;
        }
        Ok(())
    }
}

fn general_name_text(name: &GeneralName) -> Option<String> {
    match name {
        GeneralName::Rfc822Name(s) => Some(s.to_string()),
        GeneralName::DnsName(s) => Some(s.to_string()),
        GeneralName::UniformResourceIdentifier(s) => Some(s.to_string()),
        _ => None,
    }
}

/// webpki's errors, in words a user can act on: every one a sentence, never a debug dump.
pub(crate) fn webpki_reason(e: &webpki::Error) -> String {
    use webpki::Error as E;
    match e {
        E::UnknownIssuer => {
            "no path to a trusted root (a missing intermediate, or another CA)".into()
        }
        E::CertExpired { time, not_after } => format!(
            "a certificate expired at {} (verification time {})",
            unix(not_after),
            unix(time)
        ),
        E::CertNotValidYet { time, not_before } => format!(
            "a certificate is not valid before {} (verification time {})",
            unix(not_before),
            unix(time)
        ),
        E::InvalidCertValidity => "a certificate's validity period ends before it starts".into(),
        E::InvalidSignatureForPublicKey => {
            "a certificate's signature does not verify with its issuer's key".into()
        }
        E::UnsupportedSignatureAlgorithmContext(_)
        | E::UnsupportedSignatureAlgorithmForPublicKeyContext(_) => {
            "a certificate is signed with an algorithm modelseal does not verify".into()
        }
        E::SignatureAlgorithmMismatch => {
            "a certificate names two different signature algorithms".into()
        }
        E::CaUsedAsEndEntity => "the signing certificate is a CA certificate".into(),
        E::EndEntityUsedAsCa => "an intermediate is not a CA certificate".into(),
        E::PathLenConstraintViolated => "a CA's path length constraint is exceeded".into(),
        E::NameConstraintViolation => "a CA's name constraints are violated".into(),
        E::MalformedNameConstraint | E::InvalidNetworkMaskConstraint => {
            "a CA's name constraints are malformed".into()
        }
        E::RequiredEkuNotFoundContext(_) => {
            "a certificate's ExtendedKeyUsage does not allow this use".into()
        }
        E::EmptyEkuExtension => "a certificate has an empty ExtendedKeyUsage".into(),
        E::UnsupportedCriticalExtension => {
            "a certificate has an unsupported critical extension".into()
        }
        E::UnsupportedCertVersion => "a certificate is not X.509 v3".into(),
        E::CertDistrusted => "a certificate in the path is distrusted".into(),
        E::MaximumPathDepthExceeded
        | E::MaximumPathBuildCallsExceeded
        | E::MaximumSignatureChecksExceeded
        | E::MaximumNameConstraintComparisonsExceeded => {
            "the certificate chain is too long or too tangled to check".into()
        }
        E::BadDer
        | E::BadDerTime
        | E::TrailingData(_)
        | E::MalformedExtensions
        | E::ExtensionValueInvalid
        | E::InvalidSerialNumber => "a certificate is not valid DER".into(),
        _ => "a certificate in the path cannot be used".into(),
    }
}

/// `UnixTime` in UTC, RFC 3339.
fn unix(t: &UnixTime) -> String {
    crate::time::utc(t.as_secs())
}
