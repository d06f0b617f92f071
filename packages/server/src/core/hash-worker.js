// A thread of core/passwords.ts's hashing pool: runs one job at a time, at the lowest CPU
// priority: a password hash or verification, or the password rules on a new password (then its
// hash when it passes). Plain JavaScript so that the same file runs from the sources (tests) and
// from dist; the rules come from the contract's build for the same reason.
import { readFileSync } from 'node:fs';
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

// The rules, the common list (assets/README.md) and zxcvbn's dictionaries are loaded on a
// thread's first judgement: a thread that only verifies logins never holds them.
let contract;
let commonPasswords;
let zxcvbn;

async function ruleTools(minScore) {
  contract ??= await import('@latchkey/contract/password-rules');
  if (!commonPasswords) {
    const text = readFileSync(
      new URL('../../assets/common-passwords.txt', import.meta.url),
      'utf8',
    );
    commonPasswords = new Set(text.split('\n').filter((line) => line.length > 0));
  }
  if (minScore > 0 && !zxcvbn) {
    const [{ ZxcvbnFactory }, { adjacencyGraphs, dictionary }] = await Promise.all([
      import('@zxcvbn-ts/core'),
      import('@zxcvbn-ts/language-common'),
    ]);
    zxcvbn = new ZxcvbnFactory({ dictionary, graphs: adjacencyGraphs, ...contract.ZXCVBN_OPTIONS });
  }
  // zxcvbn only decides with a minimum score; without one it would cost for nothing.
  return { common: commonPasswords, zxcvbn: minScore > 0 ? zxcvbn : undefined };
}

async function judge(password, { rules, context }) {
  const tools = await ruleTools(rules.minScore);
  const verdict = contract.judgePassword(password, rules, context, tools);
  // zxcvbn's result stays here: only what the caller answers crosses to the event loop.
  return verdict.ok
    ? { ok: true }
    : { ok: false, reason: verdict.reason, message: verdict.message };
}

function hashOrVerify({ op, password, stored, options }) {
  if (op === 'hash') return hashSync(password, options);
  if (op === 'verify') return mismatchOnError(() => verifySync(stored, password));
  return mismatchOnError(() => bcryptVerifySync(password, stored));
}

parentPort.on('message', async (job) => {
  try {
    if (job.judge) {
      const verdict = await judge(job.password, job.judge);
      if (job.op === 'judge' || !verdict.ok) return parentPort.postMessage({ result: { verdict } });
    }
    const started = performance.now();
    const value = hashOrVerify(job);
    const seconds = (performance.now() - started) / 1000;
    const result = job.judge ? { verdict: { ok: true }, hash: value } : value;
    parentPort.postMessage({ result, seconds });
  } catch (error) {
    parentPort.postMessage({ error: error instanceof Error ? error.message : String(error) });
  }
});
