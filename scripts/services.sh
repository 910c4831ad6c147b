#!/usr/bin/env bash
# Make sure the database servers the tests use are up (they are started before a session,
# but a stopped one is restarted here rather than failing the whole suite).
set -u

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() {
  for _ in $(seq 1 60); do port_open "$1" && return 0; sleep 0.5; done
  return 1
}

if ! port_open 5432; then
  echo "services: starting PostgreSQL" >&2
  if command -v pg_ctlcluster >/dev/null 2>&1; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  fi
  wait_port 5432 || echo "services: PostgreSQL is not reachable on 127.0.0.1:5432" >&2
fi

if ! port_open 3306; then
  echo "services: starting MariaDB" >&2
  if [ -x /usr/sbin/mariadbd ]; then
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd || true
  fi
  wait_port 3306 || echo "services: MariaDB is not reachable on 127.0.0.1:3306" >&2
fi
exit 0
