#!/usr/bin/env bash
# Helpers shared by the benchmark scripts. Source it after setting RUNS and DATA.

# make_file PATH MiB: deterministic pseudo-random bytes (AES-CTR keystream), kept across runs.
make_file() {
  [ -f "$1" ] && [ "$(stat -c %s "$1")" = $(( $2 * 1048576 )) ] && return
  mkdir -p "$(dirname "$1")"
  # openssl stops on SIGPIPE by design when head has enough.
  { openssl enc -aes-128-ctr -pass pass:modelseal-bench -nosalt -pbkdf2 </dev/zero 2>/dev/null || true; } \
    | head -c $(( $2 * 1048576 )) >"$1"
}

# measure LABEL DATA BYTES CMD...: runs CMD $RUNS times (running "$MEASURE_BEFORE" before each,
# if set), prints a table row: median wall seconds, GB/s over BYTES, max peak RSS. A failing run
# stops the benchmark: figures of a command that did not do its job mean nothing.
measure() {
  local label=$1 data=$2 bytes=$3; shift 3
  local walls=() rss=0 out
  for _ in $(seq "$RUNS"); do
    [ -n "${MEASURE_BEFORE:-}" ] && eval "$MEASURE_BEFORE"
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
