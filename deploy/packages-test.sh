#!/usr/bin/env bash
# The published packages as a user gets them: `npm pack` of the server, the SDK, the guard and
# the contract; the tarballs installed in an empty folder (dependencies from the npm registry,
# or its local cache); `npx latchkey start` there on the embedded default; and a small Express
# app that imports the guard and the SDK, signs a user up and in with the SDK and calls its own
# route protected by the guard. Everything listens on 127.0.0.1; the folder is removed after.
set -euo pipefail
cd "$(dirname "$0")/.."
work="$(mktemp -d)"
server_pid=""
cleanup() {
  local status=$?
  if [ -n "$server_pid" ]; then
    # The whole group: npx runs the server as its child, which a kill of npx alone leaves running.
    kill -TERM -- "-$server_pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 -- "-$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$server_pid" 2>/dev/null || true
  fi
  [ $status -eq 0 ] || { echo "-- latchkey's log" >&2; tail -30 "$work/latchkey.log" >&2 2>/dev/null; }
  rm -rf "$work"
  exit $status
}
trap cleanup EXIT
die() { echo "packages test FAILED: $*" >&2; exit 1; }
t0=$(date +%s)

node scripts/build.mjs --if-stale
npm pack --silent --pack-destination "$work" \
  -w @latchkey/contract -w @latchkey/sdk -w @latchkey/guard -w @latchkey/server >/dev/null
for tgz in "$work"/*.tgz; do
  echo "$(basename "$tgz"): $(($(stat -c %s "$tgz") / 1000)) kB, $(tar -tzf "$tgz" | wc -l) files"
done
server_files="$(tar -tzf "$work"/latchkey-server-*.tgz)"
for f in package/dist/cli/main.js package/web/index.html package/assets/common-passwords.txt \
  package/dist/core/hash-worker.js package/dist/pglite-initial.tar.gz; do
  grep -qx "$f" <<<"$server_files" || die "$f is not in the server's tarball"
done
for p in contract sdk guard; do
  # Listed first, then searched: `tar | grep -q` fails under pipefail when grep stops reading early.
  files="$(tar -tzf "$work"/latchkey-$p-*.tgz)"
  grep -qx 'package/dist/index.d.ts' <<<"$files" || die "no types in $p"
done
for tgz in "$work"/*.tgz; do
  if tar -tzf "$tgz" | grep -Eq '(^package/src/|\.test\.|tsbuildinfo|\.env$)'; then
    die "sources, tests or build state in $(basename "$tgz")"
  fi
done

mkdir "$work/app"
cd "$work/app"
npm init -y >/dev/null
npm pkg set type=module >/dev/null
npm install --prefer-offline --no-audit --no-fund --loglevel=error "$work"/*.tgz express@5 >/dev/null
echo "installed in an empty folder: $(ls node_modules | wc -l) top-level packages"

port=$(node -e 's=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
app_port=$(node -e 's=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
export LATCHKEY_URL="http://127.0.0.1:$port"
start=$(date +%s.%N)
PORT=$port PUBLIC_URL="$LATCHKEY_URL" DATA_DIR="$work/app/data" LOG_LEVEL=info \
  setsid npx --no-install latchkey start >"$work/latchkey.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 600); do
  curl -fs -o /dev/null "$LATCHKEY_URL/readyz" && break
  kill -0 "$server_pid" 2>/dev/null || die "npx latchkey start exited"
  sleep 0.1
done
curl -fs -o /dev/null "$LATCHKEY_URL/readyz" || die "npx latchkey start never got ready"
echo "npx latchkey start: ready in $(awk -v a="$(date +%s.%N)" -v b="$start" 'BEGIN { printf "%.1f", a - b }') s (first start, embedded database)"
login_page="$(curl -fs "$LATCHKEY_URL/login")" || die "the installed server does not answer /login"
grep -q '<div id="root"' <<<"$login_page" || die "the installed server does not serve its pages"

cat >app.mjs <<'EOF'
// A user's back end: its own route protected by @latchkey/guard, and @latchkey/sdk in token
// mode as its client would use it.
import express from 'express';
import { latchkey, requireAuth } from '@latchkey/guard/express';
import { createClient, LatchkeyError } from '@latchkey/sdk';

const base = process.env.LATCHKEY_URL;
const app = express();
app.use(latchkey({ issuer: base }));
app.get('/api/profile', requireAuth(), (req, res) => res.json({ user: req.user }));
const server = app.listen(Number(process.env.APP_PORT), '127.0.0.1');
await new Promise((r) => server.once('listening', r));
const api = `http://127.0.0.1:${process.env.APP_PORT}/api/profile`;

const client = createClient({ baseUrl: base, mode: 'token' });
const email = 'packed@example.com';
const password = 'packaged: correct horse battery staple';
await client.register({ email, password, name: 'Packed' });
// The mail leaves through the outbox, a moment after the answer.
let mail;
for (let i = 0; i < 100 && !mail; i++) {
  const { messages } = await (await fetch(`${base}/dev/mail.json`)).json();
  mail = messages.find((m) => m.to === email);
  if (!mail) await new Promise((r) => setTimeout(r, 100));
}
const token = /verify-email\?token=([\w-]+)/.exec(mail?.text ?? '')?.[1];
if (!token) throw new Error(`no verification mail: ${JSON.stringify(mail).slice(0, 300)}`);
await client.verifyEmail({ token, password });
const pair = await client.token({ email, password });

const anonymous = await fetch(api);
const signedIn = await fetch(api, { headers: { authorization: `Bearer ${pair.accessToken}` } });
const body = await signedIn.json();
const { user } = await client.me();
let refused = false;
try {
  await client.login({ email, password: 'not the password at all, really' });
} catch (error) {
  refused = error instanceof LatchkeyError && error.status === 401;
}
server.close();
const ok = anonymous.status === 401 && signedIn.status === 200 && body.user.id === user.id && body.user.via === 'bearer' && refused;
console.log(JSON.stringify({ ok, anonymous: anonymous.status, signedIn: signedIn.status, wrongPasswordRefused: refused }));
process.exit(ok ? 0 : 1);
EOF
APP_PORT=$app_port node app.mjs || die "the app using the packed guard and SDK"
echo "packages test passed in $(($(date +%s) - t0)) s"
