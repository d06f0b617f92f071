import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';
import type { Kysely } from 'kysely';
import { SMTPServer } from 'smtp-server';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { devMailRoutes, linkify } from '../../src/http/routes/dev-mail.js';
import {
  defaultBackoff,
  describeError,
  OutboxWorker,
  type OutboxWorkerOptions,
} from '../../src/jobs/outbox-worker.js';
import {
  createSmtpTransport,
  DevMailbox,
  type MailTransport,
  SMTP_SEND_TIMEOUT_MS,
} from '../../src/mail/transport.js';
import type { DatabaseHandle } from '../../src/store/database.js';
import {
  claimDueMails,
  countPendingMails,
  enqueueMail,
  markMailFailedAttempt,
  type OutgoingMail,
  releaseAllPendingMails,
} from '../../src/store/outbox.js';
import type { Database } from '../../src/store/schema.js';
import { backends, createTestDatabase } from '../support/db.js';

// mailparser ships no type declarations; this is the part of it the tests use.
interface ParsedMail {
  subject?: string;
  text?: string;
  html?: string | false;
  to?: { text: string } | { text: string }[];
  from?: { text: string };
}
const { simpleParser } = createRequire(import.meta.url)('mailparser') as {
  simpleParser(source: NodeJS.ReadableStream): Promise<ParsedMail>;
};

interface Received {
  to: string;
  from: string;
  subject: string;
  text: string;
  html: string;
}

interface TestSmtp {
  port: number;
  close(): Promise<void>;
}

/**
 * A real SMTP server on 127.0.0.1 (plain, no STARTTLS, no auth) that parses what it receives
 * into `received`. Refuses recipients and senders starting with "reject-" with a 550.
 */
async function startSmtp(received: Received[], port = 0): Promise<TestSmtp> {
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    closeTimeout: 50,
    onMailFrom(address, _session, callback) {
      if (address.address.startsWith('reject-')) {
        callback(Object.assign(new Error('Sender refused'), { responseCode: 550 }));
      } else callback();
    },
    onRcptTo(address, _session, callback) {
      if (address.address.startsWith('reject-')) {
        callback(Object.assign(new Error('No such user here'), { responseCode: 550 }));
      } else callback();
    },
    onData(stream, _session, callback) {
      simpleParser(stream).then((mail) => {
        received.push({
          to: Array.isArray(mail.to)
            ? mail.to.map((t) => t.text).join(', ')
            : (mail.to?.text ?? ''),
          from: mail.from?.text ?? '',
          subject: mail.subject ?? '',
          text: mail.text ?? '',
          html: mail.html || '',
        });
        callback();
      }, callback);
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return {
    port: (server.server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A port on 127.0.0.1 that refuses connections (nothing listens there any more). */
async function refusedPort(): Promise<number> {
  const smtp = await startSmtp([]);
  await smtp.close();
  return smtp.port;
}

function silentLogger() {
  return { info: vi.fn(), warn: vi.fn(), error: vi.fn() };
}

function mail(n: number, to = `user${n}@example.test`): OutgoingMail {
  return {
    to,
    subject: `Verify your email #${n}`,
    text: `Hello,\n\nOpen https://app.example.test/verify-email?token=tok-${n} to verify.\n`,
    html: `<p>Hello,</p><p><a href="https://app.example.test/verify-email?token=tok-${n}">Verify</a></p>`,
  };
}

/** Deterministic backoff for the tests: 5 s, 10 s, 20 s… */
const backoff = (attempt: number) => 5_000 * 2 ** (attempt - 1);

describe.each(backends)('mail outbox on %s', (backend) => {
  let handle: DatabaseHandle;
  let db: Kysely<Database>;
  let nowMs: number;
  const clock = () => new Date(nowMs);
  const transports: MailTransport[] = [];
  const servers: TestSmtp[] = [];

  function smtpTransport(port: number): MailTransport {
    const transport = createSmtpTransport(`smtp://127.0.0.1:${port}`);
    transports.push(transport);
    return transport;
  }

  async function smtp(received: Received[], port?: number): Promise<TestSmtp> {
    const server = await startSmtp(received, port);
    servers.push(server);
    return server;
  }

  function worker(
    options: Partial<OutboxWorkerOptions> & Pick<OutboxWorkerOptions, 'transport'>,
  ): OutboxWorker {
    return new OutboxWorker({
      db,
      from: 'Latchkey <no-reply@latchkey.test>',
      clock,
      logger: silentLogger(),
      backoff,
      ...options,
    });
  }

  async function row(id: string) {
    return db.selectFrom('mail_outbox').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
  }

  beforeAll(async () => {
    handle = await createTestDatabase(backend);
    db = handle.db;
  });
  afterAll(() => handle.close());

  beforeEach(async () => {
    nowMs = Date.parse('2030-01-01T12:00:00.000Z');
    await db.deleteFrom('mail_outbox').execute();
  });
  afterEach(async () => {
    await Promise.all(transports.splice(0).map((t) => t.close?.()));
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });

  it('enqueues within the caller transaction and delivers exactly once, intact', async () => {
    const received: Received[] = [];
    const server = await smtp(received);
    const id = await db.transaction().execute((trx) => enqueueMail(trx, mail(1), clock()));
    await expect(
      db.transaction().execute(async (trx) => {
        await enqueueMail(trx, mail(2), clock());
        throw new Error('token insert failed');
      }),
    ).rejects.toThrow('token insert failed');
    expect(await countPendingMails(db)).toBe(1);

    const w = worker({ transport: smtpTransport(server.port) });
    expect(await w.runOnce()).toEqual({ sent: 1, failed: 0 });
    expect(received).toHaveLength(1);
    const got = received[0];
    expect(got?.to).toBe('user1@example.test');
    expect(got?.from).toContain('no-reply@latchkey.test');
    expect(got?.subject).toBe(mail(1).subject);
    expect(got?.text.trim()).toBe(mail(1).text.trim());
    expect(got?.html).toBe(mail(1).html);

    const sent = await row(id);
    expect(sent.status).toBe('sent');
    expect(sent.sent_at).toEqual(clock());
    expect(sent.text_body).toBeNull();
    expect(sent.html_body).toBeNull();
    expect(sent.attempts).toBe(0);

    nowMs += 3_600_000;
    expect(await w.runOnce()).toEqual({ sent: 0, failed: 0 });
    expect(received).toHaveLength(1);
    expect(await countPendingMails(db)).toBe(0);
  });

  it('refuses a recipient list or a multi-line subject', async () => {
    await expect(
      enqueueMail(db, { ...mail(1), to: 'a@example.test, b@evil.test' }, clock()),
    ).rejects.toThrow(/single address/);
    await expect(
      enqueueMail(db, { ...mail(1), subject: 'Hi\r\nBcc: x@evil.test' }, clock()),
    ).rejects.toThrow(/single line/);
  });

  it('keeps mails through an outage, backs off, then delivers each once', async () => {
    const port = await refusedPort();
    const ids = [];
    for (let n = 1; n <= 3; n++) ids.push(await enqueueMail(db, mail(n), clock()));
    const w = worker({ transport: smtpTransport(port) });

    expect(await w.runOnce()).toEqual({ sent: 0, failed: 3 });
    for (const id of ids) {
      const r = await row(id);
      expect(r.status).toBe('pending');
      expect(r.attempts).toBe(1);
      expect(r.last_error).toMatch(/ECONNREFUSED/);
      expect(r.next_attempt_at.getTime()).toBe(nowMs + 5_000);
      expect(r.text_body).toBe(mail(ids.indexOf(id) + 1).text);
    }
    // Not due yet: nothing is tried.
    nowMs += 4_000;
    expect(await w.runOnce()).toEqual({ sent: 0, failed: 0 });
    nowMs += 1_000;
    expect(await w.runOnce()).toEqual({ sent: 0, failed: 3 });
    for (const id of ids) {
      const r = await row(id);
      expect(r.attempts).toBe(2);
      expect(r.next_attempt_at.getTime()).toBe(nowMs + 10_000);
    }
    expect(await countPendingMails(db)).toBe(3);

    // The server is back on the same port.
    const received: Received[] = [];
    await smtp(received, port);
    nowMs += 10_000;
    expect(await w.runOnce()).toEqual({ sent: 3, failed: 0 });
    expect(received.map((m) => m.subject).sort()).toEqual(
      [1, 2, 3].map((n) => mail(n).subject).sort(),
    );
    for (const id of ids) {
      const r = await row(id);
      expect(r.status).toBe('sent');
      expect(r.text_body).toBeNull();
      expect(r.html_body).toBeNull();
    }
    nowMs += 3_600_000;
    expect(await w.runOnce()).toEqual({ sent: 0, failed: 0 });
    expect(received).toHaveLength(3);
  });

  it('once a send succeeds again, retries the mail it backed off at once', async () => {
    const port = await refusedPort();
    const ids = [];
    for (let n = 1; n <= 3; n++) ids.push(await enqueueMail(db, mail(n), clock()));
    const w = worker({ transport: smtpTransport(port) });
    expect(await w.runOnce()).toEqual({ sent: 0, failed: 3 });

    // The server is back; a new mail is due before the backed-off ones.
    const received: Received[] = [];
    await smtp(received, port);
    nowMs += 1_000;
    await enqueueMail(db, mail(4), clock());
    expect(await w.runOnce()).toEqual({ sent: 4, failed: 0 });
    expect(received.map((m) => m.subject).sort()).toEqual(
      [1, 2, 3, 4].map((n) => mail(n).subject).sort(),
    );
    for (const id of ids) expect((await row(id)).status).toBe('sent');
  });

  it('leaves a backed-off mail alone once another worker has taken it over', async () => {
    const port = await refusedPort();
    const id = await enqueueMail(db, mail(1), clock());
    const w = worker({ transport: smtpTransport(port) });
    expect(await w.runOnce()).toEqual({ sent: 0, failed: 1 });
    // Another instance claims it when due and holds its lease.
    nowMs += 5_000;
    const [claim] = await claimDueMails(db, clock(), 10, 60_000);
    expect(claim?.id).toBe(id);

    const received: Received[] = [];
    await smtp(received, port);
    await enqueueMail(db, mail(2), clock());
    expect(await w.runOnce()).toEqual({ sent: 1, failed: 0 });
    expect(received.map((m) => m.subject)).toEqual([mail(2).subject]);
    expect((await row(id)).next_attempt_at).toEqual(claim?.leaseUntil);
  });

  it('never lets two concurrent workers send the same mail', async () => {
    const received: Received[] = [];
    const server = await smtp(received);
    const total = 30;
    for (let n = 1; n <= total; n++) await enqueueMail(db, mail(n), clock());
    const a = worker({ transport: smtpTransport(server.port), batchSize: 4 });
    const b = worker({ transport: smtpTransport(server.port), batchSize: 4 });

    const [ra, rb] = await Promise.all([a.runOnce(), b.runOnce()]);
    expect(ra.sent + rb.sent).toBe(total);
    expect(ra.failed + rb.failed).toBe(0);
    const subjects = received.map((m) => m.subject);
    expect(subjects).toHaveLength(total);
    expect(new Set(subjects).size).toBe(total);
    expect(await countPendingMails(db)).toBe(0);
  });

  it('claims disjoint rows under concurrent claims', async () => {
    for (let n = 1; n <= 15; n++) await enqueueMail(db, mail(n), clock());
    const claims = await Promise.all([
      claimDueMails(db, clock(), 10, 60_000),
      claimDueMails(db, clock(), 10, 60_000),
      claimDueMails(db, clock(), 10, 60_000),
    ]);
    const ids = claims.flat().map((m) => m.id);
    expect(ids).toHaveLength(15);
    expect(new Set(ids).size).toBe(15);
    expect(await claimDueMails(db, clock(), 10, 60_000)).toEqual([]);
  });

  it("retries a crashed worker's claimed mail once its lease is over", async () => {
    const received: Received[] = [];
    const server = await smtp(received);
    const id = await enqueueMail(db, mail(1), clock());
    // A worker claims it, then dies without a word.
    const [stale] = await claimDueMails(db, clock(), 10, 60_000);
    expect(stale?.id).toBe(id);

    const w = worker({ transport: smtpTransport(server.port) });
    expect(await w.runOnce()).toEqual({ sent: 0, failed: 0 });
    nowMs += 60_000;
    // The new claim supersedes the stale one, whose late report is ignored.
    const [fresh] = await claimDueMails(db, clock(), 10, 60_000);
    expect(fresh?.id).toBe(id);
    if (!stale || !fresh) throw new Error('unreachable');
    expect(
      await markMailFailedAttempt(db, stale, { error: 'late', now: clock(), retryAt: clock() }),
    ).toBe(false);
    expect((await row(id)).attempts).toBe(0);

    // That one dies too: after its lease the worker sends the mail.
    nowMs += 60_000;
    expect(await w.runOnce()).toEqual({ sent: 1, failed: 0 });
    expect(received).toHaveLength(1);
    expect((await row(id)).status).toBe('sent');
  });

  it('makes leased and backed-off mail due at once when released (embedded restart)', async () => {
    const leased = await enqueueMail(db, mail(1), clock());
    await claimDueMails(db, clock(), 10, 5 * 60_000);
    const later = await enqueueMail(db, mail(2), new Date(nowMs + 3_600_000));
    await db
      .updateTable('mail_outbox')
      .set({ next_attempt_at: new Date(nowMs + 3_600_000) })
      .where('id', '=', later)
      .execute();
    expect(await claimDueMails(db, clock(), 10, 60_000)).toEqual([]);
    expect(await releaseAllPendingMails(db, clock())).toBe(2);
    const claimed = await claimDueMails(db, clock(), 10, 60_000);
    expect(claimed.map((c) => c.id).sort()).toEqual([leased, later].sort());
  });

  it('gives a mail up after maxAttempts, clearing its bodies', async () => {
    const port = await refusedPort();
    const id = await enqueueMail(db, mail(1), clock());
    const logger = silentLogger();
    const w = worker({ transport: smtpTransport(port), maxAttempts: 3, logger });
    for (let attempt = 1; attempt <= 3; attempt++) {
      expect(await w.runOnce()).toEqual({ sent: 0, failed: 1 });
      expect((await row(id)).attempts).toBe(attempt);
      nowMs += 3_600_000;
    }
    const failed = await row(id);
    expect(failed.status).toBe('failed');
    expect(failed.text_body).toBeNull();
    expect(failed.html_body).toBeNull();
    expect(failed.last_error).toMatch(/ECONNREFUSED/);
    expect(failed.sent_at).toBeNull();
    expect(logger.error).toHaveBeenCalledTimes(1);
    expect(await w.runOnce()).toEqual({ sent: 0, failed: 0 });
    expect(await countPendingMails(db)).toBe(0);
  });

  it('gives up at once on a refused recipient, but retries a refused sender', async () => {
    const received: Received[] = [];
    const server = await smtp(received);
    const refused = await enqueueMail(db, mail(1, 'reject-me@example.test'), clock());
    const fine = await enqueueMail(db, mail(2), clock());
    const w = worker({ transport: smtpTransport(server.port) });
    expect(await w.runOnce()).toEqual({ sent: 1, failed: 1 });
    const r = await row(refused);
    expect(r.status).toBe('failed');
    expect(r.attempts).toBe(1);
    expect(r.last_error).toMatch(/550/);
    expect(r.text_body).toBeNull();
    expect((await row(fine)).status).toBe('sent');

    // A 5xx to MAIL FROM is the operator's misconfiguration: every mail would be lost.
    const misconfigured = worker({
      transport: smtpTransport(server.port),
      from: 'reject-sender@latchkey.test',
    });
    const id = await enqueueMail(db, mail(3), clock());
    expect(await misconfigured.runOnce()).toEqual({ sent: 0, failed: 1 });
    const pending = await row(id);
    expect(pending.status).toBe('pending');
    expect(pending.attempts).toBe(1);
    expect(pending.last_error).toMatch(/550/);
  });

  it('polls, answers a nudge, and stops cleanly', async () => {
    const received: Received[] = [];
    const server = await smtp(received);
    const logger = silentLogger();
    // Real time here: the poll interval is long, so only the nudge can send the mail soon.
    const w = new OutboxWorker({
      db,
      transport: smtpTransport(server.port),
      from: 'no-reply@latchkey.test',
      logger,
      pollIntervalMs: 60_000,
    });
    w.start();
    await enqueueMail(db, mail(1), new Date());
    w.nudge();
    w.nudge();
    await vi.waitFor(() => expect(received).toHaveLength(1), { timeout: 5_000, interval: 20 });
    await enqueueMail(db, mail(2), new Date());
    w.nudge();
    await vi.waitFor(() => expect(received).toHaveLength(2), { timeout: 5_000, interval: 20 });
    await w.stop();
    await enqueueMail(db, mail(3), new Date());
    w.nudge();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(received).toHaveLength(2);
    expect(logger.error).not.toHaveBeenCalled();
  });

  it('logs a failing pass instead of throwing, and keeps polling', async () => {
    const logger = silentLogger();
    const broken = {
      updateTable() {
        throw new Error('database is down');
      },
    } as unknown as Kysely<Database>;
    const w = new OutboxWorker({
      db: broken,
      transport: new DevMailbox({ logger: silentLogger() }),
      from: 'no-reply@latchkey.test',
      logger,
      pollIntervalMs: 10,
    });
    await expect(w.runOnce()).rejects.toThrow('database is down');
    w.start();
    await vi.waitFor(() => expect(logger.error.mock.calls.length).toBeGreaterThanOrEqual(2), {
      timeout: 2_000,
      interval: 10,
    });
    await w.stop();
    expect(logger.error.mock.calls[0]?.[0]).toEqual({ err: 'database is down' });
  });

  it('leases a claim a little longer than one SMTP send may take, not minutes', async () => {
    await enqueueMail(db, mail(1), clock());
    const received: Received[] = [];
    const server = await smtp(received);
    // A worker whose transport never answers: its claim stays as the crash would leave it.
    const hung: MailTransport = { send: () => new Promise(() => {}) };
    const w = worker({ transport: hung, stopTimeoutMs: 10 });
    void w.runOnce();
    await vi.waitFor(async () =>
      expect(
        (
          await db.selectFrom('mail_outbox').select('next_attempt_at').execute()
        )[0]?.next_attempt_at.getTime(),
      ).toBeGreaterThan(nowMs),
    );
    const [leased] = await db.selectFrom('mail_outbox').select('next_attempt_at').execute();
    const leaseMs = (leased?.next_attempt_at.getTime() ?? 0) - nowMs;
    expect(leaseMs).toBeGreaterThan(SMTP_SEND_TIMEOUT_MS);
    expect(leaseMs).toBeLessThanOrEqual(SMTP_SEND_TIMEOUT_MS + 15_000);
    // Once the lease is over, another worker sends the mail.
    nowMs += leaseMs;
    expect(await worker({ transport: smtpTransport(server.port) }).runOnce()).toEqual({
      sent: 1,
      failed: 0,
    });
    await w.stop();
  });

  it('on stop, aborts a hung send quickly and hands the unsent claims back, due at once', async () => {
    let dataStarted = false;
    const hangingSmtp = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      onData(stream) {
        dataStarted = true;
        stream.resume(); // reads the message, never answers it
      },
    });
    await new Promise<void>((resolve) => hangingSmtp.listen(0, '127.0.0.1', () => resolve()));
    const port = (hangingSmtp.server.address() as AddressInfo).port;
    try {
      const ids = [];
      for (let n = 1; n <= 3; n++) ids.push(await enqueueMail(db, mail(n), clock()));
      const w = worker({ transport: smtpTransport(port) });
      const pass = w.runOnce();
      await vi.waitFor(() => expect(dataStarted).toBe(true), { timeout: 5_000, interval: 10 });

      const started = performance.now();
      await w.stop();
      expect(performance.now() - started).toBeLessThan(3_000);
      expect(await pass).toEqual({ sent: 0, failed: 0 });
      for (const id of ids) {
        const r = await row(id);
        expect(r.status).toBe('pending');
        expect(r.attempts).toBe(0);
        expect(r.sent_at).toBeNull();
        expect(r.next_attempt_at.getTime()).toBeLessThanOrEqual(nowMs);
      }
      // Another worker can take them at once.
      expect(await claimDueMails(db, clock(), 10, 60_000)).toHaveLength(3);
    } finally {
      await new Promise<void>((resolve) => hangingSmtp.close(() => resolve()));
    }
  });

  it('delivers through the dev mailbox', async () => {
    const mailbox = new DevMailbox({ logger: silentLogger() });
    const id = await enqueueMail(db, mail(7), clock());
    expect(await worker({ transport: mailbox }).runOnce()).toEqual({ sent: 1, failed: 0 });
    const [got] = mailbox.list();
    expect(got).toMatchObject({ to: 'user7@example.test', subject: mail(7).subject });
    expect(got?.text).toBe(mail(7).text);
    expect((await row(id)).status).toBe('sent');
  });
});

describe('dev mailbox', () => {
  it('keeps the last messages, newest first, and logs the text body', async () => {
    const logger = { info: vi.fn() };
    const mailbox = new DevMailbox({ logger, limit: 3 });
    for (let n = 1; n <= 4; n++) {
      await mailbox.send({ from: 'no-reply@latchkey.test', ...mail(n) });
    }
    const list = mailbox.list();
    expect(list.map((m) => m.subject)).toEqual([4, 3, 2].map((n) => mail(n).subject));
    const newest = list[0];
    if (!newest) throw new Error('unreachable');
    expect(mailbox.get(newest.id)).toEqual(newest);
    expect(mailbox.get('nope')).toBeUndefined();
    expect(newest.sentAt).toBeInstanceOf(Date);
    expect(logger.info).toHaveBeenCalledTimes(4);
    expect(logger.info.mock.calls[3]?.[0]).toMatchObject({
      to: 'user4@example.test',
      text: mail(4).text,
    });
  });

  it('serves the messages as JSON and as an escaped HTML page with links', async () => {
    const mailbox = new DevMailbox({ logger: { info() {} } });
    await mailbox.send({ from: 'no-reply@latchkey.test', ...mail(1) });
    await mailbox.send({
      from: 'no-reply@latchkey.test',
      to: 'x@example.test',
      subject: '<script>alert(1)</script> & "quotes"',
      text: 'Reset at https://app.example.test/reset?token=a&b=c. Not javascript:alert(1)',
      html: '<p onclick="x">"hi"</p>',
    });
    const app = Fastify();
    await app.register(devMailRoutes, { mailbox });
    try {
      const json = await app.inject({ method: 'GET', url: '/dev/mail.json' });
      expect(json.statusCode).toBe(200);
      expect(json.headers['cache-control']).toBe('no-store');
      const { messages } = json.json() as { messages: Record<string, unknown>[] };
      expect(messages).toHaveLength(2);
      expect(messages[0]).toMatchObject({ to: 'x@example.test', html: '<p onclick="x">"hi"</p>' });
      expect(messages[1]).toMatchObject({
        to: 'user1@example.test',
        subject: mail(1).subject,
        text: mail(1).text,
        html: mail(1).html,
      });
      expect(Object.keys(messages[1] ?? {}).sort()).toEqual(
        ['html', 'id', 'sentAt', 'subject', 'text', 'to'].sort(),
      );
      expect(new Date(String(messages[1]?.sentAt)).toISOString()).toBe(messages[1]?.sentAt);

      const page = await app.inject({ method: 'GET', url: '/dev/mail' });
      expect(page.statusCode).toBe(200);
      expect(page.headers['content-type']).toMatch(/^text\/html/);
      const html = page.body;
      expect(html).not.toContain('<script>');
      expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quotes&quot;');
      expect(html).toContain(
        '<a href="https://app.example.test/reset?token=a&amp;b=c" rel="noreferrer noopener">',
      );
      expect(html).not.toContain('href="javascript');
      expect(html).toContain(
        '<a href="https://app.example.test/verify-email?token=tok-1" rel="noreferrer noopener">',
      );
      // The HTML version sits escaped in a sandboxed frame, never inline.
      expect(html).not.toContain('<p onclick');
      expect(html).toContain('srcdoc="&lt;p onclick=&quot;x&quot;&gt;&quot;hi&quot;&lt;/p&gt;"');
      // Newest first.
      expect(html.indexOf('x@example.test')).toBeLessThan(html.indexOf('user1@example.test'));
    } finally {
      await app.close();
    }
  });

  it('linkifies only http(s) URLs and leaves trailing punctuation out', () => {
    expect(linkify('Go to https://a.test/x?y=1. Then <b>')).toBe(
      'Go to <a href="https://a.test/x?y=1" rel="noreferrer noopener">https://a.test/x?y=1</a>. Then &lt;b&gt;',
    );
    expect(linkify('javascript:alert(1) data:text/html,x')).toBe(
      'javascript:alert(1) data:text/html,x',
    );
  });
});

describe('retry policy', () => {
  it('backs off exponentially from 5 s to a 30 min cap, with ±20% jitter', () => {
    for (let i = 0; i < 50; i++) {
      const first = defaultBackoff(1);
      expect(first).toBeGreaterThanOrEqual(4_000);
      expect(first).toBeLessThanOrEqual(6_000);
      const fourth = defaultBackoff(4);
      expect(fourth).toBeGreaterThanOrEqual(32_000);
      expect(fourth).toBeLessThanOrEqual(48_000);
      const late = defaultBackoff(19);
      expect(late).toBeGreaterThanOrEqual(0.8 * 30 * 60_000);
      expect(late).toBeLessThanOrEqual(30 * 60_000);
    }
  });

  it('keeps errors short, on one line, without URL credentials', () => {
    const error = new Error(
      `connect to smtp://mailer:hunter2@mx.example.test failed\n${'x'.repeat(900)}`,
    );
    const text = describeError(error);
    expect(text).not.toContain('hunter2');
    expect(text).toContain('smtp://***@mx.example.test');
    expect(text).not.toContain('\n');
    expect(text.length).toBeLessThanOrEqual(500);
  });
});
