import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { AuthError } from '../../src/core/errors.js';
import { PasswordHasher } from '../../src/core/passwords.js';

const params = { memoryCost: 19456, timeCost: 2, parallelism: 1 };

describe('PasswordHasher', () => {
  it('hashes with argon2id and the configured parameters, and verifies', async () => {
    const hasher = new PasswordHasher(params, { concurrency: 2, queueMax: 10 });
    const hash = await hasher.hash('correct horse battery staple');
    expect(hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    expect(await hasher.verify(hash, 'correct horse battery staple')).toBe(true);
    expect(await hasher.verify(hash, 'correct horse battery stapl')).toBe(false);
    expect(hasher.needsRehash(hash)).toBe(false);
  });

  it('flags hashes made with other parameters or algorithms for an upgrade', async () => {
    const old = new PasswordHasher(
      { ...params, memoryCost: 8192, timeCost: 1 },
      { concurrency: 1, queueMax: 1 },
    );
    const current = new PasswordHasher(params, { concurrency: 1, queueMax: 1 });
    const oldHash = await old.hash('pw');
    expect(current.needsRehash(oldHash)).toBe(true);
    expect(await current.verify(oldHash, 'pw')).toBe(true);
    expect(
      current.needsRehash('$2b$10$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234'),
    ).toBe(true);
  });

  it('treats a malformed stored hash as a mismatch, not an error', async () => {
    const hasher = new PasswordHasher(params, { concurrency: 1, queueMax: 1 });
    expect(await hasher.verify('garbage', 'pw')).toBe(false);
    expect(await hasher.verify('$argon2id$v=19$m=1,t=1,p=1$bad', 'pw')).toBe(false);
  });

  it('never runs more hashes at once than its concurrency, and queues the rest', async () => {
    const hasher = new PasswordHasher(params, { concurrency: 2, queueMax: 10 });
    let peak = 0;
    const jobs = Array.from({ length: 6 }, () => hasher.hash('pw'));
    const sampler = setInterval(() => {
      peak = Math.max(peak, hasher.stats.active);
      expect(hasher.stats.active).toBeLessThanOrEqual(2);
    }, 1);
    expect(hasher.stats).toEqual({ active: 2, queued: 4 });
    await Promise.all(jobs);
    clearInterval(sampler);
    expect(peak).toBe(2);
    expect(hasher.stats).toEqual({ active: 0, queued: 0 });
  });

  it('refuses with server_busy (503) once the queue is full', async () => {
    const hasher = new PasswordHasher(params, { concurrency: 1, queueMax: 2 });
    const accepted = [hasher.hash('a'), hasher.hash('b'), hasher.hash('c')];
    const refused = hasher.hash('d');
    await expect(refused).rejects.toBeInstanceOf(AuthError);
    await expect(refused).rejects.toMatchObject({ code: 'server_busy', status: 503 });
    await Promise.all(accepted);
    await expect(hasher.hash('e')).resolves.toMatch(/^\$argon2id/);
  });

  it.runIf(process.platform === 'linux')(
    'hashes on threads of the lowest CPU priority, leaving the event loop its own',
    async () => {
      const niceOf = (tid: string | number) => {
        const fields = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8').split(') ')[1];
        return Number(fields?.split(' ')[16]); // field 19 of stat: nice
      };
      const niceOfThreads = () => readdirSync('/proc/self/task').map(niceOf);
      const mainThread = niceOf(process.pid);
      const before = niceOfThreads().filter((nice) => nice === 19).length;
      const hasher = new PasswordHasher(params, { concurrency: 2, queueMax: 10 });
      await Promise.all([hasher.hash('a'), hasher.hash('b')]);
      expect(niceOfThreads().filter((nice) => nice === 19).length).toBe(before + 2);
      expect(niceOf(process.pid)).toBe(mainThread);
      await hasher.close();
    },
  );

  it('drops a queued hash whose caller hung up, and lets a running one finish', async () => {
    const hasher = new PasswordHasher(params, { concurrency: 1, queueMax: 5 });
    const running = new AbortController();
    const queued = new AbortController();
    const first = hasher.hash('a', running.signal);
    const second = hasher.hash('b', queued.signal).catch((error: Error) => error);
    const third = hasher.hash('c');
    expect(hasher.stats).toEqual({ active: 1, queued: 2 });
    running.abort();
    queued.abort();
    expect(hasher.stats).toEqual({ active: 1, queued: 1 });
    expect(await second).toMatchObject({ code: 'client_closed_request', status: 499 });
    await expect(first).resolves.toMatch(/^\$argon2id/);
    await expect(third).resolves.toMatch(/^\$argon2id/);
    const gone = AbortSignal.abort();
    await expect(hasher.verify(await third, 'c', gone)).rejects.toMatchObject({
      code: 'client_closed_request',
    });
    await hasher.close();
  });

  it('fails hashes still running or queued when it is closed, and answers none after', async () => {
    const hasher = new PasswordHasher(params, { concurrency: 1, queueMax: 5 });
    const running = hasher.hash('a').catch((error: Error) => error);
    const queued = hasher.hash('b').catch((error: Error) => error);
    await hasher.close();
    const shuttingDown = { code: 'shutting_down', status: 503, extra: { retryAfterSeconds: 1 } };
    expect(await running).toMatchObject(shuttingDown);
    expect(await queued).toMatchObject(shuttingDown);
    expect(hasher.stats).toEqual({ active: 0, queued: 0 });
    await expect(hasher.hash('c')).rejects.toMatchObject(shuttingDown);
  });
});
