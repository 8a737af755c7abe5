#!/bin/sh
# Stops what a local stack runner (`npm start`) started once the runner is gone, however it
# went: a Node process cannot ask the kernel to signal its children when it dies
# (prctl(PR_SET_PDEATHSIG) is not exposed), and PostgreSQL and the Temporal CLI would not watch
# for it anyway. The runner starts this script in a session of its own, its stdin a pipe from
# the runner, and tells it on that pipe what it starts and what it has stopped itself:
#
#   watch <pid> <signal>    stop <pid> with <signal> (INT, TERM, ...) when the runner is gone
#   forget <pid>            the runner stopped it
#
# The pipe ends (EOF) when the runner exits, whatever killed it, SIGKILL included. Then each
# process still watched gets its signal, and SIGKILL after the grace period (seconds, $1).
grace=${1:-15}
watched=""
while read -r verb pid signal; do
  case "$verb" in
    watch) watched="$watched $pid:$signal" ;;
    forget)
      kept=""
      for entry in $watched; do [ "${entry%%:*}" = "$pid" ] || kept="$kept $entry"; done
      watched=$kept
      ;;
  esac
done
[ -n "$watched" ] || exit 0
for entry in $watched; do kill -s "${entry#*:}" "${entry%%:*}" 2>/dev/null; done
waited=0
while [ "$waited" -lt "$grace" ]; do
  alive=""
  for entry in $watched; do kill -0 "${entry%%:*}" 2>/dev/null && alive="$alive $entry"; done
  [ -n "$alive" ] || exit 0
  watched=$alive
  sleep 1
  waited=$((waited + 1))
done
for entry in $watched; do kill -s KILL "${entry%%:*}" 2>/dev/null; done
exit 0
