#!/usr/bin/env bash
# Set up the development environment (./.venv) and run every check: ruff, mypy --strict on
# agent/, and the pytest suite. Exits non-zero if any of them fails. Extra arguments go to
# pytest (e.g. tools/test.sh -k framing).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e '.[test]'

# yanglint (Debian libyang2-tools) checks the YANG module; install it when we can.
if ! command -v yanglint >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libyang2-tools) \
        >/dev/null 2>&1 || echo "warning: could not install libyang2-tools (yanglint)"
fi

status=0
echo "== ruff check"; .venv/bin/ruff check . || status=1
echo "== mypy --strict agent"; .venv/bin/mypy --strict agent || status=1
echo "== pytest"; .venv/bin/python -m pytest "$@" || status=1
exit $status
