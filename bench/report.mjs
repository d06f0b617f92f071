// Pure helpers of the bench (arguments, scenario summaries, the table, the comparison), apart
// from the process plumbing in bench.mjs so they can be smoke-tested.

export const USAGE = `npm run bench -- [options]

  --quick              short runs (3 s, 16 connections) finishing in under a minute
  --duration <s>       seconds per scenario (default 10)
  --connections <n>    connections per scenario (default 32)
  --storm-connections <n>  login connections during the storm (default 64)
  --only <a,b>         run only these scenarios (the baseline always runs):
                       me-cookie, me-bearer, login, refresh, register, storm, signup-storm
  --compare <file>     print the change against an earlier results JSON
  --cpu-prof           write V8 CPU profiles of the server to bench/results/profiles/
  --no-build           skip \`npm run build\`
  --out <file>         where to write the JSON (default bench/results/<time>.json)
  --help

Environment: BENCH_DATABASE_URL (PostgreSQL; a fresh database is created and dropped),
BENCH_REDIS_URL (Redis; keys under a fresh prefix, deleted afterwards).`;

export const SCENARIOS = [
  'me-cookie',
  'me-bearer',
  'login',
  'refresh',
  'register',
  'storm',
  'signup-storm',
];

export function parseArgs(argv) {
  const opts = {
    quick: false,
    duration: 10,
    connections: 32,
    stormConnections: 64,
    only: null,
    compare: null,
    cpuProf: false,
    build: true,
    out: null,
    help: false,
  };
  const explicit = new Set();
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split(/=(.*)/s, 2);
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    const positive = (name) => {
      const n = Number(value());
      if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} must be a positive integer`);
      explicit.add(name);
      return n;
    };
    switch (flag) {
      case '--quick':
        opts.quick = true;
        break;
      case '--duration':
        opts.duration = positive('duration');
        break;
      case '--connections':
        opts.connections = positive('connections');
        break;
      case '--storm-connections':
        opts.stormConnections = positive('stormConnections');
        break;
      case '--only': {
        const names = value().split(',').filter(Boolean);
        const unknown = names.filter((n) => !SCENARIOS.includes(n));
        if (unknown.length) throw new Error(`unknown scenario(s): ${unknown.join(', ')}`);
        opts.only = names;
        break;
      }
      case '--compare':
        opts.compare = value();
        break;
      case '--cpu-prof':
        opts.cpuProf = true;
        break;
      case '--no-build':
        opts.build = false;
        break;
      case '--out':
        opts.out = value();
        break;
      case '--help':
      case '-h':
        opts.help = true;
        break;
      default:
        throw new Error(`unknown option ${flag}`);
    }
  }
  if (opts.quick) {
    if (!explicit.has('duration')) opts.duration = 3;
    if (!explicit.has('connections')) opts.connections = 16;
    if (!explicit.has('stormConnections')) opts.stormConnections = 16;
  }
  return opts;
}

/**
 * The numbers the bench keeps from autocannon results: one, or several rounds of the same
 * scenario (requests/s over all rounds, the median p50, the worst p99, counts summed).
 */
export function summarize(results) {
  const list = [results].flat();
  if (list.length === 1) return summarizeOne(list[0]);
  const parts = list.map(summarizeOne);
  const sum = (key) => parts.reduce((total, p) => total + p[key], 0);
  const seconds = list.reduce((total, r) => total + r.duration, 0);
  const codes = {};
  for (const p of parts)
    for (const [code, n] of Object.entries(p.codes)) codes[code] = (codes[code] ?? 0) + n;
  const p50s = parts.map((p) => p.p50).sort((a, b) => a - b);
  return {
    rps: Math.round(sum('total') / seconds),
    total: sum('total'),
    p50: p50s[Math.floor(p50s.length / 2)],
    p99: Math.max(...parts.map((p) => p.p99)),
    ok: sum('ok'),
    non2xx: sum('non2xx'),
    status503: sum('status503'),
    other5xx: sum('other5xx'),
    errors: sum('errors'),
    timeouts: sum('timeouts'),
    codes,
    rounds: list.length,
  };
}

function summarizeOne(result) {
  const codes = {};
  for (const [code, { count }] of Object.entries(result.statusCodeStats ?? {})) codes[code] = count;
  const fiveXx = Object.entries(codes)
    .filter(([code]) => code.startsWith('5'))
    .reduce((sum, [, n]) => sum + n, 0);
  return {
    rps: Math.round(result.requests.average),
    total: result.requests.total,
    p50: result.latency.p50,
    p99: result.latency.p99,
    ok: result['2xx'],
    non2xx: result.non2xx,
    status503: codes['503'] ?? 0,
    other5xx: fiveXx - (codes['503'] ?? 0),
    errors: result.errors,
    timeouts: result.timeouts,
    codes,
  };
}

/** Each round's requests/s over the baseline's in the same round. */
export function roundRatios(results, baselineResults) {
  return results.map((r, i) => r.requests.total / baselineResults[i].requests.total);
}

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

const pct = (x) => (x === null || x === undefined ? '' : `${Math.round(x * 100)}%`);
const num = (n) => (n === null || n === undefined ? '' : n.toLocaleString('en-US'));

export function formatTable(rows) {
  const head = [
    'scenario',
    'conns',
    'req/s',
    'p50 ms',
    'p99 ms',
    '2xx',
    'non-2xx (503)',
    'errors',
    'peak RSS MB',
    'CPU ms/req',
    'ratio',
  ];
  const body = rows.map((r) => [
    r.name,
    String(r.connections),
    num(r.rps),
    String(r.p50),
    String(r.p99),
    num(r.ok),
    `${num(r.non2xx)} (${num(r.status503)})`,
    num(r.errors + r.timeouts),
    r.peakRssMB === null ? '' : String(r.peakRssMB),
    typeof r.cpuMsPerRequest === 'number' ? r.cpuMsPerRequest.toFixed(2) : '',
    r.ratio === null ? '' : `${pct(r.ratio)} of ${r.ratioOf}`,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((row) => row[i].length)));
  const line = (cells) =>
    '| ' +
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ') +
    ' |';
  return [
    line(head),
    '|' +
      widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : '-'.repeat(w + 1) + ':')).join('|') +
      '|',
    ...body.map(line),
  ].join('\n');
}

/** One start's line: how long it took to be ready, and its memory. */
export function formatStart(label, start) {
  const mb = (n) => (n === null || n === undefined ? '?' : `${n} MB`);
  return `${label}: ready in ${start.seconds} s, RSS ${mb(start.readyRssMB)} at ready, peak ${mb(start.peakRssMB)}`;
}

/** The embedded database's memory bars: a first start (empty DATA_DIR), and under load. */
const EMBEDDED_FIRST_START_MB = 400;
const EMBEDDED_UNDER_LOAD_MB = 300;

/**
 * The performance bars (docs/performance.md), checked against one run. `memory` (the embedded
 * database only: PostgreSQL's memory is another process's) adds the memory bar.
 */
export function checkBars(rows, memory = { embedded: false }) {
  const by = Object.fromEntries(rows.map((r) => [r.name, r]));
  const bars = [];
  if (by['me-cookie']) {
    bars.push({
      bar: '/auth/me by cookie >= 60% of baseline req/s',
      value: pct(by['me-cookie'].ratio),
      met: by['me-cookie'].ratio >= 0.6,
    });
  }
  if (by['storm/me']) {
    bars.push({
      bar: '/auth/me p99 < 25 ms during the login storm',
      value: `${by['storm/me'].p99} ms`,
      met: by['storm/me'].p99 < 25,
    });
  }
  if (by['signup-storm/me']) {
    bars.push({
      bar: '/auth/me p99 < 25 ms during the sign-up storm',
      value: `${by['signup-storm/me'].p99} ms`,
      met: by['signup-storm/me'].p99 < 25,
    });
  }
  if (by.login) {
    bars.push({
      bar: 'login >= 85% of the argon2 rate',
      value: pct(by.login.ratio),
      met: by.login.ratio >= 0.85,
    });
  }
  if (by.register) {
    bars.push({
      bar: 'register >= 80% of the argon2 rate',
      value: pct(by.register.ratio),
      met: by.register.ratio >= 0.8,
    });
  }
  if (by.refresh) {
    bars.push({
      bar: 'refresh >= 50% of the commit baseline',
      value: pct(by.refresh.ratio),
      met: by.refresh.ratio >= 0.5,
    });
  }
  const latchkeyRows = rows.filter((r) => r.target === 'latchkey');
  const underLoad = Math.max(0, ...latchkeyRows.map((r) => r.peakRssMB ?? 0)) || null;
  const firstPeak = memory.firstStart?.peakRssMB ?? null;
  if (memory.embedded && firstPeak !== null && underLoad !== null) {
    bars.push({
      bar: `embedded memory: first start <= ${EMBEDDED_FIRST_START_MB} MB, under load <= ${EMBEDDED_UNDER_LOAD_MB} MB`,
      value: `first start ${firstPeak} MB, under load ${underLoad} MB`,
      met: firstPeak <= EMBEDDED_FIRST_START_MB && underLoad <= EMBEDDED_UNDER_LOAD_MB,
    });
  }
  const bad5xx = latchkeyRows.reduce((s, r) => s + r.other5xx, 0);
  bars.push({
    bar: 'no 5xx except deliberate 503s',
    value: `${bad5xx} other 5xx, ${latchkeyRows.reduce((s, r) => s + r.status503, 0)} 503s`,
    met: bad5xx === 0,
  });
  return bars;
}

export function formatBars(bars) {
  return bars.map((b) => `  ${b.met ? 'MET   ' : 'NOT MET'} ${b.bar}: ${b.value}`).join('\n');
}

export function formatComparison(oldRun, newRun) {
  const old = Object.fromEntries(oldRun.scenarios.map((r) => [r.name, r]));
  const delta = (a, b) => (a ? `${b >= a ? '+' : ''}${Math.round(((b - a) / a) * 100)}%` : 'n/a');
  const lines = [`Compared with ${oldRun.startedAt} (${oldRun.database}):`];
  for (const r of newRun.scenarios) {
    const o = old[r.name];
    if (!o) continue;
    lines.push(
      `  ${r.name.padEnd(12)} req/s ${num(o.rps)} -> ${num(r.rps)} (${delta(o.rps, r.rps)}),` +
        ` p99 ${o.p99} -> ${r.p99} ms` +
        (o.ratio !== null && r.ratio !== null ? `, ratio ${pct(o.ratio)} -> ${pct(r.ratio)}` : ''),
    );
  }
  return lines.join('\n');
}
