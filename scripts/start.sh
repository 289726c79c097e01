#!/usr/bin/env bash
# Set up LendBase on this machine and serve it with the credit template and demo data.
# Embedded defaults: SQLite under var/, background jobs in-process (no Redis needed).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/pip install --quiet --upgrade pip
.venv/bin/pip install --quiet -e .
npm ci --no-audit --no-fund --loglevel=error
.venv/bin/lendbase init
if [ ! -f var/.demo-installed ]; then
  .venv/bin/lendbase app install apps/credit_template --demo
  touch var/.demo-installed
else
  .venv/bin/lendbase app install apps/credit_template
fi
if [ ! -f var/admin-password ]; then
  (umask 077; .venv/bin/python -c "import secrets;print(secrets.token_urlsafe(12))" > var/admin-password)
  .venv/bin/lendbase user create --username admin --password "$(cat var/admin-password)" \
    --role admin --name "Administrator" --if-missing
fi
echo
echo "  Admin login:  admin / $(cat var/admin-password)   (kept in var/admin-password)"
echo "  Demo users:   am01-am12 account managers, ro01-ro03 risk, ap01-ap03 approvers, co01-co04 collectors, fi01-fi02 finance, mg01 manager; password demo-pass-2026"
echo
exec .venv/bin/lendbase run --host "${HOST:-127.0.0.1}" --port "${PORT:-5000}"
