import { randomBytes } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import type { PasswordRefusal, PasswordRules } from '@latchkey/contract';
import { errors } from './errors.js';

// @node-rs/argon2's Algorithm is a const enum, which isolated modules cannot import.
const ARGON2ID = 2;

const ARGON2ID_PHC =
  /^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/;

// V8 grows a thread's young generation (new space) to 32 MB under load; a hashing thread allocates
// little (argon2's memory is native, zxcvbn's dictionaries live in the old generation), so a
// small one keeps each thread's memory down at no measurable cost.
const HASH_THREAD_YOUNG_GENERATION_MB = 6;

/** A bcrypt hash as other stacks store it; `$2x$` (the buggy crypt_blowfish variant) is not. */
export const BCRYPT_HASH = /^\$2[aby]\$\d{2}\$[./A-Za-z0-9]{53}$/;

export interface Argon2Params {
  memoryCost: number;
  timeCost: number;
  parallelism: number;
}

/** OWASP's recommended argon2id minimum (Password Storage Cheat Sheet): the default, and the floor
 * of `latchkey hash calibrate`. */
export const OWASP_MINIMUM: Argon2Params = { memoryCost: 19456, timeCost: 2, parallelism: 1 };

export interface HashLimits {
  /** Hashes computed at once, each on a worker thread of its own, off the event loop. */
  concurrency: number;
  /** Callers allowed to wait for a slot; one more gets `server_busy` (503). */
  queueMax: number;
}

/** What the password rules judge a new password by, besides the password itself. */
export interface JudgeRequest {
  rules: PasswordRules;
  context: { email?: string | undefined; name?: string | null | undefined };
}

export type PasswordVerdict =
  { ok: true } | { ok: false; reason: PasswordRefusal; message: string };

type HashOptions = Argon2Params & { algorithm: number; salt?: Uint8Array; outputLen?: number };

type HashJob =
  | { op: 'hash'; password: string; options: HashOptions; judge?: JudgeRequest }
  | { op: 'verify' | 'bcrypt'; password: string; stored: string }
  | { op: 'judge'; password: string; judge: JudgeRequest };

interface PendingHash {
  job: HashJob;
  resolve(value: unknown): void;
  reject(error: Error): void;
}

interface HashThread {
  worker: Worker;
  /** The hash it is computing. */
  pending: PendingHash | undefined;
}

/**
 * Argon2id hashing behind a bounded queue, on `concurrency` worker threads (core/hash-worker.js)
 * that run at the lowest CPU priority: a login storm takes the cores the event loop leaves idle
 * and waits (or is refused with 503) instead of starving cheap requests such as GET /auth/me.
 * The password rules of a new password run there too, for the same reason.
 */
export class PasswordHasher {
  private readonly threads: HashThread[] = [];
  private readonly waiting: PendingHash[] = [];
  private dummyHash: Promise<string> | undefined;
  private closed = false;

  constructor(
    private readonly params: Argon2Params,
    private readonly limits: HashLimits,
  ) {}

  get stats() {
    const active = this.threads.filter((t) => t.pending).length;
    return { active, queued: this.waiting.length };
  }

  /** Receives each hash's duration in seconds, once it had a slot (the metrics). */
  observe: ((seconds: number) => void) | undefined;

  /**
   * `signal` (optional on every method) tells that nobody waits for the answer any more, such as
   * a client that hung up: a hash still queued is then dropped with `client_closed_request`
   * instead of taking a core during a login storm. One already running finishes.
   */
  hash(password: string, signal?: AbortSignal): Promise<string> {
    return this.run({ op: 'hash', password, options: this.options() }, signal) as Promise<string>;
  }

  /**
   * The password rules (common list, personal information, zxcvbn) on a normalised password, on
   * a hashing thread: zxcvbn costs milliseconds of CPU, which a sign-up storm would otherwise
   * take from the event loop. Same queue, limits and `signal` as a hash.
   */
  judge(password: string, judgement: JudgeRequest, signal?: AbortSignal): Promise<PasswordVerdict> {
    const job: HashJob = { op: 'judge', password, judge: judgement };
    return (this.run(job, signal) as Promise<{ verdict: PasswordVerdict }>).then((r) => r.verdict);
  }

  /**
   * `judge`, then the hash of a password that passes, in one job (one place in the queue, one
   * trip to a thread): the way a new password is set. With `like`, an argon2id hash, the hash
   * takes its salt and parameters (see `hashLike`); otherwise today's.
   */
  judgeAndHash(
    password: string,
    judgement: JudgeRequest,
    like: string | undefined,
    signal?: AbortSignal,
  ): Promise<{ verdict: PasswordVerdict; hash: string | undefined }> {
    const options = (like !== undefined && this.optionsLike(like)) || this.options();
    return this.run({ op: 'hash', password, options, judge: judgement }, signal) as Promise<{
      verdict: PasswordVerdict;
      hash: string | undefined;
    }>;
  }

  /**
   * Hashes `password` with the salt and parameters of `stored`, an argon2id hash: the result
   * equals every hash of the same password made with that salt. One computation can so be
   * compared with several hashes that share a salt (the pending sign-ups of one address).
   * Undefined when `stored` is not such a hash.
   */
  async hashLike(
    stored: string,
    password: string,
    signal?: AbortSignal,
  ): Promise<string | undefined> {
    const options = this.optionsLike(stored);
    if (!options) return undefined;
    return (await this.run({ op: 'hash', password, options }, signal)) as string;
  }

  private options(): HashOptions {
    return {
      algorithm: ARGON2ID,
      memoryCost: this.params.memoryCost,
      timeCost: this.params.timeCost,
      parallelism: this.params.parallelism,
    };
  }

  /** The salt and parameters of `stored`, an argon2id hash, else undefined. */
  private optionsLike(stored: string): HashOptions | undefined {
    const match = ARGON2ID_PHC.exec(stored);
    if (!match) return undefined;
    const [m, t, p, salt, digest] = match.slice(1) as [string, string, string, string, string];
    return {
      algorithm: ARGON2ID,
      memoryCost: Number(m),
      timeCost: Number(t),
      parallelism: Number(p),
      salt: Buffer.from(salt, 'base64'),
      outputLen: Buffer.from(digest, 'base64').length,
    };
  }

  /**
   * True when `password` matches `stored`; a malformed or foreign hash is simply false. Besides
   * argon2, bcrypt hashes imported from other systems (`$2a$`, `$2b$`, `$2y$`) verify, in the
   * same bounded queue and also off the event loop; `needsRehash` then upgrades them.
   */
  verify(stored: string, password: string, signal?: AbortSignal): Promise<boolean> {
    if (BCRYPT_HASH.test(stored)) {
      return this.run({ op: 'bcrypt', stored, password }, signal) as Promise<boolean>;
    }
    if (!stored.startsWith('$argon2')) return Promise.resolve(false);
    return this.run({ op: 'verify', stored, password }, signal) as Promise<boolean>;
  }

  /**
   * Spends the time of a real verification against a hash made with the current parameters,
   * so an unknown email answers as slowly as a known one.
   */
  async verifyDummy(password: string, signal?: AbortSignal): Promise<void> {
    this.dummyHash ??= this.hash(randomBytes(32).toString('base64url'));
    await this.verify(await this.dummyHash, password, signal);
  }

  /**
   * Stops the worker threads. Hashes still running or queued fail with `shutting_down` (503,
   * Retry-After), an answer a client can act on; by then the HTTP server has drained, so they
   * belong to requests whose client already left.
   */
  async close(): Promise<void> {
    this.closed = true;
    for (const pending of this.waiting.splice(0)) pending.reject(errors.shuttingDown());
    const threads = this.threads.splice(0);
    for (const thread of threads) thread.pending?.reject(errors.shuttingDown());
    await Promise.all(threads.map((t) => t.worker.terminate()));
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

  private run(job: HashJob, signal: AbortSignal | undefined): Promise<unknown> {
    return new Promise((resolve, reject) => {
      if (this.closed) return reject(errors.shuttingDown());
      if (signal?.aborted) return reject(errors.clientClosedRequest());
      const pending = { job, resolve, reject };
      const thread = this.idleThread();
      if (thread) return this.start(thread, pending);
      if (this.waiting.length >= this.limits.queueMax) return reject(errors.busy(1));
      this.waiting.push(pending);
      signal?.addEventListener(
        'abort',
        () => {
          const at = this.waiting.indexOf(pending);
          if (at === -1) return; // already running: it finishes
          this.waiting.splice(at, 1);
          reject(errors.clientClosedRequest());
        },
        { once: true },
      );
    });
  }

  private start(thread: HashThread, pending: PendingHash): void {
    thread.pending = pending;
    thread.worker.ref(); // a caller awaits it: keep the process alive until it answers
    thread.worker.postMessage(pending.job);
  }

  /** A thread with nothing to do, started if the pool is not full yet. */
  private idleThread(): HashThread | undefined {
    const idle = this.threads.find((t) => !t.pending);
    if (idle) return idle;
    if (this.threads.length >= this.limits.concurrency) return undefined;
    const thread: HashThread = {
      worker: new Worker(new URL('./hash-worker.js', import.meta.url), {
        resourceLimits: { maxYoungGenerationSizeMb: HASH_THREAD_YOUNG_GENERATION_MB },
      }),
      pending: undefined,
    };
    // An idle hashing thread does not keep the process alive.
    thread.worker.unref();
    thread.worker.on('message', (answer: HashAnswer) => this.finish(thread, answer));
    thread.worker.on('error', (error) => this.finish(thread, { error: error.message }, true));
    this.threads.push(thread);
    return thread;
  }

  /** Settles the thread's hash and hands the thread (a new one after a crash) to the next. */
  private finish(thread: HashThread, answer: HashAnswer, crashed = false): void {
    const pending = thread.pending;
    thread.pending = undefined;
    thread.worker.unref();
    if (crashed) this.threads.splice(this.threads.indexOf(thread), 1);
    if (answer.seconds !== undefined) this.observe?.(answer.seconds);
    const next = this.waiting.shift();
    const free = crashed ? this.idleThread() : thread;
    if (next && free) this.start(free, next);
    if (answer.error !== undefined) {
      pending?.reject(new Error(`password hashing failed: ${answer.error}`));
    } else {
      pending?.resolve(answer.result);
    }
  }
}

interface HashAnswer {
  result?: unknown;
  error?: string;
  seconds?: number;
}
