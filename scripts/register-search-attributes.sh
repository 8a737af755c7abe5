#!/bin/sh
# Registers the custom search attributes the event workflows set (workflows/search-attributes.ts)
# on a Temporal server, with the `temporal` CLI. Safe to run again: attributes that already exist
# with the right type are skipped; one that exists with another type stops the script, because
# the server cannot change a type in place.
#
#   TEMPORAL_ADDRESS=temporal:7233 TEMPORAL_NAMESPACE=default scripts/register-search-attributes.sh
#
# TEMPORAL_ADDRESS and TEMPORAL_NAMESPACE are the service's own variables, and the CLI reads them
# too (defaults: localhost:7233 and default). Plain POSIX sh, so that it also runs in the
# temporalio/admin-tools image, which has no bash.
set -eu

# Keep in sync with SEARCH_ATTRIBUTES in workflows/search-attributes.ts: `npm run runbook:check`
# fails when a name listed there is not registered by this script.
ATTRIBUTES="EventId EventName EventType UserId BatchId EventStatus"
TYPE=Keyword

NAMESPACE="${TEMPORAL_NAMESPACE:-default}"
SERVER="${TEMPORAL_ADDRESS:-the CLI's default server}"
# A server that is still starting (e.g. under docker-compose) gets this long to answer.
WAIT_SECONDS="${TEMPORAL_WAIT_SECONDS:-0}"

waited=0
until existing=$(temporal operator search-attribute list --namespace "$NAMESPACE" 2>&1); do
  if [ "$waited" -ge "$WAIT_SECONDS" ]; then
    echo "Cannot list the search attributes of namespace $NAMESPACE at $SERVER:" >&2
    echo "$existing" >&2
    exit 1
  fi
  sleep 2
  waited=$((waited + 2))
done

type_of() {
  # The table has one "Name Type" row per attribute, system ones included.
  printf '%s\n' "$existing" | awk -v n="$1" '$1 == n { print $2 }'
}

# Check every type before creating anything, so a conflict leaves the namespace untouched.
for name in $ATTRIBUTES; do
  current=$(type_of "$name")
  if [ -n "$current" ] && [ "$current" != "$TYPE" ]; then
    echo "$name: exists as $current, expected $TYPE; delete it or use another namespace" >&2
    exit 1
  fi
done

created=0
total=0
for name in $ATTRIBUTES; do
  if [ -n "$(type_of "$name")" ]; then
    echo "$name: already exists ($TYPE)"
  else
    temporal operator search-attribute create --namespace "$NAMESPACE" --name "$name" --type "$TYPE" >/dev/null
    echo "$name: created ($TYPE)"
    created=$((created + 1))
  fi
  total=$((total + 1))
done
echo "Namespace $NAMESPACE at $SERVER: $total search attributes present, $created of them created now."
