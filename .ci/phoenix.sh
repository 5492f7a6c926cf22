#!/usr/bin/env bash
# The Phoenix round-trip: start a real Arize Phoenix server on 127.0.0.1 and run
# tests/test_phoenix.py against it. Fails if the server never gets ready, if any test fails,
# or if the tests were skipped (never silently green).
#
# Phoenix (~850 MB, ~90 s to install) gets its own venv so its pins never clash with ours.
# Environment knobs:
#   PHOENIX_VENV   where Phoenix lives            (default .venv-phoenix, reused if present)
#   PHOENIX_SPEC   what pip installs there        (default "arize-phoenix>=20,<21")
#   TEST_PYTHON    the python that has noveum-trace[test,otlp,openai] installed
#                  (default: .ci-venv, else .venv, else python3)
set -euo pipefail
cd "$(dirname "$0")/.."
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_PROGRESS_BAR=off
PY=${PYTHON:-python3}
PHOENIX_VENV=${PHOENIX_VENV:-.venv-phoenix}
PHOENIX_SPEC=${PHOENIX_SPEC:-"arize-phoenix>=20,<21"}
if [ -z "${TEST_PYTHON:-}" ]; then
  for candidate in .ci-venv/bin/python .venv/bin/python; do
    if [ -x "$candidate" ]; then TEST_PYTHON=$candidate; break; fi
  done
  TEST_PYTHON=${TEST_PYTHON:-$PY}
fi

if [ ! -x "$PHOENIX_VENV/bin/phoenix" ]; then
  echo "phoenix.sh: installing $PHOENIX_SPEC into $PHOENIX_VENV (takes a minute or two)"
  $PY -m venv "$PHOENIX_VENV"
  "$PHOENIX_VENV/bin/pip" install -q "$PHOENIX_SPEC"
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/noveum-phoenix.XXXXXX")
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# Two free ports; the gRPC receiver binds all interfaces, so it must not collide either.
read -r PORT GRPC_PORT < <($PY - <<'EOF'
import socket
socks = [socket.socket() for _ in range(2)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))
for s in socks:
    s.close()
EOF
)

echo "phoenix.sh: starting Phoenix on 127.0.0.1:$PORT (gRPC $GRPC_PORT), data in $WORK"
PHOENIX_HOST=127.0.0.1 PHOENIX_PORT=$PORT PHOENIX_GRPC_PORT=$GRPC_PORT \
  PHOENIX_WORKING_DIR="$WORK" PHOENIX_TELEMETRY_ENABLED=false \
  PHOENIX_ALLOW_EXTERNAL_RESOURCES=false \
  "$PHOENIX_VENV/bin/phoenix" serve >"$WORK/phoenix.log" 2>&1 &
SERVER_PID=$!

URL="http://127.0.0.1:$PORT"
ready=""
for _ in $(seq 1 360); do  # up to ~3 minutes on a busy machine; usually ~25 s
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then break; fi
  # Ready means the OTLP route answers (an empty protobuf request is a valid export).
  if $PY - "$URL" <<'EOF' 2>/dev/null
import sys, urllib.request
request = urllib.request.Request(sys.argv[1] + "/v1/traces", data=b"", method="POST",
                                 headers={"Content-Type": "application/x-protobuf"})
with urllib.request.urlopen(request, timeout=5) as response:
    sys.exit(0 if response.status == 200 else 1)
EOF
  then ready=1; break; fi
  sleep 0.5
done
if [ -z "$ready" ]; then
  echo "phoenix.sh: Phoenix did not become ready; its log:" >&2
  tail -n 50 "$WORK/phoenix.log" >&2 || true
  exit 1
fi
echo "phoenix.sh: Phoenix ready at $URL"

status=0
PHOENIX_URL=$URL "$TEST_PYTHON" -m pytest tests/test_phoenix.py -q -rs -p no:cacheprovider \
  --junitxml="$WORK/junit.xml" || status=$?
if [ "$status" -ne 0 ]; then
  echo "phoenix.sh: the Phoenix round-trip failed (pytest exit $status); Phoenix log tail:" >&2
  tail -n 30 "$WORK/phoenix.log" >&2 || true
  exit 1
fi
# A skipped round-trip is a failure here: this step exists to run it.
$PY - "$WORK/junit.xml" <<'EOF'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
suites = [root] if root.tag == "testsuite" else list(root)
tests = sum(int(s.get("tests", 0)) for s in suites)
skipped = sum(int(s.get("skipped", 0)) for s in suites)
if tests == 0 or skipped:
    sys.exit(f"phoenix.sh: {skipped} of {tests} Phoenix tests were skipped or none ran")
print(f"phoenix.sh: {tests} Phoenix tests passed")
EOF
