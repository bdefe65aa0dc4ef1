#!/usr/bin/env bash
# Lints ./Dockerfile with dockerfile-utils (npm; the linter behind the Docker language server),
# installed into a cache directory outside the project's dependencies. dockerfile-utils exits 0
# even when it reports problems, so its JSON output is checked instead: anything but [] fails.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=0.16.3
PREFIX="${DOCKERFILE_UTILS_PREFIX:-${TMPDIR:-/tmp}/dockerfile-utils-$VERSION}"
BIN="$PREFIX/node_modules/.bin/dockerfile-utils"
if [[ ! -x "$BIN" ]]; then
  npm install --silent --no-audit --no-fund --prefix "$PREFIX" "dockerfile-utils@$VERSION" >/dev/null
fi
out=$("$BIN" lint --json Dockerfile)
if [[ "$out" != "[]" ]]; then
  "$BIN" lint Dockerfile >&2
  echo "lint-dockerfile: dockerfile-utils $VERSION reported problems" >&2
  exit 1
fi
echo "lint-dockerfile: dockerfile-utils $VERSION: Dockerfile clean"
