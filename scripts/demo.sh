#!/usr/bin/env bash
# The main job end to end on embedded defaults, from a fresh clone:
# install everything, build ./ingest, start the embedded broker, generate users, produce them to a
# JSON file, an Avro file and Kafka at once, consume them into SQLite, and show the lag.
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${ROWS:-1000000}
bash scripts/setup.sh
export PATH="$PWD/.tools/node_modules/.bin:$PATH"
bun run build >/dev/null
mkdir -p data/out
say() { printf '\n== %s\n' "$*" >&2; }

say "embedded broker (in-memory; 24 partitions so ${ROWS} lz4 messages fit its ~5 MiB per partition)"
./ingest broker --brokers 3 --topics users:24,orders:6 --bootstrap-file data/out/bootstrap >/dev/null &
broker=$!
trap 'kill $broker 2>/dev/null; wait $broker 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do [[ -s data/out/bootstrap ]] && break; sleep 0.1; done
export KAFKA_BOOTSTRAP_SERVERS=$(cat data/out/bootstrap)

say "generate ${ROWS} users"
./ingest gen users --rows "$ROWS" --out data/users.csv --seed 42

say "produce: CSV -> data/out/users.json + data/out/users.avro + Kafka topic users"
./ingest produce --file data/users.csv --topic users --json-out data/out/users.json --avro-out data/out/users.avro --compression lz4 --summary-json data/out/produce-summary.json

say "topic users after produce (watermarks)"
./ingest topic describe users | head -3

say "consume users into SQLite (data/out/ingest.db)"
./ingest consume --group demo --topics users --sink sqlite --sqlite-path data/out/ingest.db --workers 2 --from-beginning --idle-exit-ms 3000 \
  -X session.timeout.ms=6000 -X max.poll.interval.ms=7000

say "lag of group demo"
./ingest lag --group demo --topic users
