import { type Argon2Params, OWASP_MINIMUM } from './passwords.js';

/**
 * `latchkey hash calibrate`: which argon2id parameters this machine can afford for a target
 * time per hash. Never below OWASP's recommended minimum (m=19456 KiB, t=2, p=1, the default);
 * memory grows first (it is what makes guessing expensive on GPUs), then iterations.
 */
export interface CalibrationOptions {
  /** The time one hash may take on one core, in milliseconds. */
  targetMs: number;
  /** The most memory one hash may use, in KiB (times HASH_CONCURRENCY hashes at once). */
  maxMemoryKiB: number;
  /** Milliseconds one hash with `params` takes here (the median of a few runs). */
  measure: (params: Argon2Params) => Promise<number>;
  /** Told about each candidate once it is measured (progress). */
  onMeasured?: (result: CandidateResult) => void;
}

export interface CandidateResult {
  params: Argon2Params;
  ms: number;
  withinTarget: boolean;
}

export interface Calibration {
  /** The strongest candidate within the target, or the minimum if even that is slower. */
  proposal: Argon2Params;
  proposalMs: number;
  /** False when even OWASP's minimum takes longer than the target. */
  metTarget: boolean;
  tried: CandidateResult[];
}

/** The candidates in order of strength: memory doubling from the minimum, then iterations. */
export function candidates(maxMemoryKiB: number): Argon2Params[] {
  const list: Argon2Params[] = [OWASP_MINIMUM];
  for (let m = 32768; m <= maxMemoryKiB; m *= 2) list.push({ ...OWASP_MINIMUM, memoryCost: m });
  const top = list.at(-1) as Argon2Params;
  for (let t = 3; t <= 6; t++) list.push({ ...top, timeCost: t });
  return list;
}

/** Measures candidates from the weakest up and stops at the first one over the target. */
export async function calibrate(o: CalibrationOptions): Promise<Calibration> {
  const tried: CandidateResult[] = [];
  for (const params of candidates(o.maxMemoryKiB)) {
    const ms = await o.measure(params);
    const result = { params, ms, withinTarget: ms <= o.targetMs };
    tried.push(result);
    o.onMeasured?.(result);
    if (!result.withinTarget) break;
  }
  const best = tried.filter((r) => r.withinTarget).at(-1);
  const chosen = best ?? (tried[0] as CandidateResult);
  return { proposal: chosen.params, proposalMs: chosen.ms, metTarget: best !== undefined, tried };
}
