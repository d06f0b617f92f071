import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  checkBars,
  formatComparison,
  formatStart,
  formatTable,
  median,
  parseArgs,
  roundRatios,
  summarize,
} from './report.mjs';

/** Smoke tests of the bench's pure parts (the load itself runs with `npm run bench`). */
const run = (status503, other5xx = 0) => ({
  requests: { average: 100, total: 1000 },
  latency: { p50: 2, p99: 9 },
  '2xx': 1000 - status503 - other5xx,
  non2xx: status503 + other5xx,
  errors: 0,
  timeouts: 0,
  duration: 10,
  statusCodeStats: {
    200: { count: 1000 - status503 - other5xx },
    ...(status503 ? { 503: { count: status503 } } : {}),
    ...(other5xx ? { 500: { count: other5xx } } : {}),
  },
});

const row = (name, ratio, extra = {}) => ({
  name,
  target: name === 'baseline' ? 'baseline' : 'latchkey',
  connections: 32,
  ...summarize(run(0)),
  peakRssMB: 100,
  ratio,
  ratioOf: 'baseline',
  ...extra,
});

describe('the bench', () => {
  it('parses its options: --quick shortens what was not given explicitly', () => {
    expect(parseArgs([])).toMatchObject({ duration: 10, connections: 32, build: true });
    expect(parseArgs(['--quick'])).toMatchObject({ duration: 3, connections: 16 });
    expect(parseArgs(['--quick', '--duration=5'])).toMatchObject({ duration: 5, connections: 16 });
    expect(parseArgs(['--only', 'login,storm', '--no-build'])).toMatchObject({
      only: ['login', 'storm'],
      build: false,
    });
    expect(() => parseArgs(['--only', 'nope'])).toThrow(/unknown scenario/);
    expect(() => parseArgs(['--duration', '0'])).toThrow(/positive integer/);
    expect(() => parseArgs(['--frobnicate'])).toThrow(/unknown option/);
  });

  it('sums rounds: requests/s over all rounds, the worst p99, 503s apart from other 5xx', () => {
    const s = summarize([run(5), { ...run(0, 2), latency: { p50: 3, p99: 40 } }]);
    expect(s).toMatchObject({ rps: 100, total: 2000, p99: 40, status503: 5, other5xx: 2 });
    expect(s.rounds).toBe(2);
  });

  it('pairs each round with the baseline round beside it, and takes the median ratio', () => {
    const rounds = (...totals) => totals.map((total) => ({ requests: { total } }));
    // The third round ran while something else loaded the machine: it does not decide.
    const ratios = roundRatios(rounds(60, 66, 10, 63), rounds(100, 100, 100, 90));
    expect(ratios.map((r) => Math.round(r * 100))).toEqual([60, 66, 10, 70]);
    expect(median(ratios)).toBeCloseTo(0.63);
    expect(median([0.5, 0.7, 0.6])).toBe(0.6);
  });

  it('checks the performance bars', () => {
    const rows = [
      row('baseline', null),
      row('me-cookie', 0.61),
      row('login', 0.84, { ratioOf: 'argon2' }),
      row('storm/me', null, { p99: 25 }),
      row('register', 0.8, { ratioOf: 'argon2' }),
      row('refresh', 0.49, { ratioOf: 'commit' }),
      row('signup-storm/me', null, { p99: 24 }),
    ];
    const bars = Object.fromEntries(checkBars(rows).map((b) => [b.bar, b.met]));
    expect(bars).toEqual({
      '/auth/me by cookie >= 60% of baseline req/s': true,
      'login >= 85% of the argon2 rate': false,
      '/auth/me p99 < 25 ms during the login storm': false,
      '/auth/me p99 < 25 ms during the sign-up storm': true,
      'register >= 80% of the argon2 rate': true,
      'refresh >= 50% of the commit baseline': false,
      'no 5xx except deliberate 503s': true,
    });
    const broken = checkBars([row('me-cookie', 0.7, { other5xx: 1 })]);
    expect(broken.at(-1)).toMatchObject({ met: false, value: '1 other 5xx, 0 503s' });
  });

  it("checks the embedded memory bar: the first start's peak, and the peak under load", () => {
    const bar = 'embedded memory: first start <= 400 MB, under load <= 300 MB';
    const loaded = (peakRssMB) => [
      row('baseline', null, { peakRssMB: 900 }),
      row('login', 0.9, { ratioOf: 'argon2', peakRssMB }),
      row('me-cookie', 0.7, { peakRssMB: 250 }),
    ];
    const memoryBar = (rows, memory) => checkBars(rows, memory).find((b) => b.bar === bar);
    // The baseline's memory is not Latchkey's.
    expect(memoryBar(loaded(290), { embedded: true, firstStart: { peakRssMB: 400 } })).toEqual({
      bar,
      value: 'first start 400 MB, under load 290 MB',
      met: true,
    });
    expect(
      memoryBar(loaded(301), { embedded: true, firstStart: { peakRssMB: 380 } }),
    ).toMatchObject({ met: false });
    expect(
      memoryBar(loaded(200), { embedded: true, firstStart: { peakRssMB: 401 } }),
    ).toMatchObject({ met: false });
    // PostgreSQL's memory is another process's: no bar, and none without a measurement.
    expect(
      memoryBar(loaded(200), { embedded: false, firstStart: { peakRssMB: 150 } }),
    ).toBeUndefined();
    expect(
      memoryBar(loaded(200), { embedded: true, firstStart: { peakRssMB: null } }),
    ).toBeUndefined();
    expect(memoryBar(loaded(200))).toBeUndefined();
    expect(formatStart('first start', { seconds: 4.2, readyRssMB: 250, peakRssMB: 310 })).toBe(
      'first start: ready in 4.2 s, RSS 250 MB at ready, peak 310 MB',
    );
  });

  it('prints the table and a comparison with an earlier run', () => {
    const table = formatTable([row('baseline', null), row('me-cookie', 0.66)]);
    expect(table.split('\n')).toHaveLength(4);
    expect(table).toMatch(/\| me-cookie +\| +32 \| +100 \|.*66% of baseline \|/);
    const before = { startedAt: 'then', database: 'x', scenarios: [row('me-cookie', 0.44)] };
    const after = { scenarios: [{ ...row('me-cookie', 0.66), rps: 150 }] };
    expect(formatComparison(before, after)).toContain(
      'req/s 100 -> 150 (+50%), p99 9 -> 9 ms, ratio 44% -> 66%',
    );
  });

  it('answers --help without starting anything', () => {
    const out = execFileSync(
      process.execPath,
      [fileURLToPath(new URL('bench.mjs', import.meta.url)), '--help'],
      {
        encoding: 'utf8',
      },
    );
    expect(out).toContain('--quick');
    expect(out).toContain('BENCH_DATABASE_URL');
  });
});
