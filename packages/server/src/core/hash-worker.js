// A thread of core/passwords.ts's hashing pool: runs one password hash or verification at a
// time, at the lowest CPU priority. Plain JavaScript so that the same file runs from the sources
// (tests) and from dist.
import { setPriority } from 'node:os';
import { parentPort } from 'node:worker_threads';
import { hashSync, verifySync } from '@node-rs/argon2';
import { verifySync as bcryptVerifySync } from '@node-rs/bcrypt';

// On Linux a priority set with pid 0 applies to the calling thread only: hashing then yields a
// core to the event loop (GET /auth/me during a login storm) and takes every idle cycle.
try {
  setPriority(19);
} catch {
  // Not permitted here: hash at normal priority.
}

const mismatchOnError = (check) => {
  try {
    return check();
  } catch {
    return false; // a malformed or foreign stored hash is a mismatch, not an error
  }
};

parentPort.on('message', ({ op, password, stored, options }) => {
  const started = performance.now();
  try {
    const result =
      op === 'hash'
        ? hashSync(password, options)
        : op === 'verify'
          ? mismatchOnError(() => verifySync(stored, password))
          : mismatchOnError(() => bcryptVerifySync(password, stored));
    parentPort.postMessage({ result, seconds: (performance.now() - started) / 1000 });
  } catch (error) {
    parentPort.postMessage({ error: error instanceof Error ? error.message : String(error) });
  }
});
