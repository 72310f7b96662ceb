#!/usr/bin/env bash
# Builds local stand-ins for the base images that deploy/Dockerfile and docker-compose.yml name, for a
# machine that reaches no image registry: Debian from the apt mirror (mmdebstrap), node from the host's
# node binary, and postgres, redis and registry from Debian packages. An image already tagged is kept.
# Run as root with podman (scripts/test-deploy.sh sets CONTAINERS_CONF).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

built() { podman image exists "$1"; }

debian=docker.io/library/debian:bookworm-slim
if ! built "$debian"; then
  echo "stand-in: building $debian with mmdebstrap"
  mirror=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  mmdebstrap --quiet --variant=minbase --format=tar bookworm "$work/rootfs.tar" "${mirror:-http://deb.debian.org/debian}"
  podman import --quiet --change 'CMD ["bash"]' "$work/rootfs.tar" "$debian" >/dev/null
  rm -f "$work/rootfs.tar"
fi

node_image=docker.io/library/node:20-bookworm-slim
if ! built "$node_image"; then
  echo "stand-in: building $node_image from the host's node $(node --version) and npm 10"
  mkdir "$work/node"
  cp "$(command -v node)" "$work/node/node"
  cp /etc/ssl/certs/ca-certificates.crt "$work/node/host-ca.crt"
  (cd "$work/node" && npm pack --silent npm@10 >/dev/null && mkdir npm && tar -xzf npm-*.tgz -C npm --strip-components=1)
  podman build --quiet --pull=never -f "$here/node.Containerfile" -t "$node_image" "$work/node" >/dev/null
fi

for service in postgres:18.1 redis:7 registry:3; do
  image=docker.io/library/$service
  if ! built "$image"; then
    echo "stand-in: building $image from Debian packages"
    podman build --quiet --pull=never -f "$here/${service%%:*}.Containerfile" -t "$image" "$here" >/dev/null
  fi
done
