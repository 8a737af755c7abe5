#!/bin/sh
# Creates or upgrades Temporal's schemas (the server image does neither). Safe on every start:
# setup-schema keeps an existing version and update-schema applies only missing versions.
# Runs in temporalio/admin-tools, which has temporal-sql-tool and the schema files.
set -eu

: "${POSTGRES_SEEDS:?POSTGRES_SEEDS must be set}"
: "${POSTGRES_USER:?POSTGRES_USER must be set}"
: "${SQL_PASSWORD:?SQL_PASSWORD must be set}"
SCHEMAS=/etc/temporal/schema/postgresql/v12

sql_tool() {
  temporal-sql-tool --plugin postgres12 --ep "$POSTGRES_SEEDS" -p "${DB_PORT:-5432}" \
    -u "$POSTGRES_USER" "$@"
}

for db in temporal:temporal "temporal_visibility:visibility"; do
  name=${db%%:*}
  schema=${db#*:}
  echo "Schema of database $name"
  sql_tool --db "$name" setup-schema -v 0.0
  sql_tool --db "$name" update-schema -d "$SCHEMAS/$schema/versioned"
done
