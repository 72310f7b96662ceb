#!/usr/bin/env bash
# Starts the Redis that `make deps` / `make run` use when none answers on its port, with append-only
# persistence, so that a job the receiver acknowledged survives a Redis crash or a machine restart.
# Usage: scripts/start-redis.sh [port] [data-dir]   (defaults: 6379 and .data/redis under the repository)
# A Redis already answering on the port is left as it is (it may be shared): only a warning if it does not
# persist to an append-only file.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
port="${1:-6379}"
dir="${2:-$repo/.data/redis}"

if redis-cli -h 127.0.0.1 -p "$port" ping >/dev/null 2>&1; then
  appendonly=$(redis-cli -h 127.0.0.1 -p "$port" config get appendonly 2>/dev/null | sed -n 2p || true)
  if [ "$appendonly" = no ]; then
    echo "warning: the Redis already running on port $port has appendonly no: a restart loses queued jobs (docs/configuration.md#redis-persistence)" >&2
  fi
  exit 0
fi

echo "starting Redis on port $port, data in $dir"
mkdir -p "$dir"
# appendfsync always: the receiver's 200 promises the event is kept, and only an fsync before the answer keeps
# that promise through a power loss or kernel crash (see docs/configuration.md#redis-persistence for the cost).
# noeviction: a full Redis refuses writes (the receiver answers 503) instead of dropping queued jobs.
redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$port" \
  --dir "$dir" --appendonly yes --appendfsync always --save "" --maxmemory-policy noeviction \
  --pidfile "$dir/redis.pid" --logfile "$dir/redis.log"
for _ in $(seq 1 30); do
  redis-cli -h 127.0.0.1 -p "$port" ping >/dev/null 2>&1 && exit 0
  sleep 1
done
echo "Redis did not answer on port $port within 30 s; see $dir/redis.log" >&2
exit 1
