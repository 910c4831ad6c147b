#!/usr/bin/env bash
# Azurite (Azure Blob emulator) from the npm registry into .tools/azurite, for the cloud
# storage tests and benchmarks. Needs Node.js >= 18 and npm (installed from the
# distribution's packages when missing).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v npm >/dev/null 2>&1; then
  echo "emulators: installing nodejs and npm" >&2
  apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null
fi
npm install --prefix .tools/azurite --no-audit --no-fund --loglevel=error azurite@3
test -x .tools/azurite/node_modules/.bin/azurite-blob
