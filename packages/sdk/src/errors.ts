import * as s from '@latchkey/contract';
import type { ProblemCode, Problem } from './types.js';

/** Any failed call: the HTTP status and the problem document's stable `code`. */
export class LatchkeyError extends Error {
  readonly status: number;
  readonly code: ProblemCode;
  readonly problem: Problem | undefined;
  /** Per-field messages of a 400 `validation_failed` / `weak_password`. */
  readonly fieldErrors: { field: string; message: string }[];
  /** Seconds to wait, from `Retry-After` (429, 503). */
  readonly retryAfterSeconds: number | undefined;

  constructor(
    status: number,
    code: ProblemCode,
    message: string,
    extra: { problem?: Problem; retryAfterSeconds?: number | undefined } = {},
  ) {
    super(message);
    this.name = 'LatchkeyError';
    this.status = status;
    this.code = code;
    this.problem = extra.problem;
    this.fieldErrors = extra.problem?.errors ?? [];
    this.retryAfterSeconds = extra.retryAfterSeconds;
  }
}

/** The LatchkeyError for a failed response: its problem document when it has one. */
export async function toError(response: Response): Promise<LatchkeyError> {
  const retryAfter = Number(response.headers.get('retry-after'));
  const retryAfterSeconds = Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : undefined;
  let body: unknown;
  try {
    body = await response.json();
  } catch {
    body = undefined;
  }
  const parsed = s.problem.safeParse(body);
  if (parsed.success) {
    return new LatchkeyError(
      response.status,
      parsed.data.code,
      parsed.data.detail ?? parsed.data.title,
      { problem: parsed.data, retryAfterSeconds },
    );
  }
  return new LatchkeyError(response.status, `http_${response.status}`, response.statusText, {
    retryAfterSeconds,
  });
}
