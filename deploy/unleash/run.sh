#!/usr/bin/env bash
# Run a real Unleash server in the foreground on its own PostgreSQL database, created when missing.
#   UNLEASH_PORT            port on 127.0.0.1 (default 4242)
#   UNLEASH_DATABASE_URL    its database (default postgres://postgres@127.0.0.1:5432/unleash)
#   UNLEASH_RESET_DATABASE  1 drops and recreates that database first (tests start from nothing)
#   UNLEASH_ADMIN_TOKEN     admin API token to create (default: a DEV-ONLY token)
#   UNLEASH_CLIENT_TOKEN    client (backend) API token to create (default: a DEV-ONLY token)
#   UNLEASH_LOG_LEVEL       debug|info|warn|error (default warn)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

bash "$here/install.sh"

db_url="${UNLEASH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/unleash}"
db_name="${db_url##*/}"
db_name="${db_name%%\?*}"
maintenance_url="${db_url%/*}/postgres"
if [[ ! $db_name =~ ^[A-Za-z0-9_]+$ ]]; then
  echo "unleash: database name '$db_name' must be letters, digits and '_'" >&2
  exit 1
fi
if [[ ${UNLEASH_RESET_DATABASE:-0} == 1 ]]; then
  psql "$maintenance_url" -q -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS \"$db_name\" WITH (FORCE)"
fi
if [[ -z "$(psql "$maintenance_url" -tAc "SELECT 1 FROM pg_database WHERE datname = '$db_name'")" ]]; then
  psql "$maintenance_url" -q -v ON_ERROR_STOP=1 -c "CREATE DATABASE \"$db_name\""
fi

export DATABASE_URL="$db_url" DATABASE_SSL=false
export HTTP_HOST=127.0.0.1 HTTP_PORT="${UNLEASH_PORT:-4242}"
export AUTH_TYPE=open-source SEND_TELEMETRY=false CHECK_VERSION=false
export INIT_ADMIN_API_TOKENS="${UNLEASH_ADMIN_TOKEN:-*:*.dev-only-unleash-admin-token}"  # DEV-ONLY default
export INIT_CLIENT_API_TOKENS="${UNLEASH_CLIENT_TOKEN:-default:development.dev-only-unleash-client-token}"  # DEV-ONLY
export LOG_LEVEL="${UNLEASH_LOG_LEVEL:-warn}"
exec node "$here/server.mjs"
