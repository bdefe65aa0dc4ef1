#!/usr/bin/env bash
# A real Apache Kafka 4.4 (KRaft) on 127.0.0.1 from Maven Central's jars, without Docker:
#   bash scripts/kafka.sh start [--nodes 1|3]   -> prints the bootstrap servers
#   bash scripts/kafka.sh stop | status | env | run | tool NAME ARGS | classpath | --help
# The work is done by tools/kafka/cli.ts (cluster.ts is shared with the tests and benchmarks).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.tools/node_modules/.bin:$PATH"
command -v bun >/dev/null || { echo "kafka.sh: bun is missing: bash scripts/setup.sh" >&2; exit 1; }
exec bun tools/kafka/cli.ts "$@"
