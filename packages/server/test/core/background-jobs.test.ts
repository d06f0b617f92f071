import { describe, expect, it } from 'vitest';
import { BackgroundJobs } from '../../src/core/background-jobs.js';

describe('BackgroundJobs', () => {
  it('answers before the work is done, and settled() waits for it', async () => {
    const jobs = new BackgroundJobs(undefined);
    let release!: () => void;
    let done = false;
    const answered = await Promise.race([
      jobs
        .run(() => new Promise<void>((r) => (release = r)).then(() => void (done = true)), 'x')
        .then(() => 'answered'),
      new Promise((r) => setTimeout(() => r('waited'), 50)),
    ]);
    expect(answered).toBe('answered');
    expect(done).toBe(false);
    const settled = jobs.settled();
    release();
    await settled;
    expect(done).toBe(true);
  });

  it('reports a failure instead of rejecting, and makes callers wait past its bound', async () => {
    const failures: string[] = [];
    const jobs = new BackgroundJobs(
      (error, message) => failures.push(`${message}: ${String(error)}`),
      1,
    );
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    await jobs.run(() => gate, 'first');
    let secondAnswered = false;
    const second = jobs.run(() => gate.then(() => Promise.reject(new Error('boom'))), 'second');
    void second.then(() => (secondAnswered = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(secondAnswered).toBe(false); // two in flight, bound 1: the caller waits for its job
    release();
    await second;
    await jobs.settled();
    expect(failures).toEqual(['second: Error: boom']);
  });
});
