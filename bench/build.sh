#!/usr/bin/env bash
# Builds the native contenders into bench/build/ (gitignored).
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p build
cc -O2 -Wall -o build/c-bench c/bench.c -lrdkafka
