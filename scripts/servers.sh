#!/usr/bin/env bash
# Starts the loopback S3 + KMS servers the tests and benchmarks use, and stops them.
# Source it, then: start_moto; start_s3rver; ...; stop_servers (or trap stop_servers EXIT).
#   moto server (PyPI moto[server]): S3 with SSE-KMS semantics, and KMS   -> $MOTO_URL
#   s3rver (npm): a second, faster S3 implementation, bucket $S3RVER_BUCKET -> $S3RVER_URL
# Both bind 127.0.0.1 only, on free ports. Installs what is missing.

_servers_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
_server_pids=()
_server_dirs=()
_server_logs=""

# Server logs live in a directory stop_servers removes (shown when a server fails to start).
_ensure_logs() { # not in a subshell: it sets _server_logs
  [ -n "$_server_logs" ] || { _server_logs=$(mktemp -d); _server_dirs+=("$_server_logs"); }
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

wait_for() { # url what log
  for _ in $(seq 100); do
    curl -s -o /dev/null "$1" && return 0
    sleep 0.1
  done
  echo "servers: $2 did not start on $1; its log:" >&2
  tail -n 20 "$3" >&2 || true
  return 1
}

start_moto() {
  [ -x "$_servers_root/.venv/bin/moto_server" ] || "$_servers_root/.venv/bin/pip" install -q --disable-pip-version-check 'moto[server]==5.2.5'
  local port log; port=$(free_port); _ensure_logs; log="$_server_logs/moto-$port.log"
  "$_servers_root/.venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
  _server_pids+=($!)
  export MOTO_URL="http://127.0.0.1:$port"
  wait_for "$MOTO_URL/moto-api/" "moto" "$log"
}

start_s3rver() {
  command -v node >/dev/null || { apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null; }
  [ -x "$_servers_root/.tools/node_modules/.bin/s3rver" ] || (mkdir -p "$_servers_root/.tools" && cd "$_servers_root/.tools" && npm install --silent --no-audit --no-fund s3rver@3.7.1 >/dev/null)
  local port dir log; port=$(free_port); dir=$(mktemp -d); _ensure_logs; log="$_server_logs/s3rver-$port.log"
  export S3RVER_BUCKET=${S3RVER_BUCKET:-modelseal}
  # s3rver 3.7.1 encrypts ListObjectsV2 continuation tokens with DES, which Node's OpenSSL 3
  # offers only with the legacy provider: without it every listing past 1,000 keys is a 500.
  NODE_OPTIONS="${NODE_OPTIONS:+$NODE_OPTIONS }--openssl-legacy-provider" \
  "$_servers_root/.tools/node_modules/.bin/s3rver" -d "$dir" -a 127.0.0.1 -p "$port" --configure-bucket "$S3RVER_BUCKET" --silent >"$log" 2>&1 &
  _server_pids+=($!)
  _server_dirs+=("$dir")
  export S3RVER_URL="http://127.0.0.1:$port"
  export S3RVER_DIR="$dir"
  wait_for "$S3RVER_URL/" "s3rver" "$log"
}

# Safe in an EXIT trap under `set -e`: a killed server's status (143) must not become the
# script's exit status.
stop_servers() {
  local pid dir
  for pid in "${_server_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${_server_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  for dir in "${_server_dirs[@]}"; do rm -rf "$dir"; done
  _server_pids=(); _server_dirs=(); _server_logs=""
  return 0
}
