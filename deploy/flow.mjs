// What deploy/test.sh asks of a running stack, as a person and a browser would do it. Run with
// the machine's node; every address comes from the environment:
//   PROXY      https://localhost:PORT, Caddy (NODE_EXTRA_CA_CERTS trusts its local CA)
//   MAILPIT    http://127.0.0.1:PORT, the mail catcher's API
//   INSTANCE_A, INSTANCE_B   http://IP:3000, the two instances on the test's Docker network
// Commands (each prints one JSON line and exits non-zero when a check fails):
//   signup EMAIL              sign up through the proxy, read the mail, verify, sign in
//   across EMAIL              sign in on A, recognised on B; logout on A, refused on B
//   login EMAIL               sign in through the proxy; prints the cookie
//   load SECONDS COOKIE       GET /auth/me through the proxy, continuously; statuses over time
//   register EMAIL            one sign-up through the proxy (202), nothing else
const PASSWORD = 'deploy test: correct horse battery staple';
const { PROXY, MAILPIT, INSTANCE_A, INSTANCE_B } = process.env;
const origin = PROXY ? new URL(PROXY).origin : '';

function fail(message, details = {}) {
  console.log(JSON.stringify({ ok: false, message, ...details }));
  process.exit(1);
}

async function call(base, method, path, { body, cookie, csrf } = {}) {
  const headers = { origin, accept: 'application/json' };
  if (body) headers['content-type'] = 'application/json';
  if (cookie) headers.cookie = cookie;
  if (csrf) headers['x-csrf-token'] = csrf;
  const res = await fetch(base + path, {
    method,
    headers,
    body: body ? JSON.stringify(body) : undefined,
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    // not JSON (an empty 204, or a proxy's error page)
  }
  const setCookie = res.headers.getSetCookie().map((c) => c.split(';')[0]);
  return { status: res.status, json, text, cookie: setCookie.join('; ') };
}

const expect = (what, res, status) => {
  if (res.status !== status)
    fail(`${what}: expected ${status}, got ${res.status}`, { body: res.text.slice(0, 300) });
  return res;
};

async function mailTo(email) {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const list = await (await fetch(`${MAILPIT}/api/v1/messages`)).json();
    const summary = list.messages.find((m) => m.To.some((t) => t.Address === email));
    if (summary) return (await fetch(`${MAILPIT}/api/v1/message/${summary.ID}`)).json();
    await new Promise((r) => setTimeout(r, 250));
  }
  fail(`no mail to ${email} in the catcher within 30 s`);
}

async function login(base, email) {
  const res = expect(
    `sign in at ${base}`,
    await call(base, 'POST', '/auth/login', { body: { email, password: PASSWORD } }),
    200,
  );
  return { cookie: res.cookie, csrf: res.json.csrfToken };
}

const [command, ...args] = process.argv.slice(2);

if (command === 'register') {
  const [email] = args;
  expect(
    'sign-up',
    await call(PROXY, 'POST', '/auth/register', {
      body: { email, password: PASSWORD, name: 'Deploy Test' },
    }),
    202,
  );
  console.log(JSON.stringify({ ok: true, registered: email }));
} else if (command === 'signup') {
  const [email] = args;
  expect(
    'sign-up',
    await call(PROXY, 'POST', '/auth/register', {
      body: { email, password: PASSWORD, name: 'Deploy Test' },
    }),
    202,
  );
  const mail = await mailTo(email);
  const link = /https:\/\/[^\s"<>]*verify-email\?token=([A-Za-z0-9_-]+)/.exec(
    mail.Text || mail.HTML,
  );
  if (!link) fail('no verification link in the mail', { text: mail.Text.slice(0, 500) });
  if (!link[0].startsWith(`${origin}/`)) fail(`the link is not on PUBLIC_URL: ${link[0]}`);
  expect(
    'verify',
    await call(PROXY, 'POST', '/auth/verify-email', {
      body: { token: link[1], password: PASSWORD },
    }),
    200,
  );
  const session = await login(PROXY, email);
  const me = expect('me', await call(PROXY, 'GET', '/auth/me', session), 200);
  if (me.json.user.email !== email) fail('me is someone else', { me: me.json });
  console.log(
    JSON.stringify({
      ok: true,
      email,
      subject: mail.Subject,
      secureCookie: session.cookie.startsWith('__Host-'),
    }),
  );
} else if (command === 'login') {
  const session = await login(PROXY, args[0]);
  console.log(JSON.stringify({ ok: true, cookie: session.cookie }));
} else if (command === 'across') {
  const [email] = args;
  const session = await login(INSTANCE_A, email);
  const onB = expect(
    'me on B with the session from A',
    await call(INSTANCE_B, 'GET', '/auth/me', session),
    200,
  );
  if (onB.json.user.email !== email) fail('B recognised someone else');
  expect('logout on A', await call(INSTANCE_A, 'POST', '/auth/logout', session), 204);
  // Revocation travels through Redis; the design promises milliseconds, allow a second.
  let after;
  const deadline = Date.now() + 1000;
  do after = await call(INSTANCE_B, 'GET', '/auth/me', session);
  while (after.status === 200 && Date.now() < deadline);
  expect('me on B after logout on A', after, 401);
  console.log(JSON.stringify({ ok: true, recognisedOnB: true, refusedOnBAfterLogoutOnA: true }));
} else if (command === 'load') {
  const [seconds, cookie] = args;
  const started = Date.now();
  const results = [];
  const worker = async () => {
    while (Date.now() - started < Number(seconds) * 1000) {
      const at = Date.now() - started;
      let status;
      try {
        status = (await call(PROXY, 'GET', '/auth/me', { cookie })).status;
      } catch (error) {
        status = `error:${error.cause?.code ?? error.name}`;
      }
      results.push({ at, epoch: started + at, status });
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
  const counts = {};
  for (const r of results) counts[r.status] = (counts[r.status] ?? 0) + 1;
  const bad = results.filter((r) => r.status !== 200);
  console.log(
    JSON.stringify({
      ok: true,
      started,
      lastAt: Math.max(...results.map((r) => r.at)),
      requests: results.length,
      counts,
      bad: bad.slice(0, 50),
    }),
  );
} else {
  fail(`unknown command ${command}`);
}
