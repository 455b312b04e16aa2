#!/usr/bin/env bash
# Helpers shared by the benchmark scripts. Source it after setting RUNS and DATA.

# shellcheck source=scripts/cargo-target.sh
source scripts/cargo-target.sh

# release_modelseal: build the release CLI and set MS to it (wherever cargo puts binaries).
release_modelseal() {
  cargo build --release --locked -q -p modelseal
  MS=$(cargo_target_dir)/release/modelseal
}

# make_file PATH MiB: deterministic pseudo-random bytes (AES-CTR keystream), kept across runs.
make_file() {
  [ -f "$1" ] && [ "$(stat -c %s "$1")" = $(( $2 * 1048576 )) ] && return
  mkdir -p "$(dirname "$1")"
  # openssl stops on SIGPIPE by design when head has enough.
  { openssl enc -aes-128-ctr -pass pass:modelseal-bench -nosalt -pbkdf2 </dev/zero 2>/dev/null || true; } \
    | head -c $(( $2 * 1048576 )) >"$1"
}

# measure LABEL DATA BYTES CMD...: runs CMD $RUNS times (running "$MEASURE_BEFORE" before each,
# if set, then `sync`, so that no run pays for writing back what an earlier one left in the page
# cache), prints a table row: median wall seconds, GB/s over BYTES, max peak RSS. A failing run
# stops the benchmark: figures of a command that did not do its job mean nothing.
measure() {
  local label=$1 data=$2 bytes=$3; shift 3
  local walls=() rss=0 out
  for _ in $(seq "$RUNS"); do
    [ -n "${MEASURE_BEFORE:-}" ] && eval "$MEASURE_BEFORE"
    sync
    if ! /usr/bin/time -o "$DATA/.time" -f '%e %M' "$@" >/dev/null 2>"$DATA/.stderr"; then
      echo "bench: '$label' failed on $data:" >&2; cat "$DATA/.stderr" >&2; exit 1
    fi
    out=$(tail -1 "$DATA/.time")
    walls+=("${out% *}")
    [ "${out#* }" -gt "$rss" ] && rss=${out#* }
  done
  local median
  median=$(printf '%s\n' "${walls[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  awk -v l="$label" -v d="$data" -v m="$median" -v b="$bytes" -v r="$rss" \
    'BEGIN { printf "| %-40s | %-10s | %6.2f | %5.2f | %7.1f |\n", l, d, m, (m > 0 ? b / m / 1e9 : 0), r / 1024 }'
}

table_head() {
  echo "| tool                                     | data       | wall s |  GB/s | RSS MiB |"
  echo "|------------------------------------------|------------|--------|-------|---------|"
}

machine_line() {
  echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/^Mem:/ {print $2}') GiB RAM; runs: $RUNS (median wall, max RSS)"
}

sha256_limit() {
  local limit
  limit=$(openssl speed -evp sha256 -bytes 1048576 -seconds 2 2>/dev/null | awk '/^sha256/ {sub("k","",$2); printf "%.0f", $2 / 1000}')
  echo "SHA-256 limit of one core here (openssl speed -evp sha256, 1 MiB blocks): ${limit} MB/s"
}

# bench_key: the P-256 signing key every benchmark uses, made once.
bench_key() {
  [ -f "$DATA/key.pem" ] && return
  openssl ecparam -name prime256v1 -genkey -noout -out "$DATA/key.pem"
  openssl pkey -in "$DATA/key.pem" -pubout -out "$DATA/key.pub"
}

# bench_venv [PACKAGE...]: ./.venv-bench with awscli and the given packages (kept apart from
# ./.venv so the peers under test never change the test suite's dependencies).
bench_venv() {
  [ -x .venv-bench/bin/aws ] || { python3 -m venv .venv-bench && .venv-bench/bin/pip install -q --disable-pip-version-check awscli; }
  [ $# -eq 0 ] || .venv-bench/bin/pip install -q --disable-pip-version-check "$@"
  AWS=$PWD/.venv-bench/bin/aws
}

# start_s3rver_env: s3rver on loopback (scripts/servers.sh must be sourced) and the AWS
# variables that reach it; sets B to its bucket.
start_s3rver_env() {
  start_s3rver
  export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1
  export AWS_ENDPOINT_URL=$S3RVER_URL AWS_EC2_METADATA_DISABLED=true
  B=$S3RVER_BUCKET
}

# publish MODEL...: sign each $DATA/MODEL with $MS (signature kept beside it) and upload model
# and signature to s3://$B/MODEL with awscli.
publish() {
  local m
  for m in "$@"; do
    "$MS" sign "$DATA/$m" --key "$DATA/key.pem" --signature "$DATA/$m.sig" >/dev/null
    "$AWS" s3 cp --quiet --recursive "$DATA/$m" "s3://$B/$m"
    "$AWS" s3 cp --quiet "$DATA/$m.sig" "s3://$B/$m/model.sig"
  done
}

# curl_configs OUT MODEL...: a curl config per model fetching every object to OUT/curl/, so one
# curl process GETs them one after another (the no-work baseline).
curl_configs() {
  local out=$1 m f; shift
  for m in "$@"; do
    for f in $(cd "$DATA/$m" && ls); do printf 'url = "%s"\noutput = "%s"\n' "$S3RVER_URL/$B/$m/$f" "$out/curl/$f"; done >"$out/curl-$m.cfg"
  done
}

# floor_configs OUT MODEL...: a curl config per model GETting every object in 6 MiB ranges to
# /dev/null (as modelseal-init's defaults cut them), for `curl -Z --parallel-max 6`.
floor_configs() {
  local out=$1 m f size off; shift
  for m in "$@"; do
    for f in $(cd "$DATA/$m" && ls); do
      size=$(stat -c %s "$DATA/$m/$f")
      for ((off = 0; off < size; off += 6 << 20)); do
        printf 'url = "%s"\nrange = "%d-%d"\noutput = "/dev/null"\nfail\n' \
          "$S3RVER_URL/$B/$m/$f" "$off" "$(( (off + (6 << 20) < size ? off + (6 << 20) : size) - 1 ))"
        if [ $((off + (6 << 20))) -lt "$size" ]; then echo next; fi
      done
      if [ "$f" != "$(cd "$DATA/$m" && ls | tail -1)" ]; then echo next; fi
    done >"$out/floor-$m.cfg"
  done
}

# bench_s3_begin [init] [kserve] [proxy]: the start every S3 benchmark shares. Installs the peers
# and awscli (and kserve-storage 0.21.0 with `kserve`), builds the release CLI as MS (the static
# modelseal-init as INIT with `init`, testkit's fault-proxy as PROXY with `proxy`), sources
# scripts/servers.sh, makes OUT (removed at exit, after "$BENCH_AT_EXIT" runs and the servers
# stop) and starts s3rver with the AWS variables that reach it (and, with `kserve`, the
# S3_ENDPOINT ones KServe's webhook injects).
bench_s3_begin() {
  local want=" $* " packages=(-p modelseal)
  scripts/setup-peers.sh
  bench_venv
  if [[ $want == *" kserve "* ]]; then
    .venv-bench/bin/python -c 'import kserve_storage' 2>/dev/null || bench_venv kserve-storage==0.21.0
  fi
  if [[ $want == *" init "* ]]; then INIT=$(scripts/build-init.sh); fi
  if [[ $want == *" proxy "* ]]; then packages+=(-p modelseal-testkit); PROXY=$(cargo_target_dir)/release/fault-proxy; fi
  cargo build --release --locked -q "${packages[@]}"
  MS=$(cargo_target_dir)/release/modelseal
  # shellcheck source=scripts/servers.sh
  source scripts/servers.sh
  OUT=$(mktemp -d)
  trap 'eval "${BENCH_AT_EXIT:-}"; stop_servers; rm -rf "$OUT"' EXIT
  start_s3rver_env
  # What KServe's webhook injects for an http endpoint, for the runs beside kserve-storage.
  if [[ $want == *" kserve "* ]]; then
    export S3_ENDPOINT=${S3RVER_URL#http://} S3_USE_HTTPS=0 S3_VERIFY_SSL=0
  fi
}

# serve MODEL...: what every S3 benchmark does with its models once made: the key, each model
# signed and uploaded to s3rver (publish), MODELSEAL_PUBLIC_KEY for modelseal-init, and a floor
# config per model (floor_configs).
serve() {
  bench_key
  publish "$@"
  MODELSEAL_PUBLIC_KEY=$(realpath "$DATA/key.pub")
  export MODELSEAL_PUBLIC_KEY
  floor_configs "$OUT" "$@"
}
