#!/usr/bin/env bash
# Remakes the leaves and signatures of these vectors with the real model_signing 1.1.1 (the
# leaves expire a year after they were issued; the issuing CA in ca/ lasts until 2031-11).
# Keeps each case's model/ and roots.pem; re-signs the model as it is.
#
#   testdata/model-signing-pki/remake.sh [PATH/TO/model_signing]   # default: ./.venv/bin/model_signing
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
ms="${1:-$here/../../.venv/bin/model_signing}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# leaf NAME CURVE CN EXTENSIONS: a key and a leaf issued by ca/intermediate for a year.
leaf() {
    openssl ecparam -name "$2" -genkey -noout -out "$work/$1.key"
    openssl pkey -in "$work/$1.key" -pubout -out "$work/$1.pub"
    printf '%b' "$4" > "$work/$1.ext"
    openssl x509 -new -force_pubkey "$work/$1.pub" -subj "/CN=$3" \
        -CA "$here/ca/intermediate.pem" -CAkey "$here/ca/intermediate.key" \
        -set_serial "0x$(openssl rand -hex 8)" -days 365 -extfile "$work/$1.ext" -out "$work/$1.pem"
}
signing='basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=codeSigning\n'
leaf pipeline prime256v1 ml-pipeline "${signing}subjectAltName=email:pipeline@models.example\n"
leaf p384 secp384r1 p384-signer "$signing"
leaf encipher prime256v1 not-for-signing 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,keyEncipherment\n'

# sign CASE LEAF: model_signing's certificate method, leaf + issuing CA in the bundle.
sign() {
    "$ms" sign certificate "$here/$1/model" --private_key "$work/$2.key" \
        --signing_certificate "$work/$2.pem" --certificate_chain "$here/ca/intermediate.pem" \
        --signature "$here/$1/model.sig"
}
# leaf_only CASE: the bundle keeps the leaf alone (the chain is not covered by the signature).
leaf_only() {
    python3 - "$here/$1/model.sig" <<'PY'
import json, sys
p = sys.argv[1]
b = json.load(open(p))
certs = b["verificationMaterial"]["x509CertificateChain"]["certificates"]
del certs[1:]
open(p, "w").write(json.dumps(b, separators=(",", ":")))
PY
}

sign public-chain-in-bundle pipeline
sign public-wrong-root_fail pipeline
sign public-p384-leaf p384
sign public-leaf-not-for-signing_fail encipher
sign public-intermediate-missing_fail pipeline && leaf_only public-intermediate-missing_fail
sign public-intermediate-trusted pipeline && leaf_only public-intermediate-trusted
sign public-tampered_fail pipeline
# One byte of the weights flipped after signing.
python3 - "$here/public-tampered_fail/model/weights.bin" <<'PY'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
b[len(b) // 2] ^= 1
open(p, "wb").write(b)
PY
echo "remade; check each case's EXPECT with: cargo test --test cli vectors::model_signing_pki"
