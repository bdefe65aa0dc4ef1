#!/usr/bin/env bash
# The whole test suite from a fresh clone: installs what is missing, builds ./ingest, runs every
# test (unit, embedded broker, MariaDB/Redis, real Apache Kafka 4.4 and 0.9 brokers), and ends with one line
# "N passed, N failed". Exit code 0 only when nothing failed.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || { echo "setup failed"; echo "0 passed, 1 failed"; exit 1; }
export PATH="$PWD/.tools/node_modules/.bin:$PATH"

log=$(mktemp)
trap 'rm -f "$log"' EXIT
build_failed=0
if ! bun run build >"$log" 2>&1; then
  cat "$log"
  echo "build failed"
  build_failed=1
fi

[[ $build_failed -eq 0 ]] && export INGEST_BIN="$PWD/ingest"
# Tests that need something missing (the Kafka 4.4 harness: java, mvn) fail here instead of skipping.
export INGEST_REQUIRE_ALL=1
# Type errors fail the run like a failed test (tsc from the lockfile's typescript).
if ! bunx tsc --noEmit -p . >"$log" 2>&1; then
  cat "$log"
  echo "typecheck failed"
  build_failed=$((build_failed + 1))
fi
# Formatting and lint (Biome, biome.json): a finding fails the run like a failed test
# (`node_modules/.bin/biome check --write` fixes the formatting and the safe lints).
if ! node_modules/.bin/biome ci >"$log" 2>&1; then
  cat "$log"
  echo "biome ci failed"
  build_failed=$((build_failed + 1))
fi
# The Dockerfile linter (npm's dockerfile-utils, outside the project's dependencies) runs as a test.
if bash deploy/lint-dockerfile.sh >/dev/null 2>&1 || [[ -x /tmp/dockerfile-utils-0.16.3/node_modules/.bin/dockerfile-utils ]]; then
  export DOCKERFILE_UTILS=/tmp/dockerfile-utils-0.16.3/node_modules/.bin/dockerfile-utils
fi
# bun prints its per-file results and the " N pass / N fail" summary on stderr.
LOG_LEVEL=${LOG_LEVEL:-error} bun test --timeout 120000 "$@" 2>&1 | tee "$log" | grep -v '^{"level"'
status=${PIPESTATUS[0]}
passed=$(grep -E '^ *[0-9]+ pass$' "$log" | awk '{s+=$1} END {print s+0}')
failed=$(grep -E '^ *[0-9]+ fail$' "$log" | awk '{s+=$1} END {print s+0}')
errors=$(grep -Ec '^# Unhandled error' "$log")
failed=$((failed + errors + build_failed))
if [[ $status -ne 0 && $failed -eq 0 ]]; then failed=1; fi
if [[ $failed -gt 0 ]]; then
  # CI keeps only the end of the output: repeat what led to each failure (its test's last 40
  # lines: the assertion and the scenario's notes) right above the count.
  echo "---- the failures again, each with the 40 lines before it ----"
  grep -v '^{"level"' "$log" | awk '
    /^\(fail\)/ { if (!($0 in seen) && shown < 5) { seen[$0] = 1; shown++; for (i = NR - 40; i < NR; i++) if (i > 0 && (i in buf)) print buf[i]; print; print "----" } }
    { buf[NR] = $0; delete buf[NR - 41] }'
fi
echo "${passed} passed, ${failed} failed"
[[ $failed -eq 0 ]]
