#!/usr/bin/env bash
# Sharded and BLAKE3 signatures, local verification: one 4 GiB single-file model signed three
# ways by modelseal (files/sha256, shards/sha256 at 256 MiB, files/blake3), each verified by
# modelseal and by model_signing 1.1.1 (its CLI for files/sha256; its Python API, given the
# hashing configuration, for the other two), beside `openssl dgst -sha256` of the file (one
# core's SHA-256: the floor for files/sha256), on the same cached data in one run.
#
#   bench/shards.sh [RUNS]      (default 3; data goes to bench/data, 4 GiB, kept for reruns)
#
# Sharded models from S3 (modelseal-init, `pull`, `verify s3://`, one shard worker per core)
# are measured by bench/cpu.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}
DATA=${BENCH_DATA:-bench/data}
# shellcheck source=bench/lib.sh
source bench/lib.sh
scripts/setup-peers.sh >/dev/null
release_modelseal
PY=$PWD/.venv/bin/python
REF=.venv/bin/model_signing
mkdir -p "$DATA"
make_file "$DATA/one-4g/model.bin" 4096
bench_key
BYTES=$((4 << 30))
SHARD=$((256 << 20))
sign() { "$MS" sign "$DATA/one-4g" --key "$DATA/key.pem" --signature "$DATA/one-4g.$1.sig" "${@:2}" >/dev/null; }
[ -f "$DATA/one-4g.files.sig" ] || sign files
[ -f "$DATA/one-4g.shards.sig" ] || sign shards --shard-size "$SHARD"
[ -f "$DATA/one-4g.blake3.sig" ] || sign blake3 --hash-algorithm blake3
cat "$DATA/one-4g/model.bin" >/dev/null   # warm the page cache

cat >"$DATA/ref_api.py" <<'PY'
# model_signing's API with an explicit hashing configuration: KEY SIG HASHING MODEL
import pathlib, sys
from model_signing import hashing, verifying
c = verifying.Config().use_elliptic_key_verifier(public_key=pathlib.Path(sys.argv[1]))
c.set_hashing_config(eval("hashing.Config()." + sys.argv[3]))
c.verify(pathlib.Path(sys.argv[4]), pathlib.Path(sys.argv[2]))
PY
ms_verify=("$MS" verify "$DATA/one-4g" --key "$DATA/key.pub" -q --signature)
ref_api=("$PY" "$DATA/ref_api.py" "$DATA/key.pub")

echo
machine_line
sha256_limit
table_head
measure "openssl dgst -sha256 (floor, one core)" one-4g "$BYTES" openssl dgst -sha256 "$DATA/one-4g/model.bin"
measure "modelseal verify, files/sha256" one-4g "$BYTES" "${ms_verify[@]}" "$DATA/one-4g.files.sig"
measure "modelseal verify, shards/sha256 256 MiB" one-4g "$BYTES" "${ms_verify[@]}" "$DATA/one-4g.shards.sig"
measure "modelseal verify, files/blake3" one-4g "$BYTES" "${ms_verify[@]}" "$DATA/one-4g.blake3.sig"
measure "model_signing CLI, files/sha256" one-4g "$BYTES" "$REF" verify key --public_key "$DATA/key.pub" --signature "$DATA/one-4g.files.sig" "$DATA/one-4g"
measure "model_signing API, shards/sha256" one-4g "$BYTES" "${ref_api[@]}" "$DATA/one-4g.shards.sig" "use_shard_serialization(shard_size=$SHARD)" "$DATA/one-4g"
measure "model_signing API, files/blake3" one-4g "$BYTES" "${ref_api[@]}" "$DATA/one-4g.blake3.sig" "use_file_serialization(hashing_algorithm='blake3')" "$DATA/one-4g"
