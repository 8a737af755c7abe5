#!/usr/bin/env bash
# `npm start` leaves nothing behind, however it dies: killed with SIGKILL (npm and its runner at
# once), hung up (a closed terminal), or with only npm killed, everything it started (Temporal
# dev server, embedded PostgreSQL, API, worker) stops within seconds, and the next `npm start`
# comes up on the same ports. Killed together with its watchdog, the next `npm start` stops what
# was left. Runs in a clone in a directory only its owner can enter (mode 700), as
# check-start-anywhere.sh does, so that as root the cluster lives in the shared directory.
set -euo pipefail
src="$(cd "$(dirname "$0")/.." && pwd)"
port="${API_PORT:-3000}"
# SIGTERM reaches the API and worker, which drain for SHUTDOWN_GRACE_MS (10 s), then SIGKILL.
within=30
work="$(mktemp -d)"
chmod 700 "$work"
log="$work/start.log"
pid=""
procs=""
# On a failure, what this check started may still run: stopped here, whatever npm start did.
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -INT -- "-$pid" 2>/dev/null || true
    for _ in $(seq 1 30); do kill -0 -- "-$pid" 2>/dev/null || break; sleep 1; done
  fi
  [ -z "$procs" ] || kill -TERM $procs 2>/dev/null || true
  sleep 3
  [ -z "$procs" ] || kill -KILL $procs 2>/dev/null || true
  [ -z "$pid" ] || kill -KILL -- "-$pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  echo "--- last lines of npm start's output:" >&2
  tail -n 40 "$log" >&2
  exit 1
}

git clone --quiet "$src" "$work/project"
# The installed packages, as `npm ci` would make them, without a second download.
cp -a "$src/node_modules" "$work/project/node_modules"
cd "$work/project"

# Whether nothing listens on 127.0.0.1:$1.
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Starts `npm start` as a terminal would run it (npm leading a process group of its own). Its
# ports must be free first: an answer from anything else would prove nothing.
launch() {
  echo "== $1" >>"$log"
  for p in "$port" 7233 8233 54329 9464 9465; do
    port_free "$p" || fail "port $p is taken before npm start ($1)"
  done
  setsid npm start >>"$log" 2>&1 &
  pid=$!
}

# Waits until the API answers.
wait_for_api() {
  for _ in $(seq 1 180); do
    if curl -fsS "http://127.0.0.1:${port}/health" >/dev/null 2>&1; then return 0; fi
    kill -0 "$pid" 2>/dev/null || fail "npm start exited before the API answered ($1)"
    sleep 1
  done
  fail "the API did not answer within 180 s ($1)"
}

start() {
  launch "$1"
  wait_for_api "$1"
}

# Every process below $1, from its parent links.
descendants() {
  ps -e -o pid=,ppid= | awk -v root="$1" '
    { parent[$1] = $2 }
    END {
      found[root] = 1; grew = 1
      while (grew) { grew = 0; for (p in parent) if (!(p in found) && (parent[p] in found)) { found[p] = 1; grew = 1 } }
      for (p in found) if (p != root) print p
    }'
}

# Whether a process runs (one that exited and waits to be reaped does not).
alive() {
  local state
  state="$(ps -o stat= -p "$1" 2>/dev/null || true)"
  [ -n "$state" ] && [ "${state#Z}" = "$state" ]
}

# Waits until none of the given processes runs; fails naming those that still do.
all_gone_within() {
  local seconds=$1 left
  shift
  for _ in $(seq 1 "$seconds"); do
    left=""
    for p in "$@"; do alive "$p" && left="$left $p"; done
    [ -z "$left" ] && return 0
    sleep 1
  done
  ps -o pid,ppid,stat,args -p "${left# }" | tr ',' ' ' >&2 || true
  return 1
}

started() {
  local procs
  procs="$(descendants "$pid" | tr '\n' ' ')"
  echo "$pid $procs"
}

count() { echo "$#"; }

# 1. SIGKILL of npm and its runner at once: only the watchdog is left to stop the rest.
start "first start"
procs="$(started)"
if [ "$(id -u)" = 0 ]; then
  # As root here the cluster lives in the shared directory, recorded as this clone's, so that
  # a start after this clone is gone removes it.
  shared=/var/lib/event-ingestion/embedded-postgres
  grep -lF "\"$work/project/.data/postgres\"" "$shared"/data-*.source >/dev/null 2>&1 ||
    fail "no record in $shared names this clone's cluster"
  [ -f .data/postgres/WHERE-IS-THE-CLUSTER.txt ] || fail "no note in .data/postgres says where the cluster is"
  echo "as root: the cluster is in $shared, recorded as this clone's"
fi
echo "npm start is up: $(count $procs) processes; kill -KILL to its process group"
kill -KILL -- "-$pid"
all_gone_within "$within" $procs || fail "still running ${within} s after SIGKILL of npm start"
echo "  all stopped"

# 2. A closed terminal: SIGHUP to npm's process group.
start "after SIGKILL"
procs="$(started)"
echo "npm start came up again: $(count $procs) processes; kill -HUP to its process group"
kill -HUP -- "-$pid"
all_gone_within "$within" $procs || fail "still running ${within} s after SIGHUP of npm start"
echo "  all stopped"

# 3. npm alone killed: its runner is handed to another parent and stops as on Ctrl+C.
start "after SIGHUP"
procs="$(started)"
echo "npm start came up again: $(count $procs) processes; kill -KILL to npm alone"
kill -KILL "$pid"
all_gone_within "$within" $procs || fail "still running ${within} s after SIGKILL of npm alone"
echo "  all stopped"

# 4. The runner and its watchdog killed together: the next start stops what they left.
start "after SIGKILL of npm alone"
procs="$(started)"
reaper="$(for p in $procs; do ps -o pid=,args= -p "$p" 2>/dev/null; done | awk '/stack-reaper\.sh/ { print $1 }')"
[ -n "$reaper" ] || fail "found no watchdog (stack-reaper.sh) among npm start's processes"
echo "npm start came up again: $(count $procs) processes; kill -KILL to it and to its watchdog ($reaper)"
kill -KILL -- "-$pid" "$reaper"
sleep 2
port_free "$port" && fail "nothing was left running to test with"
echo "== after SIGKILL of npm start and its watchdog" >>"$log"
setsid npm start >>"$log" 2>&1 &
pid=$!
all_gone_within "$within" $procs || fail "what the killed run left still runs after the next start"
wait_for_api "after SIGKILL of npm start and its watchdog"
grep -q 'left running' "$log" || fail "the next start did not say it stopped what was left"
echo "  the next npm start stopped what was left, and came up"

# 5. Ctrl+C, as ever.
procs="$(started)"
kill -INT -- "-$pid"
all_gone_within 60 $procs || fail "still running 60 s after SIGINT"
pid=""
procs=""
echo "npm start leaves nothing behind"
