#!/usr/bin/env bash
# Installs what the test suite's real servers need, idempotently:
#   Debian: postgresql (a real PostgreSQL), chromium (a real browser for Playwright)
#   npm:    @atproto/pds + @did-plc/server (a real Bluesky PDS), @atproto/dev-env (a real
#           Bluesky app view: PLC + PDS + @atproto/bsky), Koop (a real ArcGIS server)
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need_apt+=(postgresql)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v node >/dev/null 2>&1 || need_apt+=(nodejs npm)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "installing Debian packages: ${need_apt[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

lock_hash=$(sha256sum tests/servers/package-lock.json | cut -d' ' -f1)
stamp=tests/servers/node_modules/.citycrier-lock
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$lock_hash" ]; then
  echo "installing the test servers' npm packages (a few minutes the first time)"
  (cd tests/servers && npm ci --no-audit --no-fund --loglevel=error)
  echo "$lock_hash" > "$stamp"
fi
