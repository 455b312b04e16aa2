//! DSSE v1 pre-authentication encoding: the exact bytes an envelope's signature covers.

/// The payload type of an in-toto statement, the only one OMS bundles carry.
pub const IN_TOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

/// `"DSSEv1" SP len(type) SP type SP len(payload) SP payload`, lengths in ASCII decimal.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let head = format!(
        "DSSEv1 {} {} {} ",
        payload_type.len(),
        payload_type,
        payload.len()
    );
    let mut out = Vec::with_capacity(head.len() + payload.len());
    out.extend_from_slice(head.as_bytes());
    out.extend_from_slice(payload);
    out
}

/// The encoding model_signing 0.2.x signed by mistake, which its later releases still verify
/// for those signatures: Python's `f"DSSEV1 {len(type)} {type} {len(payload)} {payload}"` with
/// `payload` as bytes, so the payload appears as its `repr` (`b'...'`, escaped). `repr` is
/// one-to-one, so this still binds the exact payload; it is only ever tried for the deprecated
/// `Digests/v0.1` predicate ([`crate::oms::verify_envelope`]).
pub fn pae_v0_2(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEV1 {} {} {} ",
        payload_type.len(),
        payload_type,
        payload.len()
    );
    python_bytes_repr(payload, &mut out);
    out.into_bytes()
}

/// CPython's `bytes.__repr__`: single quotes unless the bytes hold `'` and no `"`; `\t`, `\n`,
/// `\r`, the quote and the backslash escaped; other bytes outside 0x20..0x7e as `\xNN`.
fn python_bytes_repr(bytes: &[u8], out: &mut String) {
    let quote = if bytes.contains(&b'\'') && !bytes.contains(&b'"') {
        '"'
    } else {
        '\''
    };
    out.push('b');
    out.push(quote);
    for &b in bytes {
        match b {
            b'\t' => out.push_str("\\t"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\\' => out.push_str("\\\\"),
            _ if char::from(b) == quote => {
                out.push('\\');
                out.push(quote);
            }
            0x20..=0x7e => out.push(char::from(b)),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push(quote);
}

#[cfg(test)]
mod tests {
    /// Bytes Python itself printed for these payloads (`f"... {payload}".encode()`).
    #[test]
    fn v0_2_encoding_is_pythons() {
        let t = "application/vnd.in-toto+json";
        assert_eq!(
            super::pae_v0_2(t, b"{\"k\": 1}"),
            b"DSSEV1 28 application/vnd.in-toto+json 8 b'{\"k\": 1}'".to_vec()
        );
        assert_eq!(
            super::pae_v0_2(t, b"{\"a\": \"it's\"}\n\t\\ \xc3\xa9\x7f"),
            b"DSSEV1 28 application/vnd.in-toto+json 20 b'{\"a\": \"it\\'s\"}\\n\\t\\\\ \\xc3\\xa9\\x7f'"
                .to_vec()
        );
        let mut s = String::new();
        super::python_bytes_repr(b"it's", &mut s);
        assert_eq!(s, "b\"it's\"");
    }

    #[test]
    fn matches_the_spec_example() {
        assert_eq!(
            super::pae("application/vnd.in-toto+json", b"{}"),
            b"DSSEv1 28 application/vnd.in-toto+json 2 {}".to_vec()
        );
    }
}
