// Brings in @fastify/swagger's `schema.hide` typing.
import type {} from '@fastify/swagger';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { DevMail, DevMailbox } from '../../mail/transport.js';

/**
 * The development mailbox: `/dev/mail` shows the mails the server
 * "sent", newest first, with clickable links; `/dev/mail.json` is the same for scripts and
 * end-to-end tests. Registered only when NODE_ENV is not production and HOST is a loopback
 * address: these pages show live tokens to anyone who can reach them.
 */
export async function devMailRoutes(
  app: FastifyInstance,
  opts: { mailbox: DevMailbox },
): Promise<void> {
  const { mailbox } = opts;

  app.get('/dev/mail.json', { schema: { hide: true } }, async (_request, reply) => {
    noStore(reply);
    return { messages: mailbox.list().map(toJson) };
  });

  app.get('/dev/mail', { schema: { hide: true } }, async (_request, reply) => {
    noStore(reply);
    reply
      .type('text/html; charset=utf-8')
      // Own policy, not the API's: inline styles, sandboxed srcdoc frames, nothing fetched.
      .header(
        'content-security-policy',
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
      );
    return renderPage(mailbox.list());
  });
}

function noStore(reply: FastifyReply): void {
  reply.header('cache-control', 'no-store').header('referrer-policy', 'no-referrer');
}

function toJson(mail: DevMail) {
  return {
    id: mail.id,
    to: mail.to,
    subject: mail.subject,
    text: mail.text,
    html: mail.html,
    sentAt: mail.sentAt.toISOString(),
  };
}

const HTML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Safe in element content and in quoted attribute values. */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (ch) => HTML_ESCAPES[ch] ?? ch);
}

// http(s) only: a javascript: or data: "link" in a mail must not become clickable here.
const URL_PATTERN = /\bhttps?:\/\/[^\s<>"'`]+/gi;
// Sentence punctuation after a link is not part of it ("… at https://x/verify?token=abc.").
const TRAILING_PUNCTUATION = /[.,;:!?)\]}]+$/;

/** Escapes plain text and turns the http(s) URLs in it into links. */
export function linkify(text: string): string {
  let html = '';
  let last = 0;
  for (const match of text.matchAll(URL_PATTERN)) {
    const start = match.index;
    const url = match[0].replace(TRAILING_PUNCTUATION, '');
    if (url.length <= 'https://'.length) continue;
    html += escapeHtml(text.slice(last, start));
    const escaped = escapeHtml(url);
    html += `<a href="${escaped}" rel="noreferrer noopener">${escaped}</a>`;
    last = start + url.length;
  }
  return html + escapeHtml(text.slice(last));
}

function renderMail(mail: DevMail): string {
  return `<article id="mail-${escapeHtml(mail.id)}">
<header><time datetime="${mail.sentAt.toISOString()}">${escapeHtml(mail.sentAt.toISOString())}</time>
<div><b>To:</b> ${escapeHtml(mail.to)}</div>
<div><b>Subject:</b> ${escapeHtml(mail.subject)}</div></header>
<pre>${linkify(mail.text)}</pre>
${
  mail.html
    ? `<details><summary>HTML version</summary><iframe sandbox title="HTML version" srcdoc="${escapeHtml(mail.html)}"></iframe></details>`
    : ''
}
</article>`;
}

function renderPage(messages: DevMail[]): string {
  const body = messages.length
    ? messages.map(renderMail).join('\n')
    : '<p class="empty">No mail yet. Mail the server sends appears here (the last 200).</p>';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Latchkey dev mailbox (${messages.length})</title>
<style>
body{font:15px/1.45 system-ui,sans-serif;margin:0 auto;max-width:60rem;padding:1rem;color:#222}
h1{font-size:1.3rem}
article{border:1px solid #ccc;border-radius:6px;margin:0 0 1rem;padding:.75rem 1rem}
header{margin-bottom:.5rem}
time{color:#666;font-size:.85rem}
pre{white-space:pre-wrap;word-break:break-word;background:#f6f6f6;padding:.75rem;border-radius:4px;margin:0}
iframe{width:100%;height:24rem;border:1px solid #ddd;margin-top:.5rem;background:#fff}
.empty{color:#666}
</style>
</head>
<body>
<h1>Latchkey dev mailbox</h1>
<p>Development only: mail kept in memory, newest first. <a href="/dev/mail.json">JSON</a></p>
${body}
</body>
</html>
`;
}
