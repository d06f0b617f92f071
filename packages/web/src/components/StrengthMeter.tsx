import { useEffect, useState } from 'react';
import {
  checkPassword,
  preparePasswordCheck,
  SCORE_LABELS,
  type PolicyOptions,
} from '../password-strength.js';

/**
 * The live verdict on a new password: a bar, a label, and in words why it would be refused
 * (the same rules as the server) or how it could be better. Announced politely while typing.
 */
export function StrengthMeter({
  password,
  policy,
  email,
  name,
  id,
  shownError,
}: {
  password: string;
  policy: PolicyOptions;
  email?: string | undefined;
  name?: string | undefined;
  id?: string;
  /** The field's error: a reason already shown there is not repeated here. */
  shownError?: string | undefined;
}) {
  const [ready, setReady] = useState(false);
  useEffect(() => {
    let live = true;
    preparePasswordCheck()
      .catch(() => undefined)
      .finally(() => {
        if (live) setReady(true);
      });
    return () => {
      live = false;
    };
  }, []);
  const [debounced, setDebounced] = useState(password);
  useEffect(() => {
    const timer = setTimeout(() => setDebounced(password), 120);
    return () => clearTimeout(timer);
  }, [password]);

  if (!debounced) {
    return (
      <div id={id} className="strength" aria-live="polite">
        <p className="hint">
          At least {policy.minLength} characters. A few unrelated words make a strong password that
          is easy to remember; no symbols or digits needed.
        </p>
      </div>
    );
  }
  const context: { email?: string; name?: string } = {};
  if (email) context.email = email;
  if (name) context.name = name;
  const result = checkPassword(debounced, policy, context);
  const score = result.score < 0 ? 0 : result.score;
  const label = !result.ok
    ? result.score >= 2
      ? 'Not strong enough'
      : 'Too weak'
    : result.score < 0
      ? 'Checking…'
      : SCORE_LABELS[score];
  return (
    <div id={id} className="strength" data-score={result.ok ? score : 0} data-ready={ready}>
      <div className="strength-bar" aria-hidden="true">
        {[0, 1, 2, 3].map((i) => (
          <span
            key={i}
            className={i < (result.ok ? Math.max(score, 1) : Math.min(score, 2)) ? 'on' : ''}
          />
        ))}
      </div>
      <div aria-live="polite" aria-atomic="true">
        <p className={`strength-label ${result.ok ? 'good' : 'bad'}`}>
          Password strength: <strong>{label}</strong>
        </p>
        {result.message && result.message !== shownError ? (
          <p className="strength-reason">{result.message}</p>
        ) : null}
        {result.suggestion ? <p className="hint">{result.suggestion}</p> : null}
      </div>
    </div>
  );
}
