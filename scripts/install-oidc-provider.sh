#!/usr/bin/env bash
# oidc-provider (an OpenID Connect provider library, from npm) into .tools/oidc-provider, for
# the single sign-on tests (tests/integration/sso): tests/integration/sso/provider.mjs runs it
# with Node on loopback. Needs Node.js >= 20 and npm (installed from the distribution's
# packages when missing).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v npm >/dev/null 2>&1; then
  echo "emulators: installing nodejs and npm" >&2
  apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null
fi
npm install --prefix .tools/oidc-provider --no-audit --no-fund --loglevel=error \
  oidc-provider@9.13.3
test -f .tools/oidc-provider/node_modules/oidc-provider/package.json
