import { isIPv4 } from 'node:net';
import { z } from 'zod';

/**
 * The value grammars every configuration variable shares: one for booleans, one for durations.
 * A variable never invents its own spelling of "yes" or "15 minutes".
 */

const TRUE_WORDS = ['true', '1', 'yes', 'on'];
const FALSE_WORDS = ['false', '0', 'no', 'off'];

export const BOOLEAN_GRAMMAR = 'true or false (also 1/0, yes/no, on/off, in any case)';

/** true, false, or undefined when the value is not one of the boolean words. */
export function parseBoolean(value: string): boolean | undefined {
  const word = value.trim().toLowerCase();
  if (TRUE_WORDS.includes(word)) return true;
  if (FALSE_WORDS.includes(word)) return false;
  return undefined;
}

/** A value that means "off" wherever a variable can be switched off (rates, TRUST_PROXY). */
export function isOffWord(value: string): boolean {
  return parseBoolean(value) === false;
}

export function boolean() {
  return z.string().transform((value, ctx): boolean => {
    const parsed = parseBoolean(value);
    if (parsed === undefined) {
      ctx.addIssue({ code: 'custom', message: BOOLEAN_GRAMMAR });
      return z.NEVER;
    }
    return parsed;
  });
}

const UNITS = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 } as const;
// Units are lower case only: an upper-case M could as well mean months.
const DURATION = /^(\d+)\s*(ms|s|m|h|d)?$/;

export const DURATION_FORMS =
  'whole seconds (900) or a whole number with ms, s, m, h or d (500ms, 30s, 15m, 24h, 7d)';
export const DURATION_GRAMMAR = `a duration: ${DURATION_FORMS}`;

/** "900" (seconds), "500ms", "30s", "15m", "24h", "7d" → seconds; NaN when malformed. */
export function parseDuration(value: string): number {
  const match = DURATION.exec(value.trim());
  if (!match) return Number.NaN;
  return Number(match[1]) * UNITS[(match[2] ?? 's') as keyof typeof UNITS];
}

/** Seconds written the way a user would set them: 90 → "90s", 3600 → "1h", 0.5 → "500ms". */
export function formatDuration(seconds: number): string {
  for (const unit of ['d', 'h', 'm', 's'] as const) {
    if (seconds >= UNITS[unit] && seconds % UNITS[unit] === 0)
      return `${seconds / UNITS[unit]}${unit}`;
  }
  return `${Math.round(seconds * 1000)}ms`;
}

/**
 * A duration variable, in seconds. `min` is inclusive; without it the duration must be above
 * zero. `max` is inclusive, with `maxReason` saying why there is one.
 */
export function duration(options: { min?: number; max?: number; maxReason?: string } = {}) {
  const { min, max, maxReason } = options;
  return z.string().transform((value, ctx): number => {
    const seconds = parseDuration(value);
    if (Number.isNaN(seconds)) {
      ctx.addIssue({ code: 'custom', message: DURATION_GRAMMAR });
      return z.NEVER;
    }
    if (min === undefined ? seconds <= 0 : seconds < min) {
      ctx.addIssue({
        code: 'custom',
        message:
          min === undefined
            ? 'a duration greater than zero'
            : `a duration of at least ${formatDuration(min)}`,
      });
      return z.NEVER;
    }
    if (max !== undefined && seconds > max) {
      const reason = maxReason ? `: ${maxReason}` : '';
      ctx.addIssue({
        code: 'custom',
        message: `a duration of at most ${formatDuration(max)}${reason}`,
      });
      return z.NEVER;
    }
    return seconds;
  });
}

/**
 * A host name or address that only this machine can reach: `localhost` (and `*.localhost`),
 * 127.0.0.0/8, `::1` (bracketed as in a URL or not) and IPv4-mapped loopback.
 */
export function isLoopbackHost(host: string): boolean {
  const name = host.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  if (name === 'localhost' || name.endsWith('.localhost')) return true;
  if (name === '::1' || name === '0:0:0:0:0:0:0:1') return true;
  const v4 = name.replace(/^::ffff:/, '');
  return isIPv4(v4) && v4.startsWith('127.');
}
