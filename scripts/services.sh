#!/usr/bin/env bash
# Make sure the database servers the tests use are up: a stopped one is started here. Exits
# non-zero, naming the service, when PostgreSQL or MariaDB cannot be reached afterwards, so a
# missing database stops `make test` instead of turning its tests into skips.
set -u

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() {
  for _ in $(seq 1 60); do port_open "$1" && return 0; sleep 0.5; done
  return 1
}

failed=0

if ! port_open 5432; then
  echo "services: starting PostgreSQL" >&2
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  fi
  if ! wait_port 5432; then
    echo "services: PostgreSQL is not reachable on 127.0.0.1:5432 (tried to start it)" >&2
    failed=1
  fi
fi

if ! port_open 3306; then
  echo "services: starting MariaDB" >&2
  if [ -x /usr/sbin/mariadbd ]; then
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd || true
  fi
  if ! wait_port 3306; then
    echo "services: MariaDB is not reachable on 127.0.0.1:3306 (tried to start it)" >&2
    failed=1
  fi
fi

exit "$failed"
