#!/usr/bin/env bash
# Install what the tests need and run the whole suite: SQLite everywhere, plus the PostgreSQL
# (LENDBASE_TEST_PG_URL, default 127.0.0.1:5432/test), Redis and browser (Debian chromium) tests.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/pip install --quiet --upgrade pip
.venv/bin/pip install --quiet -e ".[test]"
npm ci --no-audit --no-fund --loglevel=error
if [ ! -x /usr/bin/chromium ] || ! fc-list 2>/dev/null | grep -qi "noto sans cjk"; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null
  else
    echo "browser tests need Debian's chromium and fonts-noto-cjk: sudo apt-get install chromium fonts-noto-cjk" >&2
    exit 1
  fi
fi
.venv/bin/ruff check lendbase apps tests bench migrations
.venv/bin/mypy lendbase/forms lendbase/meta lendbase/conditions lendbase/security lendbase/records lendbase/auth lendbase/jobs lendbase/events lendbase/work
exec .venv/bin/pytest -q -p no:cacheprovider "$@"
