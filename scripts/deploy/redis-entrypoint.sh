#!/bin/sh
# Entrypoint of the redis stand-in: redis-server with protected mode off, as the official image runs it.
set -eu
if [ "${1:-}" = redis-server ]; then
  shift
  exec redis-server "$@" --protected-mode no
fi
exec "$@"
