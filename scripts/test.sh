#!/usr/bin/env bash
# Installs sole with its test extras and runs the default (fast) test suite; fails when no test ran.
# Slow checks: .venv/bin/pytest -m slow
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh dev serve
.venv/bin/ruff check sole tests
set +e
.venv/bin/python -m pytest "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then echo "test.sh: no tests ran" >&2; exit 1; fi
exit "$rc"
