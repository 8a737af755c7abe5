#!/usr/bin/env bash
# `npm start` must work from any directory, as any user: clones the project into a directory
# only its owner can enter (mode 700, like root's home or `mktemp -d`), runs `npm start` there
# with the embedded defaults, and waits until GET /health answers. As root, the embedded
# PostgreSQL runs as the "postgres" OS user, which cannot enter that directory.
set -euo pipefail
src="$(cd "$(dirname "$0")/.." && pwd)"
port="${API_PORT:-3000}"
work="$(mktemp -d)"
chmod 700 "$work"
pid=""
cleanup() {
  if [ -n "$pid" ]; then
    # npm start stops its API, worker, Temporal and PostgreSQL on SIGINT.
    kill -INT -- "-$pid" 2>/dev/null || true
    for _ in $(seq 1 30); do kill -0 -- "-$pid" 2>/dev/null || break; sleep 1; done
    kill -KILL -- "-$pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

git clone --quiet "$src" "$work/project"
# The installed packages, as `npm ci` would make them, without a second download.
cp -a "$src/node_modules" "$work/project/node_modules"
cd "$work/project"

setsid npm start >"$work/start.log" 2>&1 &
pid=$!
for _ in $(seq 1 180); do
  if curl -fsS "http://127.0.0.1:${port}/health" >/dev/null 2>&1; then
    echo "npm start in a mode-700 directory answers /health"
    exit 0
  fi
  if ! kill -0 "$pid" 2>/dev/null; then break; fi
  sleep 1
done
echo "npm start in a mode-700 directory did not answer /health; its output:" >&2
tail -n 40 "$work/start.log" >&2
exit 1
