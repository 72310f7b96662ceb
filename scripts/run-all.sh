#!/usr/bin/env bash
# `make run`: receiver, worker and browse side by side; SIGTERM or Ctrl-C stops all three cleanly.
set -euo pipefail
cd "$(dirname "$0")/.."

# Create the database named in STATICREG_DB_URL when the server is reachable and it does not exist yet.
if [ -n "${STATICREG_DB_URL:-}" ]; then
  dbname=$(node -e 'console.log(decodeURIComponent(new URL(process.argv[1]).pathname.slice(1)) || "postgres")' "$STATICREG_DB_URL")
  admin_url=$(node -e 'const u=new URL(process.argv[1]); u.pathname="/postgres"; console.log(u.href)' "$STATICREG_DB_URL")
  if ! psql "$admin_url" -tAc "select 1 from pg_database where datname = '$dbname'" | grep -q 1; then
    echo "creating database $dbname"
    psql "$admin_url" -c "create database \"$dbname\""
  fi
fi

# The receiver refuses to start without a webhook token. Unless one is set (or unauthenticated intake is chosen),
# use the token generated into .data/webhook-token (git-ignored, mode 600) on the first run, and show the
# registry configuration that carries it.
if [ -z "${STATICREG_WEBHOOK_TOKEN:-}" ] && [ -z "${STATICREG_WEBHOOK_ALLOW_UNAUTHENTICATED:-}" ]; then
  token_file=.data/webhook-token
  if [ ! -s "$token_file" ]; then
    mkdir -p .data
    (umask 077 && node -e 'process.stdout.write(require("node:crypto").randomBytes(32).toString("hex") + "\n")' > "$token_file")
    echo "generated a webhook token into $token_file"
  fi
  STATICREG_WEBHOOK_TOKEN=$(tr -d '\n' < "$token_file")
  export STATICREG_WEBHOOK_TOKEN
  cat <<EOF
The receiver takes notifications that carry the token in $token_file. In the registry's config.yml:
notifications:
  endpoints:
    - name: staticreg
      url: http://<this host>:${STATICREG_RECEIVER_PORT:-8093}/api/webhook/registry
      headers:
        Authorization: [Bearer $STATICREG_WEBHOOK_TOKEN]
EOF
fi

# Browse signs people in with their registry credentials; with no registry configured there is nothing to sign in
# against and nothing to list but local counts, so this local run asks for anonymous access explicitly, and says so.
if [ -z "${STATICREG_REGISTRY_HOSTNAME:-}" ] && [ -z "${STATICREG_BROWSE_AUTH:-}" ]; then
  echo "warning: STATICREG_REGISTRY_HOSTNAME is not set: starting browse with STATICREG_BROWSE_AUTH=none (anyone who reaches it sees the dashboard)" >&2
  export STATICREG_BROWSE_AUTH=none
fi

pids=()
stop() {
  trap - TERM INT
  kill -TERM "${pids[@]}" 2>/dev/null || true
  wait "${pids[@]}" 2>/dev/null || true
}
trap stop TERM INT

# Each app in a session of its own: a Ctrl-C (or a signal to the whole group) reaches this script only, which
# passes one SIGTERM on; a second signal would make an app give up its clean shutdown.
setsid node apps/worker/dist/main.js & pids+=($!)
setsid node apps/receiver/dist/main.js & pids+=($!)
setsid node apps/browse/dist/main.js & pids+=($!)
# Whichever exits first (a crash, or a signal) stops the others.
wait -n "${pids[@]}" || true
stop
