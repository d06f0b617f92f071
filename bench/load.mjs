// One autocannon run in its own process, so the load generator never shares an event loop with
// the bench script (or the server). Reads its job from the JSON file named by argv[2] and
// prints autocannon's result as JSON on stdout.
//
// Job: { url, method, path, connections, duration, overallRate?, body?,
//        headers?, rotate?: { header, values }, bodies?: string[], register?: { password },
//        refreshPool?: string[] }
import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';

const job = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const headers = { ...(job.headers ?? {}) };
const request = { method: job.method, path: job.path, headers, body: job.body };

if (job.rotate) {
  // One credential per request, round robin (sessions of several users).
  const { header, values } = job.rotate;
  let i = 0;
  request.setupRequest = (req) => {
    req.headers = { ...req.headers, [header]: values[i++ % values.length] };
    return req;
  };
} else if (job.bodies) {
  // One body per request, round robin (logins of several users).
  let i = 0;
  request.setupRequest = (req) => {
    req.body = job.bodies[i++ % job.bodies.length];
    return req;
  };
} else if (job.register) {
  // A new address per request.
  const prefix = `${process.pid}-${Date.now().toString(36)}`;
  let i = 0;
  request.setupRequest = (req) => {
    req.body = JSON.stringify({
      email: `bench-${prefix}-${i++}@example.com`,
      password: job.register.password,
    });
    return req;
  };
} else if (job.refreshPool) {
  // Refresh tokens work once: each response's successor goes back into the pool, so no token
  // is ever sent twice (which would look like reuse and revoke its family).
  const pool = [...job.refreshPool];
  request.pool = pool;
  request.setupRequest = (req) => {
    const token = pool.shift() ?? 'pool-exhausted';
    req.body = JSON.stringify({ refreshToken: token });
    return req;
  };
  request.onResponse = (status, body) => {
    if (status !== 200) return;
    try {
      pool.push(JSON.parse(body).refreshToken);
    } catch {
      // not JSON: counted as an error by the status anyway
    }
  };
}

const result = await autocannon({
  url: job.url,
  connections: job.connections,
  duration: job.duration,
  overallRate: job.overallRate,
  timeout: 30,
  requests: [request],
});
// The tokens still live at the end, so that the next round of the scenario goes on with them.
if (job.refreshPool) result.refreshPool = request.pool;
process.stdout.write(JSON.stringify(result));
