import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { compactData, EVENT_LABELS, eventLabel } from '../src/event-labels.js';

const serverSrc = fileURLToPath(new URL('../../server/src/', import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? sources(join(dir, entry.name))
      : entry.name.endsWith('.ts')
        ? [join(dir, entry.name)]
        : [],
  );
}

/** The audit event types the server writes, read from its sources. */
function writtenTypes(): Set<string> {
  const types = new Set<string>();
  for (const file of sources(serverSrc)) {
    const text = readFileSync(file, 'utf8');
    if (!/recordAuditEvent|auditType|event\(/.test(text)) continue;
    // `type: 'login.failed'` in a recorded event (or `type: options.auditType ?? '…'`),
    // `auditType: 'session.rotated'`, and the admin
    // service's `event('user.disabled', …)`.
    for (const m of text.matchAll(
      /\b(?:type|auditType):\s*(?:[\w.]+\s*\?\?\s*)?'([a-z_]+(?:\.[a-z_]+)*)'/g,
    )) {
      types.add(m[1] as string);
    }
    for (const m of text.matchAll(/\bevent\('([a-z_]+\.[a-z_]+)'/g)) types.add(m[1] as string);
    // The login throttle's `${prefix}${outcome}`: login.throttled / login.locked and per device.
    if (text.includes("'login.device_'")) {
      for (const prefix of ['login.', 'login.device_']) {
        for (const outcome of ['throttled', 'locked']) types.add(`${prefix}${outcome}`);
      }
    }
  }
  // Types of JSON schemas and of the OpenAPI document are not audit events.
  for (const notEvent of ['object', 'string', 'http', 'apiKey', 'array', 'boolean', 'number']) {
    types.delete(notEvent);
  }
  return types;
}

describe('event labels', () => {
  it('have a human label for every audit event type the server writes', () => {
    const types = writtenTypes();
    for (const expected of [
      'login.locked',
      'login.succeeded',
      'admin.password_reset',
      'admin.sessions_revoked',
      'user.disabled',
    ]) {
      expect(types, expected).toContain(expected);
    }
    const missing = [...types].filter((type) => !(type in EVENT_LABELS));
    expect(missing).toEqual([]);
  });

  it('label the PATCH /auth/me change, and fall back to the spaced name', () => {
    expect(eventLabel('user.updated')).toBe('Profile updated');
    expect(eventLabel('login.locked')).toBe(
      'Password sign-in locked after too many failed attempts',
    );
    expect(eventLabel('something.new_here')).toBe('something new here');
  });

  it('compacts event data to one short line', () => {
    expect(compactData({ from: [], to: ['admin', 'support'] })).toBe(
      'from: (none) · to: admin, support',
    );
    expect(compactData({ revokedSessions: 2, reason: null })).toBe(
      'revokedSessions: 2 · reason: —',
    );
    expect(compactData({})).toBe('');
    expect(compactData({ long: 'x'.repeat(300) })).toHaveLength(120);
  });
});
