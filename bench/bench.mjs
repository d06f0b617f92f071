// `npm run bench`: builds, starts Latchkey and a bare Fastify baseline as child processes, seeds
// users through the API, drives each scenario with autocannon in a separate process, and prints
// and saves the numbers. See docs/performance.md.
import { execFile, fork, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { availableParallelism, cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  checkBars,
  formatBars,
  formatComparison,
  formatStart,
  formatTable,
  median,
  parseArgs,
  roundRatios,
  SCENARIOS,
  summarize,
  USAGE,
} from './report.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const benchDir = join(root, 'bench');
const PASSWORD = 'Quiet-Lantern-Orbit-5812-Mosaic';
const ARGON2 = {
  memoryCost: Number(process.env.ARGON2_MEMORY_KIB ?? 19456),
  timeCost: Number(process.env.ARGON2_ITERATIONS ?? 2),
  parallelism: Number(process.env.ARGON2_PARALLELISM ?? 1),
};

const cleanups = [];
let cleaning;
async function cleanup() {
  cleaning ??= (async () => {
    for (const fn of cleanups.reverse()) {
      try {
        await fn();
      } catch (error) {
        console.error(`cleanup: ${error.message}`);
      }
    }
  })();
  return cleaning;
}
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    console.error(`\n${signal}: stopping`);
    void cleanup().then(() => process.exit(130));
  });
}

const t0 = performance.now();
const log = (msg) =>
  console.error(`[${((performance.now() - t0) / 1000).toFixed(1).padStart(5)} s] ${msg}`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function run(cmd, args, options = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: 'inherit', ...options });
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(' ')} exited ${code}`)),
    );
  });
}

/** Stops a child we started (by its pid), SIGKILL after a grace period. */
function stopChild(child, graceMs = 10_000) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** The argon2 rate of this machine: verifications/s with the configured parameters, all cores. */
async function measureArgon2(seconds) {
  const { hash, verify } = await import('@node-rs/argon2');
  const stored = await hash(PASSWORD, { algorithm: 2, ...ARGON2 });
  const workers = availableParallelism();
  let done = 0;
  const until = performance.now() + seconds * 1000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (performance.now() < until) {
        await verify(stored, PASSWORD);
        done++;
      }
    }),
  );
  return { hashesPerSecond: done / ((performance.now() - started) / 1000), workers, ...ARGON2 };
}

/** Peak RSS (MB) of a process, sampled from /proc while a scenario runs. */
function rssSampler(pid) {
  let peak = 0;
  const sample = () => {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (m) peak = Math.max(peak, Number(m[1]));
    } catch {
      // not Linux, or the process is gone
    }
  };
  sample();
  const timer = setInterval(sample, 200);
  return () => {
    clearInterval(timer);
    sample();
    return peak ? Math.round(peak / 1024) : null;
  };
}

/**
 * CPU seconds (user + system, all threads) a process spends from now until the returned
 * function is called, from /proc: unlike a profile, not inflated when it waits for a core.
 */
function cpuMeter(pid) {
  const read = () => {
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
      return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in clock ticks
    } catch {
      return null; // not Linux, or the process is gone
    }
  };
  const start = read();
  return () => {
    const end = read();
    return start === null || end === null ? null : end - start;
  };
}

/** Server CPU milliseconds per answered request, or null. */
const cpuPerRequest = (seconds, total) =>
  seconds === null || Number.isNaN(seconds) || !total
    ? null
    : Math.round((seconds * 1000 * 100) / total) / 100;

let jobSeq = 0;
/** Runs autocannon in its own process (bench/load.mjs) and returns its result. */
function autocannon(tmp, job) {
  const file = join(tmp, `job-${++jobSeq}.json`);
  writeFileSync(file, JSON.stringify(job));
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [join(benchDir, 'load.mjs'), file],
      { maxBuffer: 64 * 1024 * 1024, timeout: (job.duration + 60) * 1000 },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`autocannon failed: ${error.message}\n${stderr}`));
        else resolve(JSON.parse(stdout));
      },
    );
  });
}

function progress(label, seconds) {
  const started = Date.now();
  if (!process.stderr.isTTY) {
    log(`  … ${label} (${seconds} s)`);
    return () => {};
  }
  const timer = setInterval(() => {
    const s = Math.min(seconds, Math.round((Date.now() - started) / 1000));
    process.stderr.write(`\r  … ${label} ${s}/${seconds} s `);
  }, 500);
  return () => {
    clearInterval(timer);
    process.stderr.write('\r\x1b[K');
  };
}

async function api(base, method, path, body, headers = {}) {
  const res = await fetch(base + path, {
    method,
    headers: { ...(body ? { 'content-type': 'application/json' } : {}), ...headers },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return { res, json: text ? JSON.parse(text) : null };
}

async function waitReady(base, child, logFile) {
  const until = Date.now() + 90_000;
  while (Date.now() < until) {
    if (child.exitCode !== null) break;
    try {
      const res = await fetch(`${base}/readyz`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await sleep(200);
  }
  throw new Error(`Latchkey did not become ready; its log:\n${readFileSync(logFile, 'utf8')}`);
}

/** A field of /proc/<pid>/status in MB (VmRSS now, VmHWM the peak so far), null off Linux. */
function procStatusMB(pid, field) {
  try {
    const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(
      readFileSync(`/proc/${pid}/status`, 'utf8'),
    );
    return m ? Math.round(Number(m[1]) / 1024) : null;
  } catch {
    return null;
  }
}

/**
 * Spawns Latchkey and waits until it is ready: the process and its memory from spawn to ready
 * (peak from the kernel's high-water mark, which no sampling interval can miss).
 */
async function startLatchkey({ base, env, nodeArgs, cwd, logFile }) {
  const logFd = openSync(logFile, 'a');
  const started = performance.now();
  const server = spawn(
    process.execPath,
    [...nodeArgs, join(root, 'packages/server/dist/cli/main.js'), 'start'],
    { cwd, env, stdio: ['ignore', logFd, logFd] },
  );
  cleanups.push(() => stopChild(server, 20_000));
  await waitReady(base, server, logFile);
  const start = {
    seconds: Math.round((performance.now() - started) / 100) / 10,
    readyRssMB: procStatusMB(server.pid, 'VmRSS'),
    peakRssMB: procStatusMB(server.pid, 'VmHWM'),
  };
  return { server, start };
}

async function createPostgresDatabase(url) {
  const pg = (await import('pg')).default;
  const name = `latchkey_bench_${Date.now()}_${process.pid}`;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  cleanups.push(async () => {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    await c.query(`drop database if exists ${name} with (force)`);
    await c.end();
  });
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

async function redisPrefix(url) {
  const prefix = `latchkey-bench-${process.pid}-${Date.now()}:`;
  cleanups.push(async () => {
    const { Redis } = await import('ioredis');
    const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      if (keys.length) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
    redis.disconnect();
  });
  return prefix;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (opts.help) {
    console.log(USAGE);
    return;
  }
  const wanted = new Set(opts.only ?? SCENARIOS);
  const startedAt = new Date().toISOString();
  const benchStart = performance.now();

  if (opts.build) {
    log('Building (npm run build)…');
    await run('npm', ['run', 'build', '--silent'], { cwd: root });
  }

  const tmp = mkdtempSync(join(tmpdir(), 'latchkey-bench-'));
  cleanups.push(() => rmSync(tmp, { recursive: true, force: true }));

  // The baseline.
  const baselinePort = await freePort();
  const baseline = fork(join(benchDir, 'baseline.mjs'), [String(baselinePort)], {
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  cleanups.push(() => stopChild(baseline));
  await new Promise((resolve, reject) => {
    baseline.once('message', resolve);
    baseline.once('exit', (code) => reject(new Error(`baseline exited ${code}`)));
  });
  const baselineUrl = `http://127.0.0.1:${baselinePort}`;

  // Latchkey.
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    NODE_ENV: 'development',
    PORT: String(port),
    HOST: '127.0.0.1',
    PUBLIC_URL: base,
    DATA_DIR: join(tmp, 'data'),
    LOG_LEVEL: 'warn',
    RATE_LIMITS: 'off',
    REQUIRE_EMAIL_VERIFICATION: 'false',
  };
  for (const key of Object.keys(process.env)) {
    if (/^(ARGON2_|HASH_|SESSION_CACHE_TTL$|UV_THREADPOOL_SIZE$)/.test(key))
      env[key] = process.env[key];
  }
  let database = 'embedded (PGlite, in-memory cache)';
  if (process.env.BENCH_DATABASE_URL) {
    env.DATABASE_URL = await createPostgresDatabase(process.env.BENCH_DATABASE_URL);
    database = 'PostgreSQL';
  }
  if (process.env.BENCH_REDIS_URL) {
    env.REDIS_URL = process.env.BENCH_REDIS_URL;
    env.REDIS_KEY_PREFIX = await redisPrefix(process.env.BENCH_REDIS_URL);
    database += ' + Redis';
  }
  const nodeArgs = [];
  if (opts.cpuProf) {
    const dir = join(benchDir, 'results', 'profiles');
    mkdirSync(dir, { recursive: true });
    nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${dir}`);
  }
  const logFile = join(tmp, 'latchkey.log');
  writeFileSync(logFile, '');
  // A first start on an empty DATA_DIR (or database) creates it, then a later start on the same
  // one takes the load: the memory of both starts, and steady memory under load.
  log(`Starting Latchkey (${database}) on ${base}, first start…`);
  const first = await startLatchkey({ base, env, nodeArgs: [], cwd: tmp, logFile });
  await stopChild(first.server, 20_000);
  log(`  ${formatStart('first start', first.start)}; stopped, starting again…`);
  const { server, start: laterStart } = await startLatchkey({
    base,
    env,
    nodeArgs,
    cwd: tmp,
    logFile,
  });
  const firstStart = first.start;
  log(`  ${formatStart('later start', laterStart)}`);

  // Seed: verified users (REQUIRE_EMAIL_VERIFICATION=false), their cookies, tokens.
  // One user per login connection: the per-account throttle (which stays on with RATE_LIMITS=off)
  // refuses more than a few concurrent attempts on one account.
  const poolSize = Math.min(Math.max(opts.connections, opts.stormConnections), 128);
  log(`Seeding ${poolSize} users, cookies, access and refresh tokens…`);
  // A few at a time, so that every hashing thread is busy.
  const parallel = async (count, fn) => {
    const out = new Array(count);
    let next = 0;
    const worker = async () => {
      while (next < count) {
        const i = next++;
        out[i] = await fn(i);
      }
    };
    await Promise.all(Array.from({ length: 4 }, worker));
    return out;
  };
  const users = await parallel(poolSize, async (i) => {
    const email = `bench-${i}-${randomBytes(4).toString('hex')}@example.com`;
    const { res } = await api(base, 'POST', '/auth/register', {
      email,
      password: PASSWORD,
      name: `Bench ${i}`,
    });
    const cookie = res.headers
      .getSetCookie()
      .map((c) => c.split(';')[0])
      .join('; ');
    return { email, cookie };
  });
  // Each connection holds one refresh token at a time, and a round's end loses the ones in
  // flight (their successors never reach the pool): enough for every round, and a few spare.
  const refreshRounds = Math.max(1, Math.round(opts.duration / Math.min(2, opts.duration)));
  const refreshCount = wanted.has('refresh') ? opts.connections * (refreshRounds + 1) + 8 : 0;
  const pairs = await parallel(Math.max(poolSize, refreshCount), async (i) => {
    const u = users[i % users.length];
    return (await api(base, 'POST', '/auth/token', { email: u.email, password: PASSWORD })).json;
  });
  const access = pairs.slice(0, poolSize).map((p) => `Bearer ${p.accessToken}`);
  const refresh = pairs.map((p) => p.refreshToken);
  await api(base, 'GET', '/auth/me', undefined, { cookie: users[0].cookie });
  await api(base, 'GET', '/auth/me', undefined, { authorization: access[0] });

  const rows = [];
  const c = opts.connections;
  const d = opts.duration;
  const cookieRotate = { header: 'cookie', values: users.map((u) => u.cookie) };
  const loginBodies = users.map((u) => JSON.stringify({ email: u.email, password: PASSWORD }));
  const json = { 'content-type': 'application/json' };

  /** Keeps a finished scenario's row and prints its progress line. */
  function record(row) {
    rows.push(row);
    const rounds = row.roundRatios ? ` (median of ${row.roundRatios.length} rounds)` : '';
    log(
      `  ${row.name.padEnd(10)} ${String(row.rps).padStart(7)} req/s  p50 ${row.p50} ms  p99 ${row.p99} ms` +
        `  non-2xx ${row.non2xx}  errors ${row.errors + row.timeouts}` +
        (row.ratio === null ? '' : `  ${Math.round(row.ratio * 100)}% of ${row.ratioOf}${rounds}`),
    );
  }

  log(`Running scenarios (${d} s each, ${c} connections; one at a time)…`);
  // The baseline and /auth/me take turns in short rounds, so that whatever else the machine
  // does during the run weighs on both sides of the ratio alike; the ratio is the median of the
  // rounds' ratios, so a burst of other load during one round does not decide it.
  const roundSeconds = Math.min(2, d);
  const rounds = Math.max(1, Math.round(d / roundSeconds));
  const me = { method: 'GET', path: '/auth/me', connections: c, duration: roundSeconds };
  const meSpecs = [
    {
      name: 'baseline',
      target: 'baseline',
      job: { ...me, url: baselineUrl, rotate: cookieRotate },
    },
    ...(wanted.has('me-cookie')
      ? [{ name: 'me-cookie', target: 'latchkey', job: { ...me, url: base, rotate: cookieRotate } }]
      : []),
    ...(wanted.has('me-bearer')
      ? [
          {
            name: 'me-bearer',
            target: 'latchkey',
            job: { ...me, url: base, rotate: { header: 'authorization', values: access } },
          },
        ]
      : []),
  ];
  const meResults = new Map(meSpecs.map((spec) => [spec.name, { results: [], peak: 0, cpu: 0 }]));
  for (let round = 1; round <= rounds; round++) {
    for (const spec of meSpecs) {
      const stop = progress(`${spec.name} (round ${round}/${rounds})`, roundSeconds);
      const pid = spec.target === 'baseline' ? baseline.pid : server.pid;
      const rss = rssSampler(pid);
      const cpu = cpuMeter(pid);
      const entry = meResults.get(spec.name);
      entry.results.push(await autocannon(tmp, spec.job));
      entry.cpu += cpu() ?? NaN;
      entry.peak = Math.max(entry.peak, rss() ?? 0);
      stop();
    }
  }
  const baselineRounds = meResults.get('baseline').results;
  for (const spec of meSpecs) {
    const { results, peak, cpu } = meResults.get(spec.name);
    const row = {
      name: spec.name,
      target: spec.target,
      connections: c,
      ...summarize(results),
      peakRssMB: peak || null,
    };
    row.cpuMsPerRequest = cpuPerRequest(cpu, row.total);
    if (spec.name !== 'baseline') {
      row.roundRatios = roundRatios(results, baselineRounds);
      row.ratio = median(row.roundRatios);
      row.ratioOf = 'baseline';
    } else {
      row.ratio = null;
      row.ratioOf = null;
    }
    record(row);
  }
  // The argon2 rate, measured next to the scenarios that depend on it (before login, between
  // the login rounds and after the storm; register and the storm take the highest), so that
  // other load on the machine weighs on both sides.
  const argonSeconds = opts.quick ? 1 : 3;
  const argon2Runs = [];
  const measureArgon2Now = async (seconds = argonSeconds) => {
    const stop = progress(
      `argon2 rate (m=${ARGON2.memoryCost} KiB, t=${ARGON2.timeCost}, p=${ARGON2.parallelism}, ${availableParallelism()} at once)`,
      seconds,
    );
    const run = await measureArgon2(seconds);
    stop();
    argon2Runs.push(run.hashesPerSecond);
    log(`  argon2     ${run.hashesPerSecond.toFixed(1).padStart(7)} verifications/s`);
    return run;
  };
  const needsArgon2 = ['login', 'register', 'storm', 'signup-storm'].some((n) => wanted.has(n));
  const argon2 = needsArgon2 ? await measureArgon2Now() : null;
  const vsArgon2 = { name: 'argon2', value: argon2?.hashesPerSecond ?? NaN };
  const login = {
    url: base,
    connections: c,
    method: 'POST',
    path: '/auth/login',
    headers: json,
    bodies: loginBodies,
    duration: d,
  };
  /**
   * Requests that each cost one password hash, and the argon2 rate, take turns in short rounds,
   * as /auth/me and its baseline do: the ratio is the median of each round's requests/s over the
   * rate measured right before it. When autocannon hangs up at a round's end, the server drops
   * the hashes still queued for it, so no work spills into the next measurement.
   */
  async function hashRounds(name, job) {
    const roundSeconds = Math.min(3, d);
    const rounds = Math.max(1, Math.round(d / roundSeconds));
    const results = [];
    const rates = [];
    let peak = 0;
    let cpuSeconds = 0;
    for (let round = 1; round <= rounds; round++) {
      rates.push((await measureArgon2Now(opts.quick ? 1 : 1.5)).hashesPerSecond);
      const stop = progress(`${name} (round ${round}/${rounds})`, roundSeconds);
      const rss = rssSampler(server.pid);
      const cpu = cpuMeter(server.pid);
      results.push(await autocannon(tmp, { ...job, duration: roundSeconds }));
      cpuSeconds += cpu() ?? NaN;
      peak = Math.max(peak, rss() ?? 0);
      stop();
    }
    const row = {
      name,
      target: 'latchkey',
      connections: job.connections,
      ...summarize(results),
      peakRssMB: peak || null,
      roundRatios: results.map((r, i) => r.requests.total / r.duration / rates[i]),
      ratioOf: 'argon2',
    };
    row.cpuMsPerRequest = cpuPerRequest(cpuSeconds, row.total);
    row.ratio = median(row.roundRatios);
    record(row);
  }
  const register = {
    url: base,
    connections: c,
    method: 'POST',
    path: '/auth/register',
    headers: json,
    register: { password: PASSWORD },
    duration: d,
  };
  if (wanted.has('login')) await hashRounds('login', login);
  if (wanted.has('refresh')) {
    // Refreshes and the commit baseline (one small UPDATE per transaction, same database, same
    // driver and pool, same connections) take turns in rounds, like /auth/me and its baseline.
    const commitPort = await freePort();
    const commitTarget = env.DATABASE_URL ?? join(tmp, 'commit-baseline-data');
    log(`Starting the commit baseline (${database.split(' ')[0]})…`);
    const commitServer = fork(
      join(benchDir, 'commit-baseline.mjs'),
      [String(commitPort), commitTarget],
      { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] },
    );
    cleanups.push(() => stopChild(commitServer));
    await new Promise((resolve, reject) => {
      commitServer.once('message', resolve);
      commitServer.once('exit', (code) => reject(new Error(`commit baseline exited ${code}`)));
    });
    const roundSeconds = Math.min(2, d);
    const rounds = Math.max(1, Math.round(d / roundSeconds));
    const commitJob = {
      url: `http://127.0.0.1:${commitPort}`,
      method: 'POST',
      path: '/commit',
      connections: c,
      duration: roundSeconds,
    };
    const commits = [];
    const refreshes = [];
    const peaks = { commit: 0, refresh: 0 };
    const cpuSeconds = { commit: 0, refresh: 0 };
    let pool = refresh;
    for (let round = 1; round <= rounds; round++) {
      let stop = progress(`commit baseline (round ${round}/${rounds})`, roundSeconds);
      let rss = rssSampler(commitServer.pid);
      let cpu = cpuMeter(commitServer.pid);
      commits.push(await autocannon(tmp, commitJob));
      cpuSeconds.commit += cpu() ?? NaN;
      peaks.commit = Math.max(peaks.commit, rss() ?? 0);
      stop();
      stop = progress(`refresh (round ${round}/${rounds})`, roundSeconds);
      rss = rssSampler(server.pid);
      cpu = cpuMeter(server.pid);
      const result = await autocannon(tmp, {
        url: base,
        method: 'POST',
        path: '/auth/refresh',
        headers: json,
        refreshPool: pool,
        connections: c,
        duration: roundSeconds,
      });
      cpuSeconds.refresh += cpu() ?? NaN;
      pool = result.refreshPool;
      refreshes.push(result);
      peaks.refresh = Math.max(peaks.refresh, rss() ?? 0);
      stop();
    }
    await stopChild(commitServer);
    const commitRow = { name: 'commit', target: 'baseline', connections: c, ...summarize(commits) };
    record({
      ...commitRow,
      peakRssMB: peaks.commit || null,
      cpuMsPerRequest: cpuPerRequest(cpuSeconds.commit, commitRow.total),
      ratio: null,
      ratioOf: null,
    });
    const refreshRow = {
      name: 'refresh',
      target: 'latchkey',
      connections: c,
      ...summarize(refreshes),
    };
    const ratios = roundRatios(refreshes, commits);
    record({
      ...refreshRow,
      peakRssMB: peaks.refresh || null,
      cpuMsPerRequest: cpuPerRequest(cpuSeconds.refresh, refreshRow.total),
      roundRatios: ratios,
      ratio: median(ratios),
      ratioOf: 'commit',
    });
  }
  if (wanted.has('register')) await hashRounds('register', register);
  /**
   * Requests that hash at full concurrency (64 connections) while a light, fixed-rate probe
   * (200 req/s) measures GET /auth/me latency: what a storm does to everyone else.
   */
  async function storm(name, job) {
    const stop = progress(name, d);
    const rss = rssSampler(server.pid);
    const [flood, probe] = await Promise.all([
      autocannon(tmp, { ...job, connections: opts.stormConnections }),
      (async () => {
        await sleep(500); // let the hash queue fill first
        return autocannon(tmp, {
          ...me,
          url: base,
          rotate: cookieRotate,
          connections: 4,
          overallRate: 200,
          duration: Math.max(1, d - 1),
        });
      })(),
    ]);
    const peakRssMB = rss();
    stop();
    for (const [rowName, result, conns, ratioTo] of [
      [`${name}/${job.path.split('/').at(-1)}`, flood, opts.stormConnections, vsArgon2],
      [`${name}/me`, probe, 4, null],
    ]) {
      const row = {
        name: rowName,
        target: 'latchkey',
        connections: conns,
        ...summarize(result),
        peakRssMB,
      };
      row.ratio = ratioTo ? row.rps / ratioTo.value : null;
      row.ratioOf = ratioTo?.name ?? null;
      rows.push(row);
      log(
        `  ${rowName.padEnd(15)} ${row.rps} req/s  p50 ${row.p50} ms  p99 ${row.p99} ms  non-2xx ${row.non2xx} (503: ${row.status503})`,
      );
    }
  }
  if (wanted.has('storm')) await storm('storm', login);
  if (wanted.has('signup-storm')) await storm('signup-storm', register);

  if (argon2) {
    await measureArgon2Now();
    argon2.hashesPerSecond = Math.max(...argon2Runs);
    argon2.measurements = argon2Runs;
    for (const row of rows)
      if (row.ratioOf === 'argon2' && !row.roundRatios)
        row.ratio = row.rps / argon2.hashesPerSecond;
  }

  const output = {
    startedAt,
    seconds: Math.round((performance.now() - benchStart) / 1000),
    machine: {
      cpus: availableParallelism(),
      cpuModel: cpus()[0]?.model ?? 'unknown',
      memoryGB: Math.round(totalmem() / 1e9),
      node: process.version,
      platform: `${process.platform} ${process.arch}`,
    },
    database,
    options: {
      duration: d,
      connections: c,
      stormConnections: opts.stormConnections,
      quick: opts.quick,
    },
    argon2,
    firstStart,
    laterStart,
    scenarios: rows,
    bars: checkBars(rows, { embedded: !env.DATABASE_URL, firstStart }),
  };
  const out = opts.out ?? join(benchDir, 'results', `${startedAt.replace(/[:.]/g, '-')}.json`);
  writeFileSync(out, JSON.stringify(output, null, 2) + '\n');

  const serverLog = readFileSync(logFile, 'utf8').trim();
  const errorLines = serverLog.split('\n').filter((l) => /"level":(50|60)/.test(l));
  console.log(
    `\nLatchkey bench — ${database}; ${output.machine.cpus} cores (${output.machine.cpuModel}), Node ${process.version}`,
  );
  if (argon2)
    console.log(
      `argon2 rate: ${argon2.hashesPerSecond.toFixed(1)}/s (m=${ARGON2.memoryCost}, t=${ARGON2.timeCost}, p=${ARGON2.parallelism}, ${argon2.workers} at once)\n`,
    );
  console.log(
    `${formatStart('first start', firstStart)}\n${formatStart('later start', laterStart)}\n`,
  );
  console.log(formatTable(rows));
  console.log(`\nBars:\n${formatBars(output.bars)}`);
  if (errorLines.length)
    console.log(`\nThe server logged ${errorLines.length} error(s); first: ${errorLines[0]}`);
  if (opts.compare) {
    console.log('\n' + formatComparison(JSON.parse(readFileSync(opts.compare, 'utf8')), output));
  }
  console.log(`\nSaved ${out} (${output.seconds} s)`);
}

try {
  await main();
  await cleanup();
} catch (error) {
  console.error(`bench: ${error.message}`);
  await cleanup();
  process.exit(1);
}
