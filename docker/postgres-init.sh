#!/usr/bin/env bash
# Creates the platform's databases and roles. The postgres image runs this (from /docker-entrypoint-initdb.d) as the
# superuser, once, on the first start of an empty data volume; running it again changes nothing.
#   IOT_POSTGRES_USER / IOT_POSTGRES_PASSWORD / IOT_POSTGRES_DB              the Iceberg JDBC catalog
#   DAGSTER_POSTGRES_USER / DAGSTER_POSTGRES_PASSWORD / DAGSTER_POSTGRES_DB  Dagster's storage
# Each role owns its database; other roles cannot connect to it.
set -euo pipefail

: "${POSTGRES_USER:?}"
: "${IOT_POSTGRES_USER:?}" "${IOT_POSTGRES_PASSWORD:?set IOT_POSTGRES_PASSWORD in docker/.env}" "${IOT_POSTGRES_DB:?}"
: "${DAGSTER_POSTGRES_USER:?}" "${DAGSTER_POSTGRES_PASSWORD:?set DAGSTER_POSTGRES_PASSWORD in docker/.env}"
: "${DAGSTER_POSTGRES_DB:?}"

# Args: role, password, database. Values reach SQL only as psql variables, quoted by format(%I / %L).
create_role_and_database() {
  psql --no-psqlrc -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
    -v role="$1" -v password="$2" -v db="$3" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', :'role', :'password')
  WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'role') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'role')
  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db') \gexec
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', :'db') \gexec
SELECT format('GRANT ALL ON DATABASE %I TO %I', :'db', :'role') \gexec
SQL
  echo "postgres-init: database $3 owned by $1"
}

create_role_and_database "$IOT_POSTGRES_USER" "$IOT_POSTGRES_PASSWORD" "$IOT_POSTGRES_DB"
create_role_and_database "$DAGSTER_POSTGRES_USER" "$DAGSTER_POSTGRES_PASSWORD" "$DAGSTER_POSTGRES_DB"
