#!/usr/bin/env bash
# Recapture the golden request fixtures in protocol/test_data/valid/ from real clients.
# Installs kcat (Debian) and confluent-kafka + kafka-python (PyPI, into a venv),
# then runs run_capture.py, which starts fake_broker.py on 127.0.0.1 and drives each client.
# Usage: bash protocol/test_data/capture/capture.sh   (as root, or with sudo for apt-get)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="${KZ_CAPTURE_VENV:-/tmp/capture-venv}"
# Pinned to the versions used for the committed fixtures; override to try newer clients.
PIP_PKGS="${KZ_CAPTURE_PIP_PKGS:-confluent-kafka==2.16.1 kafka-python==3.0.12 lz4 zstandard python-snappy cramjam}"

if ! command -v kcat >/dev/null 2>&1; then
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y kcat
fi
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
# shellcheck disable=SC2086
"$VENV/bin/pip" install -q $PIP_PKGS

cd "$HERE"
timeout 1800 "$VENV/bin/python" "$HERE/run_capture.py" "$@"
