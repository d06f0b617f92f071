import { describe, expect, it } from 'vitest';
import { resetPasswordMail } from '../../src/core/account-mails.js';
import { durationText, verifyEmailMail } from '../../src/core/mail-templates.js';

const ctx = { serviceName: 'Latchkey', publicUrl: new URL('https://auth.example.com') };

describe('mail templates', () => {
  it('say how long a link lives in words a person reads, never "0 hours"', () => {
    expect(durationText(30)).toBe('1 minute');
    expect(durationText(30 * 60)).toBe('30 minutes');
    expect(durationText(119 * 60)).toBe('119 minutes');
    expect(durationText(2 * 3600)).toBe('2 hours');
    expect(durationText(24 * 3600)).toBe('24 hours');
  });

  it('tell the real lifetime of a verification link shorter than an hour', () => {
    const mail = verifyEmailMail(ctx, 'ada@example.com', 'token', 30 * 60);
    expect(mail.text).toContain('expires in 30 minutes');
    expect(mail.text).not.toContain('0 hours');
    expect(verifyEmailMail(ctx, 'ada@example.com', 'token', 86_400).text).toContain(
      'expires in 24 hours',
    );
    expect(resetPasswordMail(ctx, 'ada@example.com', 'token', 1800).text).toContain(
      'expires in 30 minutes',
    );
  });
});
