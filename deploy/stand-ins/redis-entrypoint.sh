#!/bin/sh
# Like the official image: redis-server runs as the redis user and, as there, without protected
# mode (the container network is what guards it).
set -eu
if [ "${1:-}" = redis-server ]; then
  set -- "$@" --protected-mode no
  exec setpriv --reuid=redis --regid=redis --init-groups "$@"
fi
exec "$@"
