"""Signs a model as model_signing 0.2.0 (PyPI) signs it: a `Digests/v0.1` in-toto statement,
one subject per file, in a DSSE envelope signed by that release's own code (its PAE and its
SHA-256, whatever the curve). The peer for the deprecated predicate the verifiers still accept.

  .venv-legacy/bin/python scripts/model-signing-0.2.py MODEL SIGNATURE KEY.pem [CERT.pem [CHAIN.pem ...]]

scripts/setup-peers.sh installs model-signing==0.2.0 into .venv-legacy. With CERT, the bundle
names the signer by its certificate chain (0.2.0's PKISigner); without, by its key.
"""

import pathlib
import sys

from model_signing import api
from model_signing.signature import key, pki
from model_signing.signing import in_toto, in_toto_signature


def main(argv: list[str]) -> None:
    model, signature, private_key = argv[1], argv[2], argv[3]
    if len(argv) > 4:
        signer = pki.PKISigner.from_path(private_key, argv[4], argv[5:])
    else:
        signer = key.ECKeySigner.from_path(private_key)
    manifest = api.hash(pathlib.Path(model))
    payload = in_toto.DigestsIntotoPayload.from_manifest(manifest)
    bundle = in_toto_signature.IntotoSigner(signer).sign(payload)
    bundle.write(pathlib.Path(signature))


if __name__ == "__main__":
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    main(sys.argv)
