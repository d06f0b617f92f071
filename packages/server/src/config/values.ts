import { isIPv4 } from 'node:net';
import { z } from 'zod';

const UNITS = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 } as const;
const DURATION = /^(\d+)\s*(ms|s|m|h|d)?$/;

/** "900" (seconds), "500ms", "30s", "15m", "24h", "7d" → seconds; NaN when malformed. */
export function parseDuration(value: string): number {
  const match = DURATION.exec(value.trim());
  if (!match) return Number.NaN;
  return Number(match[1]) * UNITS[(match[2] ?? 's') as keyof typeof UNITS];
}

/**
 * The one duration syntax of every configuration variable, in seconds. `min` is inclusive;
 * without it the duration must be above zero.
 */
export function duration(options: { min?: number; hint?: string } = {}) {
  const { min, hint = '900, 15m, 24h or 7d' } = options;
  return z
    .string()
    .regex(DURATION, `a duration such as ${hint}`)
    .transform(parseDuration)
    .refine(
      (seconds) => (min === undefined ? seconds > 0 : seconds >= min),
      min === undefined ? 'a duration greater than zero' : `a duration of at least ${min} s`,
    );
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
