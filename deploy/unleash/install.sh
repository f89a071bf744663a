#!/usr/bin/env bash
# Install a real Unleash server (npm unleash-server@8) into an ignored cache folder, once.
# Idempotent: a second run with the same version spec does nothing. Concurrent runs wait on a lock.
#   UNLEASH_SERVER_DIR      where to install (default: <repo>/.cache/unleash, ignored by git)
#   UNLEASH_SERVER_VERSION  npm version spec (default: 8)
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
prefix="${UNLEASH_SERVER_DIR:-$root/.cache/unleash}"
spec="${UNLEASH_SERVER_VERSION:-8.2.0}"  # the release the tests ran against; any 8.x works
marker="$prefix/.installed-unleash-server@$spec"

installed() { [[ -f $marker && -f $prefix/node_modules/unleash-server/package.json ]]; }

if installed; then
  exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "unleash: npm not found; install Node.js 20 and npm (apt-get install nodejs npm) and retry" >&2
  exit 1
fi

mkdir -p "$prefix"
exec 9>"$prefix/.install.lock"
flock 9
if installed; then  # another run finished while we waited for the lock
  exit 0
fi

cd "$prefix"
[[ -f package.json ]] || printf '{"name": "strangler-unleash", "private": true}\n' >package.json
echo "unleash: npm install unleash-server@$spec into $prefix (about 25 s, 200 MB)"
# unleash-server 8 declares node >= 22 in its engines field; it runs on the Node 20 here.
npm install --no-audit --no-fund --loglevel=error --engine-strict=false "unleash-server@$spec"
version="$(node -p 'require("./node_modules/unleash-server/package.json").version')"
touch "$marker"
echo "unleash: unleash-server $version installed in $prefix"
