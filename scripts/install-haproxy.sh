#!/usr/bin/env bash
# HAProxy from the distribution's packages, for tests/integration/test_load_balancer.py
# (two server replicas behind a load balancer). The test starts its own haproxy process with
# its own configuration; the package's system service is not used.
set -euo pipefail
if command -v haproxy >/dev/null 2>&1; then
  exit 0
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy >/dev/null
haproxy -v | sed -n 1p  # sed reads to the end: `head` could cut haproxy off (SIGPIPE, exit 141 under pipefail)
