#!/usr/bin/env bash
# Set up ./.venv and run the agent: NETCONF over SSH on 127.0.0.1:8830 by default.
# Arguments go to `pa-agent serve` (e.g. tools/run.sh --port 2830 --state-dir /tmp/pa).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e .
exec .venv/bin/pa-agent serve "$@"
