#!/usr/bin/env bash
# make test-deploy: builds deploy/Dockerfile, runs docker-compose.yml, counts a real pull through it, and
# checks clean shutdown and that a second `up` finds the counts and the queued pulls again.
#
# Runs as root on a Debian machine without a Docker engine or a reachable image registry: podman 4.3
# serves the Docker API to docker-compose 1.29, and scripts/deploy/base-images.sh builds local stand-ins
# for the base images (kept between runs). Everything listens on 127.0.0.1 only, on ports that leave the
# host's PostgreSQL, Redis and the other tests alone. Leftovers of an earlier run are removed first.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

project=staticreg-test-deploy
registry_port=${STATICREG_TEST_DEPLOY_REGISTRY_PORT:-15000}
browse_port=${STATICREG_TEST_DEPLOY_BROWSE_PORT:-18080}
receiver_port=${STATICREG_TEST_DEPLOY_RECEIVER_PORT:-18093}
run_dir=$repo/.tmp/test-deploy
# Short and fixed: a unix socket path must stay under 108 bytes wherever the clone lives.
socket_dir=${TMPDIR:-/tmp}/staticreg-test-deploy
socket=$socket_dir/podman.sock
started=$SECONDS

say() { printf '[test-deploy %3ds] %s\n' "$((SECONDS - started))" "$*"; }
fail() { say "FAILED: $*"; exit 1; }

# Polls `$@` until it succeeds or `seconds` pass; the condition, not a sleep, is what the test waits for.
wait_for() {
  local seconds=$1 what=$2
  shift 2
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || fail "$what: not within ${seconds}s"
    sleep 1
  done
  say "$what"
}

# --- tools -------------------------------------------------------------------------------------------
[ "$(id -u)" = 0 ] || { echo "make test-deploy runs podman as root: run it as root" >&2; exit 1; }
missing=()
for tool in podman:podman buildah:buildah runc:runc mmdebstrap:mmdebstrap docker-compose:docker-compose \
            skopeo:skopeo /usr/libexec/podman/catatonit:catatonit; do
  command -v "${tool%%:*}" >/dev/null || missing+=("${tool##*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi
export CONTAINERS_CONF=$repo/scripts/deploy/containers.conf

# --- leftovers of an earlier run ---------------------------------------------------------------------
remove_project() {
  local ids
  ids=$(podman ps -aq --filter "label=com.docker.compose.project=$project")
  [ -z "$ids" ] || podman rm -f -t 5 $ids >/dev/null
  ids=$(podman volume ls -q --filter "label=com.docker.compose.project=$project")
  [ -z "$ids" ] || podman volume rm -f $ids >/dev/null
  ids=$(podman network ls -q --filter "label=com.docker.compose.project=$project")
  [ -z "$ids" ] || podman network rm -f $ids >/dev/null
}
# The podman service and health loop of a run that was killed: only if the pid is still one of ours.
if [ -f "$run_dir/pids" ]; then
  while read -r pid; do
    if tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q -e "$socket" -e test-deploy.sh; then
      kill "$pid" 2>/dev/null || true
    fi
  done < "$run_dir/pids"
fi
remove_project
rm -rf "$run_dir" "$socket_dir"
mkdir -p "$run_dir" "$socket_dir"

# --- images ------------------------------------------------------------------------------------------
bash scripts/deploy/base-images.sh
say "base images ready"
podman build --quiet --pull=never -f deploy/Dockerfile -t localhost/staticreg:latest . >"$run_dir/build.log" 2>&1 \
  || { cat "$run_dir/build.log"; fail "podman build -f deploy/Dockerfile"; }
image_bytes=$(podman image inspect --format '{{.Size}}' localhost/staticreg:latest)
base_bytes=$(podman image inspect --format '{{.Size}}' docker.io/library/node:20-bookworm-slim)
say "image built: staticreg $((image_bytes / 1000000)) MB, of which $(((image_bytes - base_bytes) / 1000000)) MB above its node base"

# A tiny image to push and pull: one file, no base.
printf 'staticreg test-deploy\n' > "$run_dir/probe.txt"
printf 'FROM scratch\nCOPY probe.txt /probe.txt\n' > "$run_dir/Containerfile"
podman build --quiet --pull=never -f "$run_dir/Containerfile" -t localhost/staticreg-probe:latest "$run_dir" >/dev/null

# --- the engine, and what podman does not do by itself here --------------------------------------------
podman system service --time=0 "unix://$socket" >"$run_dir/podman-service.log" 2>&1 &
echo $! >> "$run_dir/pids"
export DOCKER_HOST=unix://$socket
wait_for 30 "podman API up" test -S "$socket"

# Without systemd podman never runs healthchecks itself: this loop stands in for its timers.
(
  while true; do
    for id in $(podman ps -q --filter "label=com.docker.compose.project=$project"); do
      podman healthcheck run "$id" >/dev/null 2>&1 || true
    done
    sleep 2
  done
) &
echo $! >> "$run_dir/pids"

stop_helpers() {
  if [ -f "$run_dir/pids" ]; then
    while read -r pid; do kill "$pid" 2>/dev/null || true; done < "$run_dir/pids"
    rm -f "$run_dir/pids"
  fi
  rm -rf "$socket_dir"
}
on_exit() {
  local status=$?
  if [ "$status" != 0 ]; then
    say "logs of the stack follow"
    compose logs --no-color --tail=15 2>/dev/null | cut -c1-400 || true
    compose down -v --timeout 20 >/dev/null 2>&1 || true
    remove_project
  fi
  stop_helpers
  exit "$status"
}
trap on_exit EXIT
trap 'exit 130' INT TERM

# --- compose -----------------------------------------------------------------------------------------
export STATICREG_WEBHOOK_TOKEN
STATICREG_WEBHOOK_TOKEN=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
export STATICREG_PUBLISH_REGISTRY=127.0.0.1:$registry_port
export STATICREG_PUBLISH_RECEIVER=127.0.0.1:$receiver_port
export STATICREG_PUBLISH_BROWSE=127.0.0.1:$browse_port
export POSTGRES_PASSWORD=test-deploy-$RANDOM
# The stand-in registry is 2.8, which ignores REGISTRY_NOTIFICATIONS_ENDPOINTS_0_HEADERS: give it the
# compose file's config with the token written in, as deploy/registry/config.yml says to for 2.8.
sed "s/replaced-by-REGISTRY_NOTIFICATIONS_ENDPOINTS_0_HEADERS/$STATICREG_WEBHOOK_TOKEN/" deploy/registry/config.yml \
  > "$run_dir/registry-config.yml"
cat > "$run_dir/compose.override.yml" <<EOF
services:
  registry:
    volumes:
      - $run_dir/registry-config.yml:/etc/distribution/config.yml:ro
EOF
compose() {
  timeout 300 docker-compose --ansi never -p "$project" -f "$repo/docker-compose.yml" -f "$run_dir/compose.override.yml" "$@"
}
container() { echo "${project}_$1_1"; }
services=(postgres redis registry receiver worker browse)

all_healthy() {
  local service
  for service in "${services[@]}"; do
    [ "$(podman inspect --format '{{.State.Health.Status}}' "$(container "$service")")" = healthy ] || return 1
  done
}
psql_value() {
  podman exec "$(container postgres)" psql -U staticreg -d staticreg -Atc "$1"
}
pulls_of() {
  psql_value "SELECT COALESCE(SUM(pull_count), 0) FROM container_pull_metrics WHERE repo_name = '$1' AND tag = 'v1'"
}
pulls_are() { [ "$(pulls_of "$1")" = "$2" ]; }
# What browse's JSON API says about a tag's pulls in the last 7 days.
browse_pulls_are() {
  curl -fsS "http://127.0.0.1:$browse_port/api/r/$1/-/tags/v1" | node -e '
    let body = ""; process.stdin.on("data", (d) => (body += d)).on("end", () => {
      process.exit(JSON.parse(body).tag?.usage?.pulls7 === Number(process.argv[1]) ? 0 : 1);
    });' "$2"
}
queue_holds_a_job() {
  [ "$(podman exec "$(container redis)" redis-cli LLEN bull:staticreg-pull-events:wait)" -ge 1 ]
}
pull() {
  skopeo copy --quiet --src-tls-verify=false "docker://127.0.0.1:$registry_port/$1:v1" "dir:$run_dir/pulled-${1//\//-}"
}

say "compose up"
compose up -d --no-build >"$run_dir/up1.log" 2>&1 || { cat "$run_dir/up1.log"; fail "compose up"; }
wait_for 180 "six services healthy" all_healthy
for service in receiver worker browse; do
  [ "$(podman inspect --format '{{.Config.User}} {{.HostConfig.ReadonlyRootfs}}' "$(container "$service")")" = "1000:1000 true" ] \
    || fail "$service does not run as uid 1000 with a read-only root filesystem"
done

for repository in probe/counted probe/queued; do
  skopeo copy --quiet --dest-tls-verify=false containers-storage:localhost/staticreg-probe:latest \
    "docker://127.0.0.1:$registry_port/$repository:v1" 2>"$run_dir/push.log" \
    || { cat "$run_dir/push.log"; fail "push $repository:v1"; }
done
say "pushed probe/counted:v1 and probe/queued:v1"
pull probe/counted
say "pulled probe/counted:v1"
wait_for 90 "the pull is counted in Postgres" pulls_are probe/counted 1
wait_for 60 "browse shows the pull" browse_pulls_are probe/counted 1

# A pull made while the worker is stopped waits in Redis; the second `up` must find it there.
compose stop worker >"$run_dir/stop-worker.log" 2>&1 || { cat "$run_dir/stop-worker.log"; fail "compose stop worker"; }
pull probe/queued
wait_for 30 "the second pull waits in the queue" queue_holds_a_job

say "compose stop"
compose stop --timeout 30 >"$run_dir/stop.log" 2>&1 || { cat "$run_dir/stop.log"; fail "compose stop"; }
for service in "${services[@]}"; do
  code=$(podman inspect --format '{{.State.ExitCode}}' "$(container "$service")")
  [ "$code" = 0 ] || { podman logs --tail 20 "$(container "$service")"; fail "$service exited with $code"; }
done
for service in receiver worker browse; do
  podman logs "$(container "$service")" 2>&1 | grep -q '"msg":"Stopped"' \
    || { podman logs --tail 20 "$(container "$service")"; fail "$service logged no Stopped line"; }
done
say "every process exited 0; receiver, worker and browse logged Stopped"
compose down --timeout 30 >"$run_dir/down.log" 2>&1 || { cat "$run_dir/down.log"; fail "compose down"; }

say "compose up again, on the same volumes"
compose up -d --no-build >"$run_dir/up2.log" 2>&1 || { cat "$run_dir/up2.log"; fail "second compose up"; }
wait_for 180 "six services healthy again" all_healthy
[ "$(pulls_of probe/counted)" = 1 ] || fail "the first pull's count did not survive (found $(pulls_of probe/counted))"
wait_for 90 "the queued pull is counted after the restart" pulls_are probe/queued 1
wait_for 60 "browse shows both pulls" browse_pulls_are probe/queued 1
browse_pulls_are probe/counted 1 || fail "browse lost the first pull"

compose down -v --timeout 30 >"$run_dir/down-v.log" 2>&1 || { cat "$run_dir/down-v.log"; fail "compose down -v"; }
[ -z "$(podman ps -aq --filter "label=com.docker.compose.project=$project")" ] || fail "containers left after down -v"
[ -z "$(podman volume ls -q --filter "label=com.docker.compose.project=$project")" ] || fail "volumes left after down -v"
say "passed: staticreg image $((image_bytes / 1000000)) MB"
