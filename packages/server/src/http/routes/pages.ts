import type { FastifyInstance } from 'fastify';

/**
 * The page behind the link in verification mails. It only shows a button; the click POSTs the
 * token, so a mail scanner that fetches (or even renders) the link does not consume it.
 * Served until the React pages replace it.
 */
export async function pageRoutes(app: FastifyInstance, opts: { serviceName: string }) {
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
}

function escapeHtml(value: string) {
  return value.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string,
  );
}
