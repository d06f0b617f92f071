// Stand-in for Mailpit, the mail catcher of compose.yaml: accepts every mail over SMTP on 1025
// and shows it on 8025, with the part of Mailpit's API that deploy/test.sh reads:
// GET /api/v1/messages, GET /api/v1/message/:id, DELETE /api/v1/messages. Memory only.
import { randomUUID } from 'node:crypto';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createTcpServer } from 'node:net';

const messages = [];

function decodeWords(value) {
  return value.replace(/=\?([^?]+)\?([bqBQ])\?([^?]*)\?=/g, (_, charset, enc, text) => {
    const bytes =
      enc.toUpperCase() === 'B'
        ? Buffer.from(text, 'base64')
        : Buffer.from(
            text
              .replace(/_/g, ' ')
              .replace(/=([0-9A-F]{2})/gi, (__, h) => String.fromCharCode(parseInt(h, 16))),
            'latin1',
          );
    return new TextDecoder(charset).decode(bytes);
  });
}

function split(raw) {
  const at = raw.indexOf('\r\n\r\n');
  const head = at < 0 ? raw : raw.slice(0, at);
  const body = at < 0 ? '' : raw.slice(at + 4);
  const headers = {};
  for (const line of head.replace(/\r\n[ \t]+/g, ' ').split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0)
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { headers, body };
}

function decodeBody(body, encoding = '') {
  const enc = encoding.toLowerCase();
  if (enc === 'base64') return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
  if (enc === 'quoted-printable') {
    const bytes = body
      .replace(/=\r\n/g, '')
      .replace(/=([0-9A-F]{2})/gi, (_, h) => String.fromCharCode(parseInt(h, 16)));
    return Buffer.from(bytes, 'latin1').toString('utf8');
  }
  return body;
}

/** The text and HTML bodies of a MIME message (nested multiparts included). */
function bodies(part, out = { text: '', html: '' }) {
  const type = part.headers['content-type'] ?? 'text/plain';
  const boundary = /boundary="?([^";]+)"?/i.exec(type)?.[1];
  if (/^multipart\//i.test(type) && boundary) {
    for (const chunk of part.body.split(`--${boundary}`).slice(1)) {
      if (chunk.startsWith('--')) break;
      bodies(split(chunk.replace(/^\r\n/, '')), out);
    }
  } else {
    const decoded = decodeBody(part.body, part.headers['content-transfer-encoding']);
    if (/^text\/html/i.test(type)) out.html ||= decoded;
    else if (/^text\/plain/i.test(type)) out.text ||= decoded;
  }
  return out;
}

const addresses = (value = '') =>
  value
    .split(',')
    .map((a) => a.trim())
    .filter(Boolean)
    .map((a) => {
      const m = /^(.*?)\s*<([^>]+)>$/.exec(a);
      return m
        ? { Name: decodeWords(m[1].replace(/^"|"$/g, '')), Address: m[2] }
        : { Name: '', Address: a };
    });

function store(raw, envelopeTo) {
  const part = split(raw);
  const { text, html } = bodies(part);
  const h = part.headers;
  messages.unshift({
    ID: randomUUID(),
    MessageID: (h['message-id'] ?? '').replace(/^<|>$/g, ''),
    From: addresses(h.from)[0] ?? { Name: '', Address: '' },
    To: h.to ? addresses(h.to) : envelopeTo.map((a) => ({ Name: '', Address: a })),
    Subject: decodeWords(h.subject ?? ''),
    Created: new Date().toISOString(),
    Size: Buffer.byteLength(raw),
    Text: text,
    HTML: html,
  });
}

// SMTP: just enough of RFC 5321 for a client that sends plain mail.
createTcpServer((socket) => {
  let buffer = '';
  let data = null;
  let to = [];
  const say = (line) => socket.write(`${line}\r\n`);
  say('220 mailpit stand-in ESMTP');
  socket.on('error', () => {});
  socket.on('data', (chunk) => {
    buffer += chunk.toString('latin1');
    let at;
    while ((at = buffer.indexOf('\r\n')) >= 0) {
      const line = buffer.slice(0, at);
      buffer = buffer.slice(at + 2);
      if (data !== null) {
        if (line === '.') {
          store(Buffer.from(data.join('\r\n'), 'latin1').toString('latin1'), to);
          data = null;
          to = [];
          say('250 OK: queued');
        } else data.push(line.startsWith('..') ? line.slice(1) : line);
        continue;
      }
      const verb = line.slice(0, 4).toUpperCase();
      if (verb === 'EHLO')
        socket.write('250-mailpit\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 SIZE 0\r\n');
      else if (verb === 'HELO') say('250 mailpit');
      else if (verb === 'MAIL') say('250 OK');
      else if (verb === 'RCPT') {
        to.push(/<([^>]*)>/.exec(line)?.[1] ?? '');
        say('250 OK');
      } else if (verb === 'DATA') {
        data = [];
        say('354 End data with <CR><LF>.<CR><LF>');
      } else if (verb === 'RSET') {
        to = [];
        say('250 OK');
      } else if (verb === 'NOOP') say('250 OK');
      else if (verb === 'QUIT') {
        say('221 Bye');
        socket.end();
      } else say('502 Command not implemented');
    }
  });
}).listen(1025, '0.0.0.0');

const summary = ({ Text: _t, HTML: _h, ...rest }) => ({ ...rest, Snippet: _t.slice(0, 250) });
const escape = (s) => s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);

createHttpServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://x');
  const json = (status, body) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  if (req.method === 'GET' && url.pathname === '/api/v1/messages') {
    return json(200, {
      total: messages.length,
      count: messages.length,
      messages: messages.map(summary),
    });
  }
  if (req.method === 'DELETE' && url.pathname === '/api/v1/messages') {
    messages.length = 0;
    return json(200, 'ok');
  }
  const one = /^\/api\/v1\/message\/([^/]+)$/.exec(url.pathname);
  if (req.method === 'GET' && one) {
    const message = messages.find((m) => m.ID === one[1]);
    return message ? json(200, message) : json(404, 'message not found');
  }
  if (req.method === 'GET' && url.pathname === '/livez') return json(200, 'ok');
  if (req.method === 'GET' && url.pathname === '/') {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    return res.end(
      '<!doctype html><title>Mail</title><h1>Mail caught</h1>' +
        messages
          .map(
            (m) =>
              `<article><h2>${escape(m.Subject)}</h2><p>To ${escape(m.To.map((t) => t.Address).join(', '))}</p><pre>${escape(m.Text)}</pre></article>`,
          )
          .join(''),
    );
  }
  json(404, 'not found');
}).listen(8025, '0.0.0.0');
