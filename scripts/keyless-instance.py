#!/usr/bin/env python3
"""A private Sigstore instance in one process, made with Python's `cryptography` (not modelseal):
a Fulcio-like CA, a CT log, a Rekor-like log; it turns a key-signed OMS bundle of a model into a
keyless one (a leaf certificate for IDENTITY/ISSUER with an embedded SCT, a dsse 0.0.1 log entry
with its SET, an inclusion proof and a signed checkpoint) and writes the trusted_root.json that
vouches for it. Offline stand-in for `model_signing sign` against public Sigstore, so a model of
any size can be signed keyless (tests/s3-free verification and bench/keyless.sh).

  scripts/keyless-instance.py IN.sig OUT.sig ROOT.json IDENTITY ISSUER
"""
import base64
import datetime
import hashlib
import json
import struct
import sys
import time

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

B64 = lambda b: base64.b64encode(b).decode()
DER = serialization.Encoding.DER
SPKI = serialization.PublicFormat.SubjectPublicKeyInfo
LOG_HOST = "log.modelseal.test"


def spki(key):
    return key.public_key().public_bytes(DER, SPKI)


def sign(key, data):
    return key.sign(data, ec.ECDSA(hashes.SHA256()))


def der_utf8(text):
    raw = text.encode()
    assert len(raw) < 128
    return bytes([0x0C, len(raw)]) + raw


def der_octets(raw):
    n = len(raw)
    if n < 128:
        return bytes([0x04, n]) + raw
    length = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x04, 0x80 | len(length)]) + length + raw


def main(src, out, root_out, identity, issuer):
    bundle = json.load(open(src))
    env = bundle["dsseEnvelope"]
    payload = base64.b64decode(env["payload"])
    ptype = env["payloadType"]
    pae = b"DSSEv1 %d %s %d " % (len(ptype), ptype.encode(), len(payload)) + payload

    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    start = now - datetime.timedelta(days=1)
    ca_key, leaf_key, ct_key, log_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(4))
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "modelseal test Fulcio")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name).issuer_name(ca_name)
        .public_key(ca_key.public_key()).serial_number(1)
        .not_valid_before(start).not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )

    def leaf(extra):
        b = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([])).issuer_name(ca_name)
            .public_key(leaf_key.public_key()).serial_number(2)
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(hours=12))
            .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False)
            .add_extension(x509.SubjectAlternativeName([x509.RFC822Name(identity)]), critical=True)
            .add_extension(x509.UnrecognizedExtension(ObjectIdentifier("1.3.6.1.4.1.57264.1.8"), der_utf8(issuer)), critical=False)
        )
        for e in extra:
            b = b.add_extension(e, critical=False)
        return b.sign(ca_key, hashes.SHA256())

    # The SCT signs the precertificate: the leaf's TBS without the SCT extension.
    pre_tbs = leaf([]).tbs_certificate_bytes
    ts = int(time.time() * 1000)
    signed = (
        b"\x00\x00" + struct.pack(">Q", ts) + b"\x00\x01"
        + hashlib.sha256(spki(ca_key)).digest()
        + len(pre_tbs).to_bytes(3, "big") + pre_tbs + b"\x00\x00"
    )
    ct_sig = sign(ct_key, signed)
    sct = (
        b"\x00" + hashlib.sha256(spki(ct_key)).digest() + struct.pack(">Q", ts) + b"\x00\x00"
        + b"\x04\x03" + struct.pack(">H", len(ct_sig)) + ct_sig
    )
    sct_list = struct.pack(">H", len(sct) + 2) + struct.pack(">H", len(sct)) + sct
    cert = leaf([x509.UnrecognizedExtension(ObjectIdentifier("1.3.6.1.4.1.11129.2.4.2"), der_octets(sct_list))])
    assert cert.tbs_certificate_bytes != pre_tbs
    cert_der = cert.public_bytes(DER)
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)

    sig = sign(leaf_key, pae)
    body = json.dumps({
        "apiVersion": "0.0.1", "kind": "dsse",
        "spec": {
            "envelopeHash": {"algorithm": "sha256", "value": hashlib.sha256(b"unused").hexdigest()},
            "payloadHash": {"algorithm": "sha256", "value": hashlib.sha256(payload).hexdigest()},
            "signatures": [{"signature": B64(sig), "verifier": B64(cert_pem)}],
        },
    }, separators=(",", ":")).encode()
    log_id = hashlib.sha256(spki(log_key)).digest()
    integrated = int(time.time())
    set_payload = json.dumps({
        "body": B64(body), "integratedTime": integrated, "logID": log_id.hex(), "logIndex": 0,
    }, separators=(",", ":"), sort_keys=True).encode()
    root_hash = hashlib.sha256(b"\x00" + body).digest()
    note = f"{LOG_HOST} - 1\n1\n{B64(root_hash)}\n"
    note_sig = log_id[:4] + sign(log_key, note.encode())
    checkpoint = note + f"\n\u2014 {LOG_HOST} {B64(note_sig)}\n"

    bundle["verificationMaterial"] = {
        "certificate": {"rawBytes": B64(cert_der)},
        "tlogEntries": [{
            "logIndex": "0", "logId": {"keyId": B64(log_id)},
            "kindVersion": {"kind": "dsse", "version": "0.0.1"},
            "integratedTime": str(integrated),
            "inclusionPromise": {"signedEntryTimestamp": B64(sign(log_key, set_payload))},
            "inclusionProof": {"logIndex": "0", "rootHash": B64(root_hash), "treeSize": "1",
                               "hashes": [], "checkpoint": {"envelope": checkpoint}},
            "canonicalizedBody": B64(body),
        }],
    }
    env["signatures"] = [{"sig": B64(sig), "keyid": ""}]
    json.dump(bundle, open(out, "w"), separators=(",", ":"))

    valid = {"start": start.strftime("%Y-%m-%dT%H:%M:%SZ")}
    key = lambda k: {"rawBytes": B64(spki(k)), "keyDetails": "PKIX_ECDSA_P256_SHA_256", "validFor": valid}
    json.dump({
        "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
        "tlogs": [{"baseUrl": f"https://{LOG_HOST}", "hashAlgorithm": "SHA2_256",
                   "publicKey": key(log_key), "logId": {"keyId": B64(log_id)}}],
        "certificateAuthorities": [{"subject": {"organization": "modelseal", "commonName": "test fulcio"},
                                    "uri": "https://fulcio.modelseal.test",
                                    "certChain": {"certificates": [{"rawBytes": B64(ca.public_bytes(DER))}]},
                                    "validFor": valid}],
        "ctlogs": [{"baseUrl": "https://ct.modelseal.test", "hashAlgorithm": "SHA2_256",
                    "publicKey": key(ct_key), "logId": {"keyId": B64(hashlib.sha256(spki(ct_key)).digest())}}],
        "timestampAuthorities": [],
    }, open(root_out, "w"), indent=1)


if __name__ == "__main__":
    main(*sys.argv[1:6])
