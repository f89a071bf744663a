#!/bin/bash
# Run by the official postgres image on first start (an empty data volume), as the superuser: the role that
# owns this server's one database (POSTGRES_DB), with the password APP_DB_PASSWORD. The services connect as
# that role, never as the superuser (kept for backups and the bootstrap's extensions).
set -euo pipefail
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v role="$POSTGRES_DB" -v password="$APP_DB_PASSWORD" <<'SQL'
CREATE ROLE :"role" LOGIN PASSWORD :'password';
ALTER DATABASE :"role" OWNER TO :"role";
ALTER SCHEMA public OWNER TO :"role";
SQL
