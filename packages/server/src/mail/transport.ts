import { uuidv7 } from '../store/ids.js';

export interface MailMessage {
  from: string;
  to: string;
  subject: string;
  text: string;
  html: string;
}

/**
 * Where the outbox worker hands a mail. `send` resolves once the mail is accepted; `signal`
 * aborts it (the worker stopping).
 */
export interface MailTransport {
  send(message: MailMessage, options?: { signal?: AbortSignal }): Promise<void>;
  close?(): Promise<void>;
}

/**
 * A failed send, with a message fit for `mail_outbox.last_error` and the logs (no credentials).
 * `permanent` means retrying this same mail cannot succeed, so the worker gives it up at once.
 */
export class MailTransportError extends Error {
  readonly permanent: boolean;
  readonly code: string | undefined;
  readonly responseCode: number | undefined;

  constructor(
    message: string,
    details: { permanent?: boolean; code?: string; responseCode?: number } = {},
  ) {
    super(message);
    this.name = 'MailTransportError';
    this.permanent = details.permanent ?? false;
    this.code = details.code;
    this.responseCode = details.responseCode;
  }
}

/**
 * The longest one SMTP send may take, whatever the server does; the outbox lease is a little
 * longer (a crashed worker's mail waits that long before another worker retries it).
 */
export const SMTP_SEND_TIMEOUT_MS = 30_000;

export interface SmtpTransportOptions {
  /** TCP connect, and DNS lookup; default 10 s. */
  connectionTimeoutMs?: number;
  /** From connected to the server's greeting; default 10 s. */
  greetingTimeoutMs?: number;
  /** Silence on an open connection; default 20 s. */
  socketTimeoutMs?: number;
  /** Whole send of one message, whatever the server does (trickling replies…); default 30 s. */
  sendTimeoutMs?: number;
}

/**
 * SMTP through nodemailer's pool: `smtp://user:pass@host:587` (STARTTLS when the server offers
 * it), `smtps://…:465` (TLS from the start). Nodemailer options can ride on the query string
 * and win over the defaults here, e.g. `smtp://localhost:1025?ignoreTLS=true` for a local
 * catcher that offers STARTTLS with a certificate nobody trusts, or `?requireTLS=true` to refuse
 * to send in clear over the network. Timeouts are seconds, not nodemailer's minutes, so a dead
 * server fails the attempt quickly and the outbox retries later.
 */
export function createSmtpTransport(
  url: string,
  options: SmtpTransportOptions = {},
): MailTransport {
  const connectionTimeout = options.connectionTimeoutMs ?? 10_000;
  const sendTimeoutMs = options.sendTimeoutMs ?? SMTP_SEND_TIMEOUT_MS;
  // Loaded only when SMTP is configured: a server without it does not hold nodemailer's code.
  const transporter = import('nodemailer').then(({ default: nodemailer }) =>
    nodemailer.createTransport({
      url,
      pool: true,
      // One worker sends one mail at a time; a second connection covers a nudge-started pass
      // racing a dying connection. Many instances × a big pool is what gets a sender throttled.
      maxConnections: 2,
      maxMessages: 100,
      idleTimeout: 60_000,
      connectionTimeout,
      dnsTimeout: connectionTimeout,
      greetingTimeout: options.greetingTimeoutMs ?? 10_000,
      socketTimeout: options.socketTimeoutMs ?? 20_000,
      logger: false,
      debug: false,
    }),
  );
  transporter.catch(() => {}); // reported by the first send, not as an unhandled rejection
  return {
    async send(message, sendOptions = {}) {
      const timeout = AbortSignal.timeout(sendTimeoutMs);
      try {
        const smtp = await transporter;
        await smtp.sendMail({
          from: message.from,
          // An address object is used as is: a string would be parsed as an address list.
          to: { name: '', address: message.to },
          subject: message.subject,
          text: message.text,
          html: message.html,
          signal: sendOptions.signal ? AbortSignal.any([timeout, sendOptions.signal]) : timeout,
        });
      } catch (error) {
        throw toTransportError(error);
      }
    },
    async close() {
      (await transporter).close();
    },
  };
}

interface SmtpErrorFields {
  message?: unknown;
  code?: unknown;
  responseCode?: unknown;
  command?: unknown;
  permanent?: unknown;
}

/**
 * Only a recipient refused with a 5xx reply (RCPT TO: no such mailbox, domain refused…) is
 * permanent. Other 5xx replies — 535 bad credentials, a refused MAIL FROM, a 554 on DATA from a
 * misconfigured relay — usually hit every mail alike and are fixed by the operator; giving up on
 * them would throw away the whole queue during a misconfiguration, which is exactly what the
 * outbox exists to prevent, so they are retried with backoff like an outage.
 */
function toTransportError(error: unknown): MailTransportError {
  const fields: SmtpErrorFields = typeof error === 'object' && error !== null ? error : {};
  const code = typeof fields.code === 'string' ? fields.code : undefined;
  const responseCode = typeof fields.responseCode === 'number' ? fields.responseCode : undefined;
  const permanent =
    fields.permanent === true &&
    responseCode !== undefined &&
    responseCode >= 500 &&
    fields.command === 'RCPT TO';
  const raw = typeof fields.message === 'string' ? fields.message : String(error);
  const message = `${code ? `${code}: ` : ''}${raw}`;
  return new MailTransportError(message, {
    permanent,
    ...(code !== undefined ? { code } : {}),
    ...(responseCode !== undefined ? { responseCode } : {}),
  });
}

/**
 * Where mail goes when nobody could read it (no SMTP_URL, no dev mailbox page): every attempt
 * fails as retryable, so nothing is ever marked sent. The worker is not started with it; only
 * a pass run by hand reaches it.
 */
export const heldMailTransport: MailTransport = {
  async send() {
    throw new MailTransportError(
      'no mail transport: set SMTP_URL (the dev mailbox is only served on a loopback HOST)',
    );
  },
};

export interface DevMail extends MailMessage {
  id: string;
  sentAt: Date;
}

/** The subset of a pino logger the dev mailbox writes to. */
export interface DevMailboxLogger {
  info(obj: object, msg: string): void;
}

export interface DevMailboxOptions {
  logger: DevMailboxLogger;
  /** Log the text body too (default true): how a developer gets the link without the page. */
  logBodies?: boolean;
  /** Mails kept (default 200); older ones are forgotten. */
  limit?: number;
}

/**
 * Development transport: keeps the last 200 mails in memory for `/dev/mail` and logs each one
 * with its text body, which is how a developer gets the link. Only where its page is served
 * (not in production, HOST a loopback address): elsewhere nobody could read what it "sent".
 */
export class DevMailbox implements MailTransport {
  private readonly messages: DevMail[] = [];
  private readonly logger: DevMailboxLogger;
  private readonly logBodies: boolean;
  private readonly limit: number;

  constructor(options: DevMailboxOptions) {
    this.logger = options.logger;
    this.logBodies = options.logBodies ?? true;
    this.limit = Math.max(1, options.limit ?? 200);
  }

  async send(message: MailMessage): Promise<void> {
    const sentAt = new Date();
    const mail: DevMail = { ...message, id: uuidv7(sentAt.getTime()), sentAt };
    this.messages.push(mail);
    if (this.messages.length > this.limit)
      this.messages.splice(0, this.messages.length - this.limit);
    this.logger.info(
      {
        mailId: mail.id,
        to: mail.to,
        subject: mail.subject,
        ...(this.logBodies ? { text: mail.text } : {}),
      },
      `Dev mail to ${mail.to}: ${mail.subject}`,
    );
  }

  /** Newest first. */
  list(): DevMail[] {
    return this.messages.slice().reverse();
  }

  get(id: string): DevMail | undefined {
    return this.messages.find((m) => m.id === id);
  }

  /** Forgets every mail (tests). */
  clear(): void {
    this.messages.length = 0;
  }
}
