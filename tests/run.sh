#!/usr/bin/env bash
# README's test command: installs what the tests need on a fresh machine, then runs them.
set -euo pipefail
cd "$(dirname "$0")/.."
# A real browser for the phone-viewport test: Debian's chromium (playwright downloads nothing).
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq chromium fonts-dejavu-core >/dev/null
fi
# HAProxy for the replicas test (tests/test_replicas.py; deploy/replicas.sh also installs it)
if ! command -v haproxy >/dev/null 2>&1 && [ ! -x /usr/sbin/haproxy ]; then
  if [ "$(id -u)" = "0" ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq haproxy >/dev/null || echo "haproxy not installed: tests/test_replicas.py will be skipped" >&2
fi
python -m pip install -q -r requirements-test.txt
python -m pytest -q "$@"
