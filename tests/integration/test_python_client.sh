#!/usr/bin/env bash
# Debian's python3-kubernetes client against `llmo server` (see python_client.py).
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
$PY -c 'import kubernetes' 2>/dev/null || { echo "python3-kubernetes is missing (scripts/setup.sh --tests installs it)"; exit 1; }
# the API alone: a controller would add its own MODIFIED events to the watch checks
server_start --disable controller,scheduler,agent
check "python client session" $PY "$(dirname "$0")/python_client.py"
cat "$LLMO_DATA/out"
finish
