#!/usr/bin/env bash
# Builds the Go and Node.js contenders of `bun run bench` (bench/run.ts calls it when one
# is missing). Idempotent: installs only missing apt packages, rebuilds only what is missing or
# older than its source. A contender that cannot be built gets bench/build/<name>.unavailable
# with a one-line reason (run.ts prints it in the table) and the script goes on: it always exits 0.
#
#   bash bench/setup.sh [go|node ...]     (no argument: both)
set -uo pipefail
cd "$(dirname "$0")"
NB=$PWD
mkdir -p build
want=("$@")
[ ${#want[@]} -eq 0 ] && want=(go node)

log() { echo "setup: $*" >&2; }
unavailable() { echo "$2" >"$NB/build/$1.unavailable"; log "$1 unavailable: $2"; }

# apt: only what is missing, one update per run at most.
updated=0
apt_need() {
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  if ! command -v apt-get >/dev/null; then log "no apt-get to install ${missing[*]}"; return 1; fi
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  if [ $updated -eq 0 ]; then $sudo apt-get update -qq >&2 && updated=1; fi
  log "apt-get install ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >&2
}

build_go() {
  local bin="$NB/build/go-bench" src="$NB/go/bench.go"
  if [ -x "$bin" ] && [ "$bin" -nt "$src" ]; then rm -f build/go.unavailable; return 0; fi
  # The predecessor's stack: Debian's Go 1.19 and confluent-kafka-go 0.11.6 (cgo, system librdkafka).
  if ! apt_need golang-go golang-github-confluentinc-confluent-kafka-go-dev librdkafka-dev pkg-config gcc; then
    unavailable go "apt-get install golang-go golang-github-confluentinc-confluent-kafka-go-dev failed"
    return 0
  fi
  local out
  # GOPATH mode, nothing downloaded: the binding comes from /usr/share/gocode.
  if ! out=$(cd go && GO111MODULE=off GOPATH=/usr/share/gocode GOFLAGS= CGO_ENABLED=1 \
    GOCACHE="${GOCACHE:-$NB/build/.gocache}" go build -o "$bin" bench.go 2>&1); then
    unavailable go "go build failed: $(echo "$out" | grep -v '^#' | head -1)"
    rm -f "$bin" # a stale binary would be benchmarked as if it were this source
    return 0
  fi
  rm -f build/go.unavailable
  log "built $bin"
}

build_node() {
  local mod="$NB/node/node_modules/@confluentinc/kafka-javascript"
  local addon="$mod/build/Release/confluent-kafka-javascript.node"
  local version
  version=$(node -p 'require("./node/package.json").dependencies["@confluentinc/kafka-javascript"]' 2>/dev/null)
  if [ -f "$addon" ] && [ "$(node -p "require('$mod/package.json').version" 2>/dev/null)" = "$version" ]; then
    rm -f build/node.unavailable
    return 0
  fi
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    unavailable node "node/npm not found"
    return 0
  fi
  # Native build tools and the libraries the bundled librdkafka links to.
  if ! apt_need g++ make python3 libzstd-dev liblz4-dev libsasl2-dev libssl-dev zlib1g-dev; then
    unavailable node "apt-get install of the native build dependencies failed"
    return 0
  fi
  # No prebuilt binary can be downloaded here: build from source. The binding needs librdkafka
  # >= 2.5 APIs (rd_kafka_Uuid_t, DescribeTopics...), so it cannot compile against Debian's
  # 2.0.2; CKJS_LINKING=dynamic builds its bundled librdkafka as a shared library next to it.
  log "npm install @confluentinc/kafka-javascript@$version from source (several minutes)"
  local out
  if ! out=$(cd node && CKJS_LINKING=dynamic npm_config_build_from_source=true \
    npm_config_nodedir="${npm_config_nodedir:-/usr}" \
    npm install --no-audit --no-fund --no-package-lock 2>&1); then
    unavailable node "npm install @confluentinc/kafka-javascript@$version failed: $(echo "$out" | grep -m1 -E 'error:|ERR!' | cut -c1-200)"
    return 0
  fi
  if ! out=$(cd node && node -e 'require("@confluentinc/kafka-javascript").librdkafkaVersion' 2>&1); then
    unavailable node "@confluentinc/kafka-javascript built but does not load: $(echo "$out" | grep -m1 Error)"
    return 0
  fi
  rm -f build/node.unavailable
  log "installed node contender ($(cd node && node -p 'require("@confluentinc/kafka-javascript").librdkafkaVersion') librdkafka)"
}

for w in "${want[@]}"; do
  case "$w" in
    go) build_go ;;
    node) build_node ;;
    *) log "unknown contender $w" ;;
  esac
done
exit 0
