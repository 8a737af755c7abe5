#!/bin/sh
# Run once by the postgres image when its data directory is new: one role and database for the
# service, and one role owning Temporal's two databases. Neither role may create databases or
# other roles; the superuser stays for administration only.
set -eu

: "${EVENTS_DB_PASSWORD:?EVENTS_DB_PASSWORD must be set}"
: "${TEMPORAL_DB_PASSWORD:?TEMPORAL_DB_PASSWORD must be set}"

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  -v events_password="$EVENTS_DB_PASSWORD" -v temporal_password="$TEMPORAL_DB_PASSWORD" <<'SQL'
create role events login password :'events_password';
create database events owner events;
create role temporal login password :'temporal_password';
create database temporal owner temporal;
create database temporal_visibility owner temporal;
SQL
