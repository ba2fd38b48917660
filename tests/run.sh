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
# Redis for the rooms' store tests (tests/test_room_store.py, tests/test_rooms_replicas.py start their own
# redis-server on a free port; without it those Redis cases are skipped with the reason)
if ! command -v redis-server >/dev/null 2>&1 && [ ! -x /usr/bin/redis-server ]; then
  if [ "$(id -u)" = "0" ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq redis-server >/dev/null || echo "redis-server not installed: the Redis room tests will be skipped" >&2
fi
# axe-core (the accessibility rules of tests/test_a11y.py) from the npm registry, pinned, into tests/.node
AXE_VERSION=4.14.1
if [ ! -f tests/.node/node_modules/axe-core/axe.min.js ] || \
   ! grep -q "\"version\": \"$AXE_VERSION\"" tests/.node/node_modules/axe-core/package.json; then
  if ! command -v npm >/dev/null 2>&1; then
    if [ "$(id -u)" = "0" ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -qq && $SUDO apt-get install -y -qq npm >/dev/null
  fi
  npm install --prefix tests/.node --no-save --no-audit --no-fund --loglevel=error "axe-core@$AXE_VERSION" >/dev/null
fi
python -m pip install -q -r requirements-test.txt
# lint first (ruff's settings: [tool.ruff] in pyproject.toml): a failing check stops the run before the tests
python -m ruff check .
python -m pytest -q "$@"
