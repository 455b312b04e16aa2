#!/usr/bin/env python3
"""A private Sigstore instance on loopback, for tests and benchmarks: an OIDC issuer that mints
identity tokens, Fulcio (/api/v2/signingCert: a CSR or a public key with its proof of
possession; certificates with an embedded SCT from a CT log), Rekor v1 (/api/v1/log/entries:
hashedrekord and dsse 0.0.1 entries checked as Rekor checks them, an RFC 6962 Merkle tree,
SETs, inclusion proofs with signed checkpoints), Rekor v2 (/api/v2/log/entries: hashedrekord
0.0.2 entries, DSSE envelopes among them as hashedrekords over their PAE, in a log of its own
with an Ed25519 key: inclusion proofs with checkpoints, no integrated time, as rekor-tiles
answers) and an RFC 3161 TSA (/api/v1/timestamp).
Written with Python's `cryptography` and `asn1crypto`, not with modelseal.

  scripts/sigstore-instance.py serve STATE_DIR

binds 127.0.0.1 on a free port and writes into STATE_DIR: `url`, `trusted_root.json`,
`signing_config.json` (Fulcio, Rekor v1, TSA), `signing_config.no-tsa.json`,
`signing_config.rekor2.json` (Rekor v2 listed beside v1: clients pick the highest version they
speak), `signing_config.rekor2-no-tsa.json`, `trust_config.json` and `trust_config.rekor2.json`
(ClientTrustConfig: root and config in one) and `pid`. Then it serves until killed.

Tokens: GET /oidc/token?sub=S&email=E&aud=A&ttl=SECONDS returns a signed JWT (aud defaults to
`sigstore`). GitHub Actions' ambient credentials: GET /gha/token?audience=A with
`Authorization: bearer gha-request-token` returns {"value": JWT}.

Faults, for the failure tests: POST /admin/fault?service=fulcio|rekor|rekor2|tsa&mode=M, where M is
`none`, `500` (refuse), `echo` (refuse, quoting the request back), `stall` (answer after 60 s), `wrong-key` (Fulcio certifies another
key), `bad-set` (Rekor's SET signed by another key), `bad-checkpoint` (Rekor v2's checkpoint signed by another
key), `bad-timestamp` (a TSA token over other
bytes).
"""
import base64
import datetime
import hashlib
import json
import os
import struct
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
from asn1crypto import algos, cms, core, tsp, x509 as ax509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

B64 = lambda b: base64.b64encode(b).decode()
DER = serialization.Encoding.DER
PEM = serialization.Encoding.PEM
SPKI = serialization.PublicFormat.SubjectPublicKeyInfo
UTC = datetime.timezone.utc
GHA_REQUEST_TOKEN = "gha-request-token"


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


def leaf_hash(data):
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def merkle_root(leaves):
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return node_hash(merkle_root(leaves[:k]), merkle_root(leaves[k:]))


def audit_path(index, leaves):
    """RFC 6962 2.1.1: the inclusion proof of leaves[index], leaf to root."""
    if len(leaves) == 1:
        return []
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    if index < k:
        return audit_path(index, leaves[:k]) + [merkle_root(leaves[k:])]
    return audit_path(index - k, leaves[k:]) + [merkle_root(leaves[:k])]


class Instance:
    def __init__(self, url):
        self.url = url
        self.lock = threading.Lock()
        self.faults = {}
        now = datetime.datetime.now(UTC).replace(microsecond=0)
        self.start = now - datetime.timedelta(days=1)
        gen = lambda: ec.generate_private_key(ec.SECP256R1())
        self.oidc_key, self.ca_key, self.ct_key, self.log_key, self.tsa_key, self.tsa_root_key = (
            gen() for _ in range(6))
        self.other_key = gen()
        self.issuer = f"{url}/oidc"
        self.ca_name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "modelseal test"),
                                  x509.NameAttribute(NameOID.COMMON_NAME, "modelseal test fulcio")])
        self.ca = self._ca(self.ca_name, self.ca_key, now)
        self.tsa_root_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "modelseal test tsa root")])
        self.tsa_root = self._ca(self.tsa_root_name, self.tsa_root_key, now)
        self.tsa_cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "modelseal test tsa")]))
            .issuer_name(self.tsa_root_name)
            .public_key(self.tsa_key.public_key()).serial_number(7)
            .not_valid_before(self.start).not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.tsa_root_key.public_key()), critical=False)
            .sign(self.tsa_root_key, hashes.SHA256())
        )
        self.log_id = hashlib.sha256(spki(self.log_key)).digest()
        # Rekor v1's checkpoint: origin "HOST - TREE_ID", signed by the key named HOST.
        self.host = urllib.parse.urlparse(url).netloc
        self.origin = f"{self.host} - 1"
        self.leaves = []
        # Rekor v2: a log of its own, named by its host, with an Ed25519 key; its id (and the
        # checkpoint's key hint) is the signed-note key hash, SHA-256(name, 0x0A, 0x01, key).
        self.log2_key = ed25519.Ed25519PrivateKey.generate()
        self.log2_other = ed25519.Ed25519PrivateKey.generate()
        raw = self.log2_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        self.log2_id = hashlib.sha256(self.host.encode() + b"\n\x01" + raw).digest()
        self.leaves2 = []
        self.serial = 100

    def _ca(self, name, key, now):
        return (
            x509.CertificateBuilder()
            .subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1)
            .not_valid_before(self.start).not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )

    # -- trust material -------------------------------------------------------------------------

    def trusted_root(self):
        valid = {"start": self.start.strftime("%Y-%m-%dT%H:%M:%SZ")}
        key = lambda k: {"rawBytes": B64(spki(k)), "keyDetails": "PKIX_ECDSA_P256_SHA_256", "validFor": valid}
        return {
            "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
            "tlogs": [{"baseUrl": self.url, "hashAlgorithm": "SHA2_256",
                       "publicKey": key(self.log_key), "logId": {"keyId": B64(self.log_id)}},
                      {"baseUrl": self.url, "hashAlgorithm": "SHA2_256",
                       "publicKey": {"rawBytes": B64(spki(self.log2_key)), "keyDetails": "PKIX_ED25519",
                                     "validFor": valid},
                       "logId": {"keyId": B64(self.log2_id)}}],
            "certificateAuthorities": [{
                "subject": {"organization": "modelseal test", "commonName": "modelseal test fulcio"},
                "uri": self.url,
                "certChain": {"certificates": [{"rawBytes": B64(self.ca.public_bytes(DER))}]},
                "validFor": valid}],
            "ctlogs": [{"baseUrl": self.url, "hashAlgorithm": "SHA2_256",
                        "publicKey": key(self.ct_key),
                        "logId": {"keyId": B64(hashlib.sha256(spki(self.ct_key)).digest())}}],
            "timestampAuthorities": [{
                "subject": {"organization": "modelseal test", "commonName": "modelseal test tsa"},
                "uri": f"{self.url}/api/v1/timestamp",
                "certChain": {"certificates": [{"rawBytes": B64(self.tsa_cert.public_bytes(DER))},
                                               {"rawBytes": B64(self.tsa_root.public_bytes(DER))}]},
                "validFor": valid}],
        }

    def signing_config(self, tsa=True, rekor2=False):
        valid = {"start": self.start.strftime("%Y-%m-%dT%H:%M:%SZ")}
        service = lambda url, v=1: {"url": url, "majorApiVersion": v, "validFor": valid, "operator": "modelseal.test"}
        config = {
            "mediaType": "application/vnd.dev.sigstore.signingconfig.v0.2+json",
            "caUrls": [service(self.url)],
            "oidcUrls": [service(self.issuer)],
            "rekorTlogUrls": ([service(self.url)] + [service(self.url, 2)] if rekor2 else [service(self.url)]),
            "tsaUrls": [service(f"{self.url}/api/v1/timestamp")] if tsa else [],
            "rekorTlogConfig": {"selector": "ANY"},
            "tsaConfig": {"selector": "ANY"},
        }
        return config

    # -- OIDC -----------------------------------------------------------------------------------

    def token(self, sub, email, aud, ttl):
        now = int(time.time())
        claims = {"iss": self.issuer, "sub": sub, "aud": aud, "iat": now, "nbf": now, "exp": now + ttl}
        if email:
            claims["email"] = email
            claims["email_verified"] = True
        return jwt.encode(claims, self.oidc_key, algorithm="ES256", headers={"kid": "test"})

    # -- Fulcio ---------------------------------------------------------------------------------

    def signing_cert(self, headers, body):
        request = json.loads(body)
        token = (request.get("credentials") or {}).get("oidcIdentityToken")
        auth = headers.get("Authorization", "")
        if not token and auth.lower().startswith("bearer "):
            token = auth[7:]
        if not token:
            return 401, {"code": 16, "message": "missing identity token"}
        try:
            claims = jwt.decode(token, self.oidc_key.public_key(), algorithms=["ES256"], audience="sigstore",
                                issuer=self.issuer)
        except jwt.PyJWTError as e:
            return 401, {"code": 16, "message": f"invalid identity token: {e}"}
        email = claims.get("email")
        subject = email if email else claims["sub"]
        if "certificateSigningRequest" in request:
            csr = x509.load_pem_x509_csr(base64.b64decode(request["certificateSigningRequest"]))
            if not csr.is_signature_valid:
                return 400, {"code": 3, "message": "the CSR's signature does not verify"}
            public = csr.public_key()
        else:
            pk = request["publicKeyRequest"]
            public = serialization.load_pem_public_key(pk["publicKey"]["content"].encode())
            try:
                public.verify(base64.b64decode(pk["proofOfPossession"]), subject.encode(), ec.ECDSA(hashes.SHA256()))
            except InvalidSignature:
                return 400, {"code": 3, "message": "the proof of possession does not verify over the subject"}
        if self.faults.get("fulcio") == "wrong-key":
            public = self.other_key.public_key()
        with self.lock:
            self.serial += 1
            serial = self.serial
        san = x509.RFC822Name(email) if email else x509.UniformResourceIdentifier(claims["sub"])
        cert = self._leaf(public, san, serial)
        chain = [cert.public_bytes(PEM).decode(), self.ca.public_bytes(PEM).decode()]
        return 201, {"signedCertificateEmbeddedSct": {"chain": {"certificates": chain}}}

    def _leaf(self, public, san, serial):
        now = datetime.datetime.now(UTC).replace(microsecond=0)

        def build(extra):
            b = (
                x509.CertificateBuilder()
                .subject_name(x509.Name([])).issuer_name(self.ca_name)
                .public_key(public).serial_number(serial)
                .not_valid_before(now - datetime.timedelta(seconds=30))
                .not_valid_after(now + datetime.timedelta(minutes=10))
                .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False)
                .add_extension(x509.SubjectAlternativeName([san]), critical=True)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.ca_key.public_key()), critical=False)
                .add_extension(x509.UnrecognizedExtension(ObjectIdentifier("1.3.6.1.4.1.57264.1.1"), self.issuer.encode()), critical=False)
                .add_extension(x509.UnrecognizedExtension(ObjectIdentifier("1.3.6.1.4.1.57264.1.8"), der_utf8(self.issuer)), critical=False)
            )
            for e in extra:
                b = b.add_extension(e, critical=False)
            return b.sign(self.ca_key, hashes.SHA256())

        # The SCT signs the precertificate: the leaf's TBS without the SCT extension.
        pre_tbs = build([]).tbs_certificate_bytes
        ts = int(time.time() * 1000)
        signed = (
            b"\x00\x00" + struct.pack(">Q", ts) + b"\x00\x01"
            + hashlib.sha256(spki(self.ca_key)).digest()
            + len(pre_tbs).to_bytes(3, "big") + pre_tbs + b"\x00\x00"
        )
        ct_sig = sign(self.ct_key, signed)
        sct = (
            b"\x00" + hashlib.sha256(spki(self.ct_key)).digest() + struct.pack(">Q", ts) + b"\x00\x00"
            + b"\x04\x03" + struct.pack(">H", len(ct_sig)) + ct_sig
        )
        sct_list = struct.pack(">H", len(sct) + 2) + struct.pack(">H", len(sct)) + sct
        return build([x509.UnrecognizedExtension(ObjectIdentifier("1.3.6.1.4.1.11129.2.4.2"), der_octets(sct_list))])

    # -- Rekor v1 -------------------------------------------------------------------------------

    def entry(self, body):
        proposed = json.loads(body)
        kind, version = proposed.get("kind"), proposed.get("apiVersion")
        spec = proposed.get("spec", {})
        try:
            if (kind, version) == ("hashedrekord", "0.0.1"):
                canonical = self._hashedrekord(spec)
            elif (kind, version) == ("dsse", "0.0.1"):
                canonical = self._dsse(spec)
            else:
                return 400, {"code": 400, "message": f"unsupported entry {kind} {version}"}
        except (ValueError, KeyError, InvalidSignature) as e:
            return 400, {"code": 400, "message": f"invalid entry: {e!r}"}
        body = json.dumps(canonical, separators=(",", ":"), sort_keys=True).encode()
        with self.lock:
            index = len(self.leaves)
            self.leaves.append(leaf_hash(body))
            leaves = list(self.leaves)
        integrated = int(time.time())
        set_payload = json.dumps({"body": B64(body), "integratedTime": integrated,
                                  "logID": self.log_id.hex(), "logIndex": index},
                                 separators=(",", ":"), sort_keys=True).encode()
        set_key = self.other_key if self.faults.get("rekor") == "bad-set" else self.log_key
        root = merkle_root(leaves)
        note = f"{self.origin}\n{len(leaves)}\n{B64(root)}\n"
        note_sig = self.log_id[:4] + sign(self.log_key, note.encode())
        checkpoint = note + f"\n\u2014 {self.host} {B64(note_sig)}\n"
        uuid = hashlib.sha256(body).hexdigest()
        return 201, {uuid: {
            "body": B64(body), "integratedTime": integrated, "logID": self.log_id.hex(), "logIndex": index,
            "verification": {
                "inclusionProof": {"checkpoint": checkpoint, "hashes": [h.hex() for h in audit_path(index, leaves)],
                                   "logIndex": index, "rootHash": root.hex(), "treeSize": len(leaves)},
                "signedEntryTimestamp": B64(sign(set_key, set_payload)),
            },
        }}

    @staticmethod
    def _verifier(pem_b64):
        pem = base64.b64decode(pem_b64)
        if b"CERTIFICATE" in pem:
            return x509.load_pem_x509_certificate(pem).public_key()
        return serialization.load_pem_public_key(pem)

    def _hashedrekord(self, spec):
        digest = bytes.fromhex(spec["data"]["hash"]["value"])
        if spec["data"]["hash"]["algorithm"] != "sha256" or len(digest) != 32:
            raise ValueError("only sha256 digests")
        sig = base64.b64decode(spec["signature"]["content"])
        key = self._verifier(spec["signature"]["publicKey"]["content"])
        key.verify(sig, digest, ec.ECDSA(Prehashed(hashes.SHA256())))
        return {"apiVersion": "0.0.1", "kind": "hashedrekord", "spec": {
            "data": {"hash": {"algorithm": "sha256", "value": digest.hex()}},
            "signature": {"content": spec["signature"]["content"],
                          "publicKey": {"content": spec["signature"]["publicKey"]["content"]}}}}

    def _dsse(self, spec):
        content = spec["proposedContent"]
        envelope = json.loads(content["envelope"])
        payload = base64.b64decode(envelope["payload"])
        ptype = envelope["payloadType"]
        pae = b"DSSEv1 %d %s %d " % (len(ptype), ptype.encode(), len(payload)) + payload
        signatures = []
        for s, verifier in zip(envelope["signatures"], content["verifiers"]):
            key = self._verifier(verifier)
            sig = base64.b64decode(s["sig"])
            key.verify(sig, pae, ec.ECDSA(hashes.SHA256()) if key.curve.name == "secp256r1"
                       else ec.ECDSA(hashes.SHA384()))
            signatures.append({"signature": s["sig"], "verifier": verifier})
        return {"apiVersion": "0.0.1", "kind": "dsse", "spec": {
            "envelopeHash": {"algorithm": "sha256", "value": hashlib.sha256(content["envelope"].encode()).hexdigest()},
            "payloadHash": {"algorithm": "sha256", "value": hashlib.sha256(payload).hexdigest()},
            "signatures": signatures}}

    # -- Rekor v2 -------------------------------------------------------------------------------

    @staticmethod
    def _v2_key(verifier):
        """A Rekor v2 verifier: an X.509 certificate or a public key, DER, and its key details."""
        if "x509Certificate" in verifier:
            der = base64.b64decode(verifier["x509Certificate"]["rawBytes"])
            key = x509.load_der_x509_certificate(der).public_key()
        else:
            key = serialization.load_der_public_key(base64.b64decode(verifier["publicKey"]["rawBytes"]))
        details = verifier["keyDetails"]
        hashes_for = {"PKIX_ECDSA_P256_SHA_256": hashes.SHA256(), "PKIX_ECDSA_P384_SHA_384": hashes.SHA384(),
                      "PKIX_ECDSA_P521_SHA_512": hashes.SHA512()}
        if details not in hashes_for:
            raise ValueError(f"unsupported keyDetails {details}")
        return key, hashes_for[details], {"SHA256": "SHA2_256", "SHA384": "SHA2_384", "SHA512": "SHA2_512"}[hashes_for[details].name.upper()]

    def entry_v2(self, body):
        """POST /api/v2/log/entries: a CreateEntryRequest (protojson field names, as rekor-tiles
        reads them), answered with the TransparencyLogEntry."""
        request = json.loads(body)
        try:
            # The spellings protobuf JSON readers accept: the json_name, the field name, and the
            # lowerCamel name sigstore-python writes.
            spelled = [k for k in ("hashedRekordRequestV0_0_2", "hashed_rekord_request_v002",
                                   "hashedRekordRequestV002") if k in request]
            if spelled:
                r = request[spelled[0]]
                verifier = r["signature"]["verifier"]
                key, hash_alg, alg_name = self._v2_key(verifier)
                digest = base64.b64decode(r["digest"])
                key.verify(base64.b64decode(r["signature"]["content"]), digest, ec.ECDSA(Prehashed(hash_alg)))
                kind = "hashedrekord"
                canonical = {"apiVersion": "0.0.2", "kind": kind, "spec": {"hashedRekordV002": {
                    "data": {"algorithm": alg_name, "digest": r["digest"]},
                    "signature": {"content": r["signature"]["content"], "verifier": verifier}}}}
            else:
                # Rekor v2 logs only hashedrekord entries (a DSSE envelope as one over its PAE).
                return 400, {"code": 3, "message": "the request names no hashedRekordRequestV0_0_2"}
        except (ValueError, KeyError, TypeError, InvalidSignature) as e:
            return 400, {"code": 3, "message": f"invalid entry: {e!r}"}
        body = json.dumps(canonical, separators=(",", ":"), sort_keys=True).encode()
        with self.lock:
            index = len(self.leaves2)
            self.leaves2.append(leaf_hash(body))
            leaves = list(self.leaves2)
        root = merkle_root(leaves)
        note = f"{self.host}\n{len(leaves)}\n{B64(root)}\n"
        signer = self.log2_other if self.faults.get("rekor2") == "bad-checkpoint" else self.log2_key
        note_sig = self.log2_id[:4] + signer.sign(note.encode())
        checkpoint = note + f"\n\u2014 {self.host} {B64(note_sig)}\n"
        return 201, {
            "logIndex": str(index),
            "logId": {"keyId": B64(self.log2_id)},
            "kindVersion": {"kind": kind, "version": "0.0.2"},
            "inclusionProof": {"logIndex": str(index), "rootHash": B64(root), "treeSize": str(len(leaves)),
                               "hashes": [B64(h) for h in audit_path(index, leaves)],
                               "checkpoint": {"envelope": checkpoint}},
            "canonicalizedBody": B64(body),
        }

    # -- TSA ------------------------------------------------------------------------------------

    def timestamp(self, body):
        req = tsp.TimeStampReq.load(body)
        imprint = req["message_imprint"]
        if self.faults.get("tsa") == "bad-timestamp":
            imprint = tsp.MessageImprint({"hash_algorithm": imprint["hash_algorithm"],
                                          "hashed_message": hashlib.sha256(b"other").digest()})
        with self.lock:
            self.serial += 1
            serial = self.serial
        info = tsp.TSTInfo({
            "version": "v1", "policy": "1.3.6.1.4.1.57264.2", "message_imprint": imprint,
            "serial_number": serial, "gen_time": datetime.datetime.now(UTC).replace(microsecond=0),
            "nonce": req["nonce"].native if req["nonce"].native is not None else None,
        })
        if req["nonce"].native is None:
            del info["nonce"]
        content = info.dump()
        tsa_cert = ax509.Certificate.load(self.tsa_cert.public_bytes(DER))
        signed_attrs = cms.CMSAttributes([
            cms.CMSAttribute({"type": "content_type", "values": ["tst_info"]}),
            cms.CMSAttribute({"type": "message_digest", "values": [hashlib.sha256(content).digest()]}),
            cms.CMSAttribute({"type": "signing_certificate_v2", "values": [{
                "certs": [{"cert_hash": hashlib.sha256(tsa_cert.dump()).digest()}]}]}),
        ])
        signature = sign(self.tsa_key, signed_attrs.dump())
        signer = cms.SignerInfo({
            "version": "v1",
            "sid": cms.SignerIdentifier({"issuer_and_serial_number": cms.IssuerAndSerialNumber({
                "issuer": tsa_cert.issuer, "serial_number": tsa_cert.serial_number})}),
            "digest_algorithm": algos.DigestAlgorithm({"algorithm": "sha256"}),
            "signed_attrs": signed_attrs,
            "signature_algorithm": algos.SignedDigestAlgorithm({"algorithm": "sha256_ecdsa"}),
            "signature": signature,
        })
        certificates = [tsa_cert] if req["cert_req"].native else []
        signed = cms.SignedData({
            "version": "v3",
            "digest_algorithms": [algos.DigestAlgorithm({"algorithm": "sha256"})],
            "encap_content_info": {"content_type": "tst_info", "content": core.ParsableOctetString(content)},
            "certificates": certificates,
            "signer_infos": [signer],
        })
        token = cms.ContentInfo({"content_type": "signed_data", "content": signed})
        return tsp.TimeStampResp({"status": {"status": "granted"}, "time_stamp_token": token}).dump()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    instance = None

    def log_message(self, *args):
        pass

    def _send(self, status, body, content_type="application/json"):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _fault(self, service):
        mode = self.instance.faults.get(service)
        if mode == "500":
            self._send(500, {"code": 500, "message": f"{service} is failing (injected)"})
            return True
        if mode == "echo":
            # A careless service quoting what it was sent: the client must not print the token.
            self._send(400, {"code": 400, "message": f"bad request: {self._body.decode(errors='replace')}"})
            return True
        if mode == "stall":
            time.sleep(60)
        return False

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        q = dict(urllib.parse.parse_qsl(url.query))
        i = self.instance
        if url.path == "/oidc/token":
            token = i.token(q.get("sub", "signer"), q.get("email"), q.get("aud", "sigstore"), int(q.get("ttl", "600")))
            return self._send(200, token.encode(), "text/plain")
        if url.path == "/oidc/.well-known/openid-configuration":
            return self._send(200, {"issuer": i.issuer, "authorization_endpoint": f"{i.issuer}/auth",
                                    "token_endpoint": f"{i.issuer}/token", "jwks_uri": f"{i.issuer}/keys",
                                    "id_token_signing_alg_values_supported": ["ES256"]})
        if url.path == "/oidc/keys":
            jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(i.oidc_key.public_key()))
            return self._send(200, {"keys": [dict(jwk, kid="test", alg="ES256", use="sig")]})
        if url.path == "/gha/token":
            if self.headers.get("Authorization", "").lower() != f"bearer {GHA_REQUEST_TOKEN}":
                return self._send(401, {"message": "bad request token"})
            sub = "repo:org/train:ref:refs/heads/main"
            return self._send(200, {"value": i.token(sub, None, q.get("audience", "sigstore"), 600)})
        return self._send(404, {"message": "not found"})

    def do_POST(self):
        url = urllib.parse.urlparse(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self._body = body
        i = self.instance
        if url.path == "/admin/fault":
            q = dict(urllib.parse.parse_qsl(url.query))
            i.faults[q["service"]] = q["mode"]
            return self._send(200, {"ok": True})
        if url.path == "/api/v2/signingCert":
            if self._fault("fulcio"):
                return
            status, answer = i.signing_cert(self.headers, body)
            return self._send(status, answer)
        if url.path == "/api/v1/log/entries":
            if self._fault("rekor"):
                return
            status, answer = i.entry(body)
            return self._send(status, answer)
        if url.path == "/api/v2/log/entries":
            if self._fault("rekor2"):
                return
            status, answer = i.entry_v2(body)
            return self._send(status, answer)
        if url.path == "/api/v1/timestamp":
            if self._fault("tsa"):
                return
            try:
                return self._send(200, i.timestamp(body), "application/timestamp-reply")
            except Exception as e:  # a malformed request
                return self._send(400, {"message": f"bad timestamp request: {e!r}"})
        return self._send(404, {"message": "not found"})


def serve(state):
    os.makedirs(state, exist_ok=True)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    url = f"http://127.0.0.1:{server.server_address[1]}"
    instance = Instance(url)
    Handler.instance = instance
    write = lambda name, obj: json.dump(obj, open(os.path.join(state, name), "w"), indent=1)
    root = instance.trusted_root()
    write("trusted_root.json", root)
    write("signing_config.json", instance.signing_config())
    write("signing_config.no-tsa.json", instance.signing_config(tsa=False))
    write("signing_config.rekor2.json", instance.signing_config(rekor2=True))
    write("signing_config.rekor2-no-tsa.json", instance.signing_config(tsa=False, rekor2=True))
    trust_config = lambda config: {"mediaType": "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json",
                                   "trustedRoot": root, "signingConfig": config}
    write("trust_config.json", trust_config(instance.signing_config()))
    write("trust_config.rekor2.json", trust_config(instance.signing_config(rekor2=True)))
    open(os.path.join(state, "pid"), "w").write(str(os.getpid()))
    # `url` last: its presence says the instance is ready.
    open(os.path.join(state, "url.tmp"), "w").write(url)
    os.rename(os.path.join(state, "url.tmp"), os.path.join(state, "url"))
    server.serve_forever()


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "serve":
        sys.exit(__doc__)
    serve(sys.argv[2])
