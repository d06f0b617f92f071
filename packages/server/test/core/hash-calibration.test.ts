import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { calibrate, candidates } from '../../src/core/hash-calibration.js';
import { type Argon2Params, OWASP_MINIMUM } from '../../src/core/passwords.js';
import { runHashCalibrate } from '../../src/cli/hash-calibrate.js';

/** A machine where a hash costs 1 ms per MiB-iteration. */
const fakeMachine = async (p: Argon2Params) => (p.memoryCost / 1024) * p.timeCost;

describe('hash calibration', () => {
  it('tries memory first, then iterations, never below the OWASP minimum', () => {
    expect(candidates(65536).map((p) => [p.memoryCost, p.timeCost])).toEqual([
      [19456, 2],
      [32768, 2],
      [65536, 2],
      [65536, 3],
      [65536, 4],
      [65536, 5],
      [65536, 6],
    ]);
    expect(candidates(19456)[0]).toEqual(OWASP_MINIMUM);
    expect(candidates(19456).every((p) => p.memoryCost === 19456)).toBe(true);
  });

  it('proposes the strongest candidate within the target and stops measuring past it', async () => {
    const measured: Argon2Params[] = [];
    const result = await calibrate({
      targetMs: 150,
      maxMemoryKiB: 65536,
      measure: async (p) => {
        measured.push(p);
        return fakeMachine(p);
      },
    });
    // 38, 64, 128 ms fit; 192 ms (m=64 MiB, t=3) does not, and nothing stronger is tried.
    expect(result.proposal).toEqual({ memoryCost: 65536, timeCost: 2, parallelism: 1 });
    expect(result.proposalMs).toBe(128);
    expect(result.metTarget).toBe(true);
    expect(measured).toHaveLength(4);
  });

  it('keeps the minimum, and says so, when even that is over the target', async () => {
    const result = await calibrate({ targetMs: 10, maxMemoryKiB: 65536, measure: fakeMachine });
    expect(result.proposal).toEqual(OWASP_MINIMUM);
    expect(result.metTarget).toBe(false);
    expect(result.tried).toHaveLength(1);
  });

  it('measures real hashes on this machine and prints the settings to use', async () => {
    const lines: string[] = [];
    await runHashCalibrate(
      loadConfig({ NODE_ENV: 'test', HASH_CONCURRENCY: '2' }),
      { targetMs: 60_000, maxMemoryKiB: 19456, runs: 1 },
      (line) => lines.push(line),
    );
    const output = lines.join('\n');
    expect(output).toMatch(/m=19456 KiB t=2 p=1 +\d+\.\d ms {2}within the target/);
    expect(output).toMatch(/m=19456 KiB t=6 p=1 +\d+\.\d ms {2}within the target/);
    expect(output).toContain(
      'Proposal: ARGON2_MEMORY_KIB=19456 ARGON2_ITERATIONS=6 ARGON2_PARALLELISM=1',
    );
    expect(output).toMatch(/HASH_CONCURRENCY=2: hashing alone allows about \d+ sign-ins\/s/);
  });
});
