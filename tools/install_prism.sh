#!/usr/bin/env bash
# Install Stoplight Prism (the contract test's mock server) into tools/prism/node_modules.
# Needs Node 18+ and npm. Idempotent: does nothing when the pinned version is already there.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
prefix="$here/prism"
bin="$prefix/node_modules/.bin/prism"
want="$(node -p "require('$prefix/package.json').dependencies['@stoplight/prism-cli']")"
if [ -x "$bin" ] && [ "$("$bin" --version 2>/dev/null)" = "$want" ]; then
  echo "prism $want already installed: $bin"
  exit 0
fi
command -v npm >/dev/null || { echo "npm not found: install Node.js 18+ first" >&2; exit 1; }
cd "$prefix"
if [ -f package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
else
  npm install --no-audit --no-fund --loglevel=error
fi
echo "prism $("$bin" --version) installed: $bin"
