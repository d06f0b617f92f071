#!/usr/bin/env bash
# Builds local stand-ins for the public images that Dockerfile and compose.yaml name, for a
# machine that cannot pull from a registry: Debian bookworm from debootstrap, imported with
# `docker import`, with this machine's own node binary for the Node image and Debian's
# PostgreSQL, Redis and Caddy packages for theirs; a small SMTP catcher stands in for Mailpit.
# The images carry the hash of this folder (and of the node binary) as a label and are rebuilt
# only when that changes; the debootstrap trees are cached under $STANDIN_CACHE.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="${STANDIN_CACHE:-/var/cache/latchkey-deploy}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
docker="${DOCKER:-docker}"

NODE_IMAGE=node:22-bookworm-slim
POSTGRES_IMAGE=postgres:17-bookworm
REDIS_IMAGE=redis:7-bookworm
CADDY_IMAGE=caddy:2
MAILPIT_IMAGE=axllent/mailpit:latest

node_bin="$(command -v node)"
# Where outgoing TLS is inspected (as on the machine this was written on), the registry is only
# reachable with the machine's extra CA: the Node stand-in trusts it too, so that `npm ci` in the
# Dockerfile works unchanged. The official image needs nothing of the kind.
extra_ca="${NODE_EXTRA_CA_CERTS:-}"
[ -f "$extra_ca" ] || extra_ca=""
npm_dir="$(dirname "$(readlink -f "$(command -v npm)")")/.."
key="$( (cd "$here" && cat build.sh ./*.Dockerfile ./*.sh ./*.mjs ${extra_ca:+"$extra_ca"}) | sha256sum | cut -c1-16)-$(node --version)-$(npm --version)"

current() { # the stand-in key an image was built with, or nothing
  "$docker" image inspect -f '{{index .Config.Labels "org.latchkey.standin"}}' "$1" 2>/dev/null || true
}

rootfs() { # rootfs NAME PACKAGES: a debootstrap tree as a tarball, cached by its recipe
  local name="$1" include="$2"
  local version=""
  [ "$name" != node ] || version="$(node --version) npm $(npm --version)"
  local tar="$cache/rootfs-$name-$(echo "$include${version:+ $version}" | sha256sum | cut -c1-12).tar"
  if [ ! -s "$tar" ]; then
    mkdir -p "$cache/debs"
    local dir; dir="$(mktemp -d "$cache/tree-XXXXXX")"
    echo "stand-ins: debootstrap $name (${include:-minbase})" >&2
    debootstrap --variant=minbase ${include:+--include="$include"} \
      --cache-dir="$cache/debs" bookworm "$dir" "$mirror" >"$cache/debootstrap-$name.log" 2>&1 ||
      { tail -20 "$cache/debootstrap-$name.log" >&2; exit 1; }
    # What a -slim image leaves out too: documentation, manuals, package lists, downloads.
    rm -rf "$dir"/usr/share/{doc,man,info}/* "$dir"/var/lib/apt/lists/* "$dir"/var/cache/apt/* \
      "$dir"/var/cache/debconf/*-old "$dir"/var/log/*.log
    if [ "$name" = node ]; then
      # The official image: node, npm and npx in /usr/local, a `node` user with uid 1000.
      install -m 0755 "$node_bin" "$dir/usr/local/bin/node"
      mkdir -p "$dir/usr/local/lib/node_modules"
      cp -a "$npm_dir" "$dir/usr/local/lib/node_modules/npm"
      ln -s ../lib/node_modules/npm/bin/npm-cli.js "$dir/usr/local/bin/npm"
      ln -s ../lib/node_modules/npm/bin/npx-cli.js "$dir/usr/local/bin/npx"
      chroot "$dir" groupadd --gid 1000 node
      chroot "$dir" useradd --uid 1000 --gid node --shell /bin/bash --create-home node
    fi
    tar -C "$dir" -cf "$tar.part" . && mv "$tar.part" "$tar"
    rm -rf "$dir"
  fi
  echo "$tar"
}

imported() { # imported NAME PACKAGES: the tree as a local base image
  local image="latchkey-standin/$1:$key"
  if ! "$docker" image inspect "$image" >/dev/null 2>&1; then
    local tar
    tar="$(rootfs "$1" "$2")"
    "$docker" import "$tar" "$image" >/dev/null
  fi
  echo "$image"
}

build() { # build IMAGE RECIPE BASE
  "$docker" build -q --force-rm -f "$here/$2" --build-arg "BASE=$3" --label "org.latchkey.standin=$key" \
    -t "$1" "$here" >/dev/null
  echo "stand-ins: built $1" >&2
}

wanted=("$NODE_IMAGE" "$POSTGRES_IMAGE" "$REDIS_IMAGE" "$CADDY_IMAGE" "$MAILPIT_IMAGE")
stale=0
for image in "${wanted[@]}"; do [ "$(current "$image")" = "$key" ] || stale=1; done
if [ "$stale" = 0 ]; then
  echo "stand-ins: up to date ($key)" >&2
  exit 0
fi

node_base="$(imported node "")"
services_base="$(imported services "postgresql-15,redis-server,caddy")"
# The Node image's context: its recipe and the machine's extra CA (empty when there is none).
node_context="$(mktemp -d)"
cp "$here/node.Dockerfile" "$node_context/"
if [ -n "$extra_ca" ]; then cp "$extra_ca" "$node_context/extra-ca.crt"; else : >"$node_context/extra-ca.crt"; fi
"$docker" build -q --force-rm -f "$node_context/node.Dockerfile" --build-arg "BASE=$node_base" \
  --build-arg "EXTRA_CA=${extra_ca:+/usr/local/share/extra-ca.crt}" \
  --label "org.latchkey.standin=$key" -t "$NODE_IMAGE" "$node_context" >/dev/null
rm -rf "$node_context"
echo "stand-ins: built $NODE_IMAGE" >&2
build "$MAILPIT_IMAGE" mailpit.Dockerfile "$NODE_IMAGE"
build "$POSTGRES_IMAGE" postgres.Dockerfile "$services_base"
build "$REDIS_IMAGE" redis.Dockerfile "$services_base"
build "$CADDY_IMAGE" caddy.Dockerfile "$services_base"
# Older stand-in generations: their base images are no longer needed.
"$docker" images --format '{{.Repository}}:{{.Tag}}' | grep '^latchkey-standin/' |
  grep -v ":$key\$" | xargs -r "$docker" rmi >/dev/null 2>&1 || true
