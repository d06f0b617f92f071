import { randomBytes } from 'node:crypto';
import { hash, verify } from '@node-rs/argon2';
import { verify as bcryptVerify } from '@node-rs/bcrypt';

// @node-rs/argon2's Algorithm is a const enum, which isolated modules cannot import.
const ARGON2ID = 2;

import { errors } from './errors.js';

/** A bcrypt hash as other stacks store it; `$2x$` (the buggy crypt_blowfish variant) is not. */
export const BCRYPT_HASH = /^\$2[aby]\$\d{2}\$[./A-Za-z0-9]{53}$/;

export interface Argon2Params {
  memoryCost: number;
  timeCost: number;
  parallelism: number;
}

export interface HashLimits {
  /** Hashes computed at once (each on a libuv thread, off the event loop). */
  concurrency: number;
  /** Callers allowed to wait for a slot; one more gets `server_busy` (503). */
  queueMax: number;
}

/**
 * Argon2id hashing behind a bounded queue: a login storm waits (or is refused with 503)
 * instead of taking every thread and starving cheap requests such as GET /auth/me.
 */
export class PasswordHasher {
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  private dummyHash: Promise<string> | undefined;

  constructor(
    private readonly params: Argon2Params,
    private readonly limits: HashLimits,
  ) {}

  get stats() {
    return { active: this.active, queued: this.waiting.length };
  }

  /** Receives each hash's duration in seconds, once it had a slot (the metrics, issue 6). */
  observe: ((seconds: number) => void) | undefined;

  hash(password: string): Promise<string> {
    return this.run(() =>
      hash(password, {
        algorithm: ARGON2ID,
        memoryCost: this.params.memoryCost,
        timeCost: this.params.timeCost,
        parallelism: this.params.parallelism,
      }),
    );
  }

  /**
   * True when `password` matches `stored`; a malformed or foreign hash is simply false. Besides
   * argon2, bcrypt hashes imported from other systems (`$2a$`, `$2b$`, `$2y$`) verify, in the
   * same bounded queue and also off the event loop; `needsRehash` then upgrades them.
   */
  verify(stored: string, password: string): Promise<boolean> {
    if (BCRYPT_HASH.test(stored)) {
      return this.run(() => bcryptVerify(password, stored).catch(() => false));
    }
    if (!stored.startsWith('$argon2')) return Promise.resolve(false);
    return this.run(() => verify(stored, password).catch(() => false));
  }

  /**
   * Spends the time of a real verification against a hash made with the current parameters,
   * so an unknown email answers as slowly as a known one.
   */
  async verifyDummy(password: string): Promise<void> {
    this.dummyHash ??= this.hash(randomBytes(32).toString('base64url'));
    await this.verify(await this.dummyHash, password);
  }

  /** True when `stored` was made with other parameters (or another algorithm) than today's. */
  needsRehash(stored: string): boolean {
    const match = /^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$/.exec(stored);
    if (!match) return true;
    return (
      Number(match[1]) !== this.params.memoryCost ||
      Number(match[2]) !== this.params.timeCost ||
      Number(match[3]) !== this.params.parallelism
    );
  }

  private async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active >= this.limits.concurrency) {
      if (this.waiting.length >= this.limits.queueMax) throw errors.busy(1);
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.active++;
    }
    const started = performance.now();
    try {
      return await task();
    } finally {
      // Hand the slot straight to the next waiter (active stays the same) or free it.
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
      this.observe?.((performance.now() - started) / 1000);
    }
  }
}
