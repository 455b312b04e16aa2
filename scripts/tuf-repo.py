#!/usr/bin/env python3
"""A TUF repository for tests, made with python-tuf (the reference implementation), serving
Sigstore's targets (`trusted_root.json`, `signing_config.v0.2.json`) as Sigstore's TUF
repository does: consistent snapshots, ECDSA P-256 keys (root and targets threshold 2 of 3;
snapshot and timestamp 1 of 1).

  scripts/tuf-repo.py init DIR TRUSTED_ROOT SIGNING_CONFIG   a new repository in DIR
  scripts/tuf-repo.py publish DIR TRUSTED_ROOT SIGNING_CONFIG new target contents, new versions
  scripts/tuf-repo.py rotate-root DIR    root v(n+1) with new keys, signed by the old and new
  scripts/tuf-repo.py expire DIR         a new timestamp that expired yesterday
  scripts/tuf-repo.py rollback DIR       a timestamp whose version is lower than the current
  scripts/tuf-repo.py tamper DIR         flip a byte of the newest trusted_root.json target
  scripts/tuf-repo.py serve DIR          serve DIR/repo on 127.0.0.1 (writes DIR/url)

DIR/repo is what a mirror serves (metadata at the top, targets/ below); DIR/keys holds the
private keys (test only); DIR/root.json is version 1, the client's bootstrap root.
"""
import datetime
import functools
import hashlib
import http.server
import json
import os
import shutil
import sys

from securesystemslib.signer import CryptoSigner
from tuf.api.metadata import (
    Metadata, MetaFile, Root, Snapshot, TargetFile, Targets, Timestamp,
)
from tuf.api.serialization.json import JSONSerializer

UTC = datetime.timezone.utc
TARGET_NAMES = ("trusted_root.json", "signing_config.v0.2.json")
ROLES = ("root", "targets", "snapshot", "timestamp")


def expiry(days):
    return datetime.datetime.now(UTC).replace(microsecond=0) + datetime.timedelta(days=days)


class Repo:
    def __init__(self, d):
        self.d = d
        self.repo = os.path.join(d, "repo")
        self.keys = os.path.join(d, "keys")

    def signer(self, name):
        from cryptography.hazmat.primitives.serialization import load_pem_private_key
        pem = open(os.path.join(self.keys, name + ".pem"), "rb").read()
        priv = load_pem_private_key(pem, None)
        meta = json.load(open(os.path.join(self.keys, name + ".json")))
        from securesystemslib.signer import Key
        key = Key.from_dict(meta["keyid"], meta["key"])
        return CryptoSigner(priv, key)

    def new_key(self, name):
        s = CryptoSigner.generate_ecdsa()
        os.makedirs(self.keys, exist_ok=True)
        from cryptography.hazmat.primitives import serialization
        open(os.path.join(self.keys, name + ".pem"), "wb").write(
            s._private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                         serialization.NoEncryption()))
        json.dump({"keyid": s.public_key.keyid, "key": s.public_key.to_dict()},
                  open(os.path.join(self.keys, name + ".json"), "w"))
        return s

    def write(self, md, name):
        os.makedirs(self.repo, exist_ok=True)
        data = md.to_bytes(JSONSerializer(compact=False))
        open(os.path.join(self.repo, name), "wb").write(data)
        return data

    def load(self, name):
        return Metadata.from_file(os.path.join(self.repo, name))

    def state(self):
        return json.load(open(os.path.join(self.d, "state.json")))

    def save_state(self, st):
        json.dump(st, open(os.path.join(self.d, "state.json"), "w"))

    def sign(self, md, names):
        for n in names:
            md.sign(self.signer(n), append=True)

    def role_keys(self, st, role):
        return st["keys"][role]

    def targets_and_on(self, st, files, targets_version):
        """Targets (with the target files), snapshot, timestamp: the non-root chain."""
        os.makedirs(os.path.join(self.repo, "targets"), exist_ok=True)
        targets = Targets(version=targets_version, expires=expiry(30))
        for name, path in zip(TARGET_NAMES, files):
            data = open(path, "rb").read()
            tf = TargetFile.from_data(name, data, ["sha256", "sha512"])
            targets.targets[name] = tf
            digest = hashlib.sha256(data).hexdigest()
            open(os.path.join(self.repo, "targets", f"{digest}.{name}"), "wb").write(data)
        md = Metadata(targets)
        self.sign(md, self.role_keys(st, "targets")[:2])
        tdata = self.write(md, f"{targets_version}.targets.json")
        st["targets"] = targets_version
        self.snapshot_and_timestamp(st, tdata)

    def snapshot_and_timestamp(self, st, tdata=None, timestamp_days=7):
        st["snapshot"] = st.get("snapshot", 0) + 1
        snap = Snapshot(version=st["snapshot"], expires=expiry(7))
        snap.meta["targets.json"] = MetaFile(version=st["targets"])
        md = Metadata(snap)
        self.sign(md, self.role_keys(st, "snapshot"))
        sdata = self.write(md, f"{st['snapshot']}.snapshot.json")
        self.timestamp(st, sdata, timestamp_days)

    def timestamp(self, st, sdata, days=1, version=None):
        st["timestamp"] = version if version is not None else st.get("timestamp", 0) + 1
        ts = Timestamp(version=st["timestamp"], expires=expiry(days))
        ts.snapshot_meta = MetaFile(version=st["snapshot"], length=len(sdata),
                                    hashes={"sha256": hashlib.sha256(sdata).hexdigest()})
        md = Metadata(ts)
        self.sign(md, self.role_keys(st, "timestamp"))
        self.write(md, "timestamp.json")

    def root(self, st, version, signers):
        root = Root(version=version, expires=expiry(365), consistent_snapshot=True)
        for role in ROLES:
            for name in st["keys"][role]:
                root.add_key(self.signer(name).public_key, role)
            root.roles[role].threshold = 2 if role in ("root", "targets") else 1
        md = Metadata(root)
        self.sign(md, signers)
        data = self.write(md, f"{version}.root.json")
        if version == 1:
            open(os.path.join(self.d, "root.json"), "wb").write(data)
        st["root"] = version


def main(cmd, d, *args):
    r = Repo(d)
    if cmd == "init":
        shutil.rmtree(r.repo, ignore_errors=True)
        st = {"keys": {}}
        for role in ROLES:
            n = 3 if role in ("root", "targets") else 1
            st["keys"][role] = [f"{role}-{i}" for i in range(n)]
            for name in st["keys"][role]:
                r.new_key(name)
        r.root(st, 1, st["keys"]["root"][:2])
        r.targets_and_on(st, args, 1)
    elif cmd == "publish":
        st = r.state()
        r.targets_and_on(st, args, st["targets"] + 1)
    elif cmd == "rotate-root":
        st = r.state()
        old = st["keys"]["root"]
        v = st["root"] + 1
        st["keys"]["root"] = [f"root-v{v}-{i}" for i in range(3)]
        for name in st["keys"]["root"]:
            r.new_key(name)
        # Signed by a threshold of the old root keys and of the new ones.
        r.root(st, v, old[:2] + st["keys"]["root"][:2])
    elif cmd == "expire":
        st = r.state()
        sdata = open(os.path.join(r.repo, f"{st['snapshot']}.snapshot.json"), "rb").read()
        r.timestamp(st, sdata, days=-1)
    elif cmd == "rollback":
        st = r.state()
        sdata = open(os.path.join(r.repo, f"{st['snapshot']}.snapshot.json"), "rb").read()
        r.timestamp(st, sdata, version=max(1, st["timestamp"] - 1))
    elif cmd == "tamper":
        st = r.state()
        targets = json.load(open(os.path.join(r.repo, f"{st['targets']}.targets.json")))
        digest = targets["signed"]["targets"]["trusted_root.json"]["hashes"]["sha256"]
        p = os.path.join(r.repo, "targets", f"{digest}.trusted_root.json")
        data = bytearray(open(p, "rb").read())
        data[len(data) // 2] ^= 1
        open(p, "wb").write(bytes(data))
        return
    elif cmd == "serve":
        handler = functools.partial(Quiet, directory=r.repo)
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        open(os.path.join(d, "url.tmp"), "w").write(f"http://127.0.0.1:{server.server_address[1]}")
        os.rename(os.path.join(d, "url.tmp"), os.path.join(d, "url"))
        server.serve_forever()
        return
    else:
        sys.exit(__doc__)
    r.save_state(st)


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2], *sys.argv[3:])
