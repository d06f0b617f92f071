#!/usr/bin/env bash
# Builds the image from Dockerfile and runs compose.yaml and compose.embedded.yaml as a user
# would, on local stand-ins for the public images (deploy/stand-ins/build.sh), and proves:
#   - the image builds, holds no dev dependencies or .env, runs as non-root, gets healthy, and
#     SIGTERM (docker stop) drains and exits 0; an acknowledged sign-up survives docker kill
#     (embedded database in the volume);
#   - compose.yaml refuses to start with the placeholders of .env.example;
#   - the stack comes up healthy from a clean state; through Caddy a person signs up, the mail
#     reaches the catcher, they verify and sign in; a session from instance A is recognised on
#     B, and after logout on A refused on B;
#   - stopping one instance while requests flow leaves the other serving (no 5xx once Caddy
#     has noticed); a PostgreSQL restart is survived without any action; a sign-up acknowledged
#     just before `docker kill` of both instances is in the database after they come back;
#   - `docker compose down` then `up` keeps every user (volumes).
# Everything listens on 127.0.0.1 or on the Docker networks this script creates, and every
# container, network and volume it makes is removed at the end (images stay, as a cache).
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"
started_at=$(date +%s)
step() { echo "== deploy: $* ($(($(date +%s) - started_at)) s)"; }
die() { echo "deploy test FAILED: $*" >&2; exit 1; }
since() { awk -v now="$(date +%s.%N)" -v t0="$1" 'BEGIN { printf "%.1f", now - t0 }'; }

# Debian's docker CLI matches Debian's engine; another docker earlier on PATH may be newer.
docker="$(command -v /usr/bin/docker || command -v docker)"
export DOCKER="$docker" DOCKER_BUILDKIT=0 COMPOSE_DOCKER_CLI_BUILD=0
docker() { "$DOCKER" "$@"; }

work="$(mktemp -d)"
volumes_before="-" # not recorded yet: then no volume is removed
project=latchkey-deploy-test
embedded=latchkey-deploy-embedded
started_engine=""
compose_cmd=()

cleanup() {
  local status=$?
  set +e
  if [ ${#compose_cmd[@]} -gt 0 ]; then
    if [ $status -ne 0 ]; then
      echo "-- logs of the stack (last 40 lines per service)" >&2
      "${compose_cmd[@]}" -p "$project" --env-file "$work/env" logs --no-color --tail=40 >&2 2>/dev/null
    fi
    "${compose_cmd[@]}" -p "$project" --env-file "$work/env" down -v --remove-orphans >/dev/null 2>&1
    "${compose_cmd[@]}" -p "$embedded" -f compose.embedded.yaml down -v >/dev/null 2>&1
  fi
  docker rmi latchkey:next >/dev/null 2>&1
  # Anonymous volumes (the images declare /data) left by containers that `down` or a recreate
  # removed: the ones that appeared during this run and nothing uses.
  if [ "$volumes_before" != "-" ]; then
    for volume in $(docker volume ls -q -f dangling=true); do
      grep -qx "$volume" <<<"$volumes_before" || docker volume rm "$volume" >/dev/null 2>&1
    done
  fi
  rm -rf "$work"
  if [ -n "$started_engine" ]; then kill "$started_engine" 2>/dev/null; fi
  exit $status
}
trap cleanup EXIT

step "engine"
if ! docker info >/dev/null 2>&1; then
  [ -x /usr/sbin/dockerd ] || die "no Docker engine: apt-get install -y docker.io docker-compose debootstrap"
  /usr/sbin/dockerd >/var/log/latchkey-dockerd.log 2>&1 &
  started_engine=$!
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
  docker info >/dev/null 2>&1 || die "dockerd did not start (see /var/log/latchkey-dockerd.log)"
fi
if docker compose version >/dev/null 2>&1; then
  compose_cmd=(docker compose)
elif command -v docker-compose >/dev/null; then
  compose_cmd=(docker-compose)
else
  die "neither 'docker compose' nor 'docker-compose' is installed"
fi
compose() { "${compose_cmd[@]}" -p "$project" --env-file "$work/env" "$@"; }
echo "engine $(docker version -f '{{.Server.Version}}'), compose: ${compose_cmd[*]} $("${compose_cmd[@]}" version --short 2>/dev/null)"
volumes_before="$(docker volume ls -q)"
# Leftovers of an interrupted run.
: >"$work/env"
compose down -v --remove-orphans >/dev/null 2>&1 || true
"${compose_cmd[@]}" -p "$embedded" -f compose.embedded.yaml down -v >/dev/null 2>&1 || true

step "stand-in images"
deploy/stand-ins/build.sh

step "image build"
t0=$(date +%s.%N)
docker build -q --force-rm -t latchkey:local . >/dev/null
build_s=$(since "$t0")
size=$(docker image inspect -f '{{.Size}}' latchkey:local)
base=$(docker image inspect -f '{{.Size}}' node:22-bookworm-slim)
echo "image built in ${build_s} s: $((size / 1000000)) MB ($(((size - base) / 1000000)) MB on top of the Node image)"

step "image contents"
[ "$(docker image inspect -f '{{.Config.User}}' latchkey:local)" = node ] || die "the image does not run as the node user"
[ "$(docker run --rm --entrypoint id latchkey:local -u)" != 0 ] || die "the container runs as root"
docker run --rm --entrypoint sh latchkey:local -c '
  for p in typescript vite vitest eslint @vitejs; do [ ! -e "node_modules/$p" ] || { echo "dev dependency $p in the image"; exit 1; }; done
  [ ! -e .env ] && [ ! -e packages/server/.env ] || { echo ".env in the image"; exit 1; }
  [ -f packages/server/web/index.html ] || { echo "no pages in the image"; exit 1; }
' || die "image contents"
echo "non-root (uid $(docker run --rm --entrypoint id latchkey:local -u)), no dev dependencies, no .env, pages included"

step "embedded database: compose.embedded.yaml"
port=$(node -e 's=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
emb() { LATCHKEY_PORT=$port "${compose_cmd[@]}" -p "$embedded" -f compose.embedded.yaml "$@"; }
ready() { # ready URL SECONDS: seconds until GET URL answers 200 (fails after SECONDS)
  local t0 deadline; t0=$(date +%s.%N) deadline=$(($(date +%s) + $2))
  until curl -fsS -o /dev/null --max-time 2 "${@:3}" "$1" 2>/dev/null; do
    [ "$(date +%s)" -lt "$deadline" ] || return 1
    sleep 0.1
  done
  since "$t0"
}
emb up -d --no-build >/dev/null 2>&1
cold=$(ready "http://127.0.0.1:$port/readyz" 60) || die "the embedded container did not get ready"
echo "container cold start (first start on an empty volume): ${cold} s to /readyz"
cid=$(emb ps -q latchkey)
for _ in $(seq 1 60); do
  [ "$(docker inspect -f '{{.State.Health.Status}}' "$cid")" = healthy ] && break; sleep 1
done
[ "$(docker inspect -f '{{.State.Health.Status}}' "$cid")" = healthy ] || die "HEALTHCHECK never passed"
echo "HEALTHCHECK: healthy"
curl -fsS -o /dev/null -X POST "http://127.0.0.1:$port/auth/register" -H 'content-type: application/json' \
  -d '{"email":"kill-embedded@example.com","password":"deploy test: correct horse battery staple"}' -w '%{http_code}\n' |
  grep -qx 202 || die "sign-up on the embedded container"
docker kill "$cid" >/dev/null
emb up -d --no-build >/dev/null 2>&1
warm=$(ready "http://127.0.0.1:$port/readyz" 60) || die "the embedded container did not come back after docker kill"
echo "after docker kill: ready again in ${warm} s"
t0=$(date +%s)
docker stop -t 20 "$cid" >/dev/null
code=$(docker inspect -f '{{.State.ExitCode}}' "$cid")
[ "$code" = 0 ] || die "docker stop: exit code $code (SIGTERM not handled by PID 1?)"
# grep -c, not -q: an early exit of grep would fail the pipeline (pipefail) on a long log.
docker logs "$cid" 2>&1 | grep -c 'SIGTERM: finishing requests' >/dev/null || die "no drain on SIGTERM"
echo "docker stop: SIGTERM drained, exit 0 in $(($(date +%s) - t0)) s"
users=$(docker run --rm -e NODE_ENV=development -v "${embedded}_latchkey-data:/data" latchkey:local users list 2>&1) || die "users list: $users"
grep -q kill-embedded@example.com <<<"$users" || die "the sign-up acknowledged before docker kill is gone: $users"
echo "the sign-up acknowledged before docker kill is in the volume"
emb down -v >/dev/null 2>&1

step "compose.yaml refuses the placeholders"
if out=$("${compose_cmd[@]}" -p "$project" --env-file .env.example config 2>&1); then
  die "compose.yaml accepted the empty placeholders of .env.example"
fi
grep -q 'set .* in .env' <<<"$out" || die "unexpected refusal: $out"
echo "refused: $(echo "$out" | grep -o 'set [A-Z_]* in .env' | head -1)"

step "stack up from a clean state"
https_port=$(node -e 's=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
mail_port=$(node -e 's=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
http_port=$(node -e 's=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
cat >"$work/env" <<EOF
LATCHKEY_DOMAIN=localhost
PUBLIC_URL=https://localhost:$https_port
KEY_ENCRYPTION_SECRET=$(openssl rand -base64 32)
POSTGRES_PASSWORD=$(openssl rand -hex 24)
METRICS_TOKEN=$(openssl rand -hex 16)
SMTP_URL=smtp://mailpit:1025
MAIL_FROM=Latchkey test <no-reply@example.com>
PROXY_ADDRESS=127.0.0.1
HTTPS_PORT=$https_port
HTTP_PORT=$http_port
MAILPIT_PORT=$mail_port
EOF
t0=$(date +%s.%N)
compose up -d --no-build >"$work/up.log" 2>&1 || { cat "$work/up.log"; die "compose up"; }
healthy() { # every container of the stack with a health check reports healthy
  local id s
  for id in $(compose ps -q); do
    s=$(docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}' "$id")
    [ "$s" = healthy ] || [ "$s" = none ] || return 1
  done
}
wait_healthy() { # wait_healthy SECONDS
  local deadline=$(($(date +%s) + $1))
  until healthy; do
    [ "$(date +%s)" -lt "$deadline" ] || return 1
    sleep 0.5
  done
}
wait_healthy 180 || die "the stack did not get healthy"
for _ in $(seq 1 60); do
  compose exec -T caddy cat /data/caddy/pki/authorities/local/root.crt >"$work/ca.crt" 2>/dev/null && break
  sleep 0.5
done
[ -s "$work/ca.crt" ] || die "Caddy made no local CA"
proxy="https://localhost:$https_port"
ready "$proxy/readyz" 60 --cacert "$work/ca.crt" --resolve "localhost:$https_port:127.0.0.1" >/dev/null ||
  die "no answer through Caddy"
stack_s=$(since "$t0")
echo "stack up, every container healthy, HTTPS through Caddy: ${stack_s} s"

ip_of() { docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$(compose ps -q "$1")"; }
export PROXY="$proxy" MAILPIT="http://127.0.0.1:$mail_port" NODE_EXTRA_CA_CERTS="$work/ca.crt"
export INSTANCE_A="http://$(ip_of latchkey-a):3000" INSTANCE_B="http://$(ip_of latchkey-b):3000"
flow() { node deploy/flow.mjs "$@"; }

step "sign up, mail, verify, sign in through the proxy"
flow signup ada@example.com
step "a session from instance A on instance B, and logout"
flow across ada@example.com

step "stop one instance while requests flow"
cookie=$(flow login ada@example.com | node -pe 'JSON.parse(require("fs").readFileSync(0)).cookie')
id_a=$(compose ps -q latchkey-a)
flow load 20 "$cookie" >"$work/load.json" &
load_pid=$!
sleep 3
# docker stop (what compose stop does) is sent at once; docker-compose v1 takes seconds to start.
docker stop -t 10 "$id_a" >/dev/null
wait $load_pid || die "the load run failed"
# When A got SIGTERM, from its own log; Caddy checks health every 2 s (2 s timeout), so from 4 s
# after that signal every answer must come from B.
sigterm=$(docker logs "$id_a" 2>&1 | node -e '
  const lines = require("fs").readFileSync(0, "utf8").split("\n");
  const line = lines.filter((l) => l.includes("SIGTERM: finishing")).pop();
  console.log(line ? JSON.parse(line).time : "");
')
[ -n "$sigterm" ] || die "no SIGTERM in instance A's log"
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const sigterm = Number(process.argv[2]);
  const fiveXX = r.bad.filter((b) => typeof b.status !== "number" || b.status >= 500);
  const late = fiveXX.filter((b) => b.epoch > sigterm + 4000);
  const at = (b) => `${b.status} ${b.epoch - sigterm} ms after SIGTERM`;
  console.log(`${r.requests} requests: ${JSON.stringify(r.counts)}; A got SIGTERM ${sigterm - r.started} ms in`);
  if (fiveXX.length) console.log(`5xx or errors: ${fiveXX.map(at).join(", ")}`);
  console.log(`after Caddy noticed (SIGTERM + 4 s): ${late.length} 5xx`);
  const observed = Math.max(...r.bad.map((b) => b.epoch), r.started + r.lastAt) - sigterm;
  if (observed < 8000) { console.log(`only ${observed} ms of requests after SIGTERM`); process.exit(1); }
  if (late.length || fiveXX.length + (r.counts["200"] ?? 0) !== r.requests) process.exit(1);
' "$work/load.json" "$sigterm" || die "requests failed after instance A was stopped: $(cat "$work/load.json")"
compose start latchkey-a >/dev/null 2>&1

step "rolling upgrade: a new image replaces A, then B, while requests flow"
docker tag latchkey:local latchkey:next
flow load 40 "$cookie" >"$work/roll.json" &
load_pid=$!
sleep 2
t0=$(date +%s.%N)
for instance in latchkey-a latchkey-b; do
  LATCHKEY_IMAGE=latchkey:next compose up -d --no-deps --no-build "$instance" >/dev/null 2>&1
  id=$(compose ps -q "$instance")
  deadline=$(($(date +%s) + 180))
  until s=$(docker inspect -f '{{.State.Health.Status}}' "$id") && [ "$s" = healthy ]; do
    [ "$(date +%s)" -lt "$deadline" ] || break
    sleep 0.5
  done
  [ "$s" = healthy ] || die "$instance did not get healthy on the new image"
  docker logs "$id" 2>&1 | grep -c '"msg":"Latchkey is ready' >/dev/null || die "$instance: no start in its log"
done
echo "both instances replaced in $(since "$t0") s"
wait $load_pid || die "the load run failed"
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const fiveXX = r.bad.filter((b) => typeof b.status !== "number" || b.status >= 500);
  console.log(`${r.requests} requests during the roll: ${JSON.stringify(r.counts)}`);
  if (fiveXX.length + (r.counts["200"] ?? 0) !== r.requests) process.exit(1);
  if (fiveXX.length > 0) console.log("5xx or errors at:", JSON.stringify(fiveXX));
' "$work/roll.json" || die "answers other than 200 during the roll: $(cat "$work/roll.json")"
for instance in latchkey-a latchkey-b; do
  [ "$(docker inspect -f '{{.Config.Image}}' "$(compose ps -q "$instance")")" = latchkey:next ] ||
    die "$instance is not on the new image"
done
echo "both instances on the new image"

step "restart PostgreSQL"
compose restart postgres >/dev/null 2>&1
t0=$(date +%s.%N)
ok=""
deadline=$(($(date +%s) + 90))
while [ "$(date +%s)" -lt "$deadline" ]; do
  if code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 --cacert "$work/ca.crt" -H "cookie: $cookie" "$proxy/auth/me") && [ "$code" = 200 ]; then ok=1; break; fi
  sleep 0.5
done
[ -n "$ok" ] || die "no 200 through the proxy within 90 s of the PostgreSQL restart"
echo "200 through the proxy again $(since "$t0") s after the restart command returned, with no action"
wait_healthy 120 || die "not every container is healthy after the PostgreSQL restart"
flow login ada@example.com >/dev/null || die "sign-in after the PostgreSQL restart"
echo "both instances healthy, sign-in works"

step "docker kill right after an acknowledged sign-up"
flow register grace@example.com
docker kill "$(compose ps -q latchkey-a)" "$(compose ps -q latchkey-b)" >/dev/null
compose up -d --no-build latchkey-a latchkey-b >/dev/null 2>&1
wait_healthy 180 || die "the instances did not get healthy after docker kill"
psql() { compose exec -T postgres psql -U latchkey -d latchkey -tAc "$1"; }
[ "$(psql "select count(*) from users where email = 'grace@example.com'")" = 1 ] ||
  die "the acknowledged sign-up is gone"
echo "the sign-up acknowledged before the kill is in the database"

step "down, then up: every user kept"
before=$(psql "select count(*) from users")
compose down >/dev/null 2>&1
compose up -d --no-build >/dev/null 2>&1
wait_healthy 180 || die "the stack did not get healthy again"
ready "$proxy/readyz" 60 --cacert "$work/ca.crt" >/dev/null || die "no answer through Caddy after up"
after=$(psql "select count(*) from users")
[ "$before" = "$after" ] || die "users before down: $before, after up: $after"
flow login ada@example.com >/dev/null || die "sign-in after down and up"
echo "$after users before and after; sign-in works"

step "passed in $(($(date +%s) - started_at)) s"
