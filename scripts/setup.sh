#!/usr/bin/env bash
# Installs everything `ingest` needs on a fresh Debian machine of this project's kind, idempotently:
# librdkafka, ISA-L and libsnappy (the Avro file's deflate and snappy), the independent checking tools, chromium (the
# dashboard's browser tests, driven by playwright-core) and prometheus (promtool checks the alert rules) from apt, Bun
# (pinned) from the npm registry into .tools/, the npm dependencies, Apache Kafka 4.4's jars through Maven, and any
# local service (MariaDB, Redis) that is down.
set -euo pipefail
cd "$(dirname "$0")/.."
BUN_VERSION=$(sed -n 's/.*"packageManager": *"bun@\([^"]*\)".*/\1/p' package.json)

log() { printf '[setup] %s\n' "$*" >&2; }

apt_pkgs=(librdkafka1 librdkafka-dev libisal2 libisal-dev libsnappy1v5 kcat avro-bin python3-avro python3-snappy wrk hyperfine docker-compose gcc chromium prometheus)
missing=()
for p in "${apt_pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if ((${#missing[@]})); then
  log "apt: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [[ ! -x .tools/node_modules/.bin/bun ]] || [[ "$(.tools/node_modules/.bin/bun --version)" != "$BUN_VERSION" ]]; then
  log "bun $BUN_VERSION from the npm registry into .tools/"
  mkdir -p .tools
  npm install --silent --no-audit --no-fund --prefix .tools "bun@$BUN_VERSION" >/dev/null
fi
export PATH="$PWD/.tools/node_modules/.bin:$PATH"
log "bun $(bun --version)"

bun install --frozen-lockfile >/dev/null
log "npm dependencies installed"

# Apache Kafka 4.4's jars (the real-Kafka harness, tools/kafka): resolved by Maven from Maven
# Central once into ~/.m2, the classpath cached in .cache/kafka4. Java and Maven come with the
# machine; apt installs them where they are missing.
if ! command -v java >/dev/null || ! command -v mvn >/dev/null; then
  log "apt: installing a JRE and Maven for the Kafka 4.4 harness"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends default-jre-headless maven >/dev/null
fi
bun tools/kafka/cli.ts prepare 2>&1 | sed 's/^kafka.sh: /[setup] Kafka 4.4: /' >&2
# Apicurio Registry (the schema-registry tests, tools/registry): its `all` assembly from Maven
# Central, unpacked once into .cache/registry.
log "schema registry: $(bun -e 'import { registryJar } from "./tools/registry/registry.ts"; console.log(registryJar())')"

# Local services the tests use; start whichever is down (commands from the machine's docs).
if ! (exec 3<>/dev/tcp/127.0.0.1/3306) 2>/dev/null; then
  log "starting MariaDB"
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd || true
fi
if ! (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null; then
  log "starting Redis"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
fi
for i in $(seq 1 30); do
  (exec 3<>/dev/tcp/127.0.0.1/3306) 2>/dev/null && (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null && break
  sleep 1
done
