import type { Config } from '../config/config.js';
import { calibrate } from '../core/hash-calibration.js';
import { type Argon2Params, PasswordHasher } from '../core/passwords.js';

export interface HashCalibrateOptions {
  targetMs: number;
  maxMemoryKiB: number;
  runs: number;
}

const describe = (p: Argon2Params) => `m=${p.memoryCost} KiB t=${p.timeCost} p=${p.parallelism}`;

/** Milliseconds per hash with `params`: the median of `runs`, one at a time, as the server hashes. */
async function measure(params: Argon2Params, runs: number): Promise<number> {
  const hasher = new PasswordHasher(params, { concurrency: 1, queueMax: 0 });
  const times: number[] = [];
  hasher.observe = (seconds) => times.push(seconds * 1000);
  try {
    await hasher.hash('calibration warm-up');
    times.length = 0;
    for (let i = 0; i < runs; i++) await hasher.hash(`calibration ${i}`);
  } finally {
    await hasher.close();
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)] as number;
}

/** `latchkey hash calibrate`: measures, prints each candidate, then the proposal. */
export async function runHashCalibrate(
  config: Config,
  o: HashCalibrateOptions,
  print: (line: string) => void,
): Promise<void> {
  print(
    `Measuring argon2id here, one hash at a time (median of ${o.runs}); target ${o.targetMs} ms per hash, at most ${o.maxMemoryKiB} KiB each.`,
  );
  const result = await calibrate({
    targetMs: o.targetMs,
    maxMemoryKiB: o.maxMemoryKiB,
    measure: (params) => measure(params, o.runs),
    onMeasured: (r) =>
      print(
        `  ${describe(r.params).padEnd(26)} ${r.ms.toFixed(1).padStart(7)} ms  ${r.withinTarget ? 'within the target' : 'over the target'}`,
      ),
  });
  const p = result.proposal;
  if (!result.metTarget) {
    print(
      `Even OWASP's minimum takes ${result.proposalMs.toFixed(1)} ms here, over ${o.targetMs} ms. Keep the minimum (never go below it) and raise --target-ms, or give the service faster cores.`,
    );
  }
  print(
    `Proposal: ARGON2_MEMORY_KIB=${p.memoryCost} ARGON2_ITERATIONS=${p.timeCost} ARGON2_PARALLELISM=${p.parallelism} (${result.proposalMs.toFixed(1)} ms per hash)`,
  );
  const threads = config.hashing.concurrency;
  const perSecond = Math.floor((threads * 1000) / result.proposalMs);
  const memoryMiB = Math.ceil((threads * p.memoryCost) / 1024);
  print(
    `With HASH_CONCURRENCY=${threads}: hashing alone allows about ${perSecond} sign-ins/s here (the rest of a sign-in needs the cores too: expect about 80% of it, docs/performance.md), and up to ${memoryMiB} MiB for the hashes running at once.`,
  );
  print(
    `Now: ${describe(config.argon2)}. Stored hashes made with other parameters are upgraded at each user's next sign-in.`,
  );
}
