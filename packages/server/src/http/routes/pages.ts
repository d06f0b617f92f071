import type { FastifyInstance } from 'fastify';

/**
 * The page behind the link in verification mails. It only shows a button; the click POSTs the
 * token, so a mail scanner that fetches (or even renders) the link does not consume it.
 * Served until the React pages replace it.
 */
export async function pageRoutes(
  app: FastifyInstance,
  opts: { serviceName: string; passwordMinLength?: number },
) {
  const title = escapeHtml(`Confirm your email — ${opts.serviceName}`);
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${title}</title>
<style>body{font-family:system-ui,sans-serif;max-width:28rem;margin:4rem auto;padding:0 1rem;line-height:1.5;color:#111}
button{font:inherit;padding:.6rem 1.2rem;border-radius:.4rem;border:0;background:#1d4ed8;color:#fff;cursor:pointer}
button[disabled]{opacity:.6}#status{margin-top:1rem}</style></head>
<body><main><h1>Confirm your email address</h1>
<p>Press the button to confirm that this address is yours.</p>
<button id="confirm" type="button">Confirm my email address</button>
<p id="status" role="status" aria-live="polite"></p></main>
<script src="assets/verify-email.js"></script></body></html>`;

  const script = `(() => {
  const params = new URLSearchParams(location.search);
  const token = params.get('token');
  // Keep the token out of the address bar, history and any Referer.
  history.replaceState(null, '', location.pathname);
  const button = document.getElementById('confirm');
  const status = document.getElementById('status');
  if (!token) { button.disabled = true; status.textContent = 'This link has no token. Open the link from the mail again.'; return; }
  button.addEventListener('click', async () => {
    button.disabled = true;
    status.textContent = 'Confirming…';
    try {
      const res = await fetch('auth/verify-email', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token }), credentials: 'same-origin' });
      const body = await res.json().catch(() => ({}));
      if (res.ok) { status.textContent = 'Your email address ' + body.user.email + ' is confirmed. You can sign in now.'; button.hidden = true; }
      else { status.textContent = body.detail || 'This link is invalid or has expired.'; }
    } catch { status.textContent = 'Could not reach the server. Try again.'; button.disabled = false; }
  });
})();`;

  const hidden = { schema: { hide: true } };
  app.get('/verify-email', hidden, async (_request, reply) =>
    reply.type('text/html; charset=utf-8').send(html),
  );
  app.get('/assets/verify-email.js', hidden, async (_request, reply) =>
    reply.type('text/javascript; charset=utf-8').send(script),
  );

  const reset = resetPasswordPage(opts.serviceName, opts.passwordMinLength ?? 15);
  app.get('/reset-password', hidden, async (_request, reply) =>
    reply.type('text/html; charset=utf-8').send(reset.html),
  );
  app.get('/assets/reset-password.js', hidden, async (_request, reply) =>
    reply.type('text/javascript; charset=utf-8').send(reset.script),
  );
}

/**
 * The page behind the link in reset mails: a form for the new password. Like the verify page,
 * opening it changes nothing; the token is only sent (POSTed) when the form is submitted, and
 * it leaves the address bar at once.
 */
function resetPasswordPage(serviceName: string, minLength: number) {
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeHtml(`Choose a new password — ${serviceName}`)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:28rem;margin:4rem auto;padding:0 1rem;line-height:1.5;color:#111}
label{display:block;margin:.8rem 0 .2rem}input{font:inherit;width:100%;box-sizing:border-box;padding:.5rem;border:1px solid #888;border-radius:.3rem}
button{font:inherit;margin-top:1rem;padding:.6rem 1.2rem;border-radius:.4rem;border:0;background:#1d4ed8;color:#fff;cursor:pointer}
button[disabled]{opacity:.6}#status{margin-top:1rem}</style></head>
<body><main><h1>Choose a new password</h1>
<p>At least ${minLength} characters. A few unrelated words make a strong password that is easy to remember. Saving it signs you out on every device.</p>
<form id="reset" novalidate>
<input type="text" name="username" autocomplete="username" hidden>
<label for="password">New password</label>
<input id="password" name="password" type="password" autocomplete="new-password" minlength="${minLength}" maxlength="256" required>
<label for="confirm">Type it again</label>
<input id="confirm" name="confirm" type="password" autocomplete="new-password" required>
<button id="submit" type="submit">Save the new password</button>
</form>
<p id="status" role="status" aria-live="polite"></p></main>
<script src="assets/reset-password.js"></script></body></html>`;

  const script = `(() => {
  const token = new URLSearchParams(location.search).get('token');
  // Keep the token out of the address bar, history and any Referer.
  history.replaceState(null, '', location.pathname);
  const form = document.getElementById('reset');
  const button = document.getElementById('submit');
  const status = document.getElementById('status');
  if (!token) { button.disabled = true; status.textContent = 'This link has no token. Open the link from the mail again, or ask for a new one.'; return; }
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const password = form.elements.password.value;
    if (password !== form.elements.confirm.value) { status.textContent = 'The two passwords differ.'; return; }
    button.disabled = true;
    status.textContent = 'Saving…';
    try {
      const res = await fetch('auth/reset-password', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token, password }), credentials: 'same-origin' });
      if (res.status === 204) { form.hidden = true; status.textContent = 'Your password is changed and every device was signed out. Sign in with the new password.'; return; }
      const body = await res.json().catch(() => ({}));
      status.textContent = body.detail || 'This link is invalid or has expired. Ask for a new one.';
      button.disabled = body.code === 'invalid_token';
    } catch { status.textContent = 'Could not reach the server. Try again.'; button.disabled = false; }
  });
})();`;
  return { html, script };
}

function escapeHtml(value: string) {
  return value.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string,
  );
}
