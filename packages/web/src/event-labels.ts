/**
 * What each audit event type means, in words: one table for the account's activity list and
 * the admin audit table. Every type the server writes has an entry (a test reads the server's
 * sources to keep it so); an unknown one falls back to its name with spaces.
 */
export const EVENT_LABELS: Readonly<Record<string, string>> = {
  register: 'Account created',
  'register.existing_email': 'Sign-up attempted with an address that has an account',
  'verification.resent': 'New confirmation link sent',
  'email.verified': 'Email address confirmed',
  'login.succeeded': 'Signed in',
  'login.failed': 'Failed sign-in attempt',
  'login.throttled': 'Sign-ins slowed down after failed attempts',
  'login.locked': 'Password sign-in locked after too many failed attempts',
  'login.device_throttled': 'Sign-ins on one device slowed down after failed attempts',
  'login.device_locked': 'A device stopped being trusted after failed attempts',
  logout: 'Signed out',
  'session.rotated': 'Session renewed',
  'session.revoked': 'A device was signed out',
  'sessions.revoked_others': 'Other devices were signed out',
  refresh_token_reuse: 'A reused sign-in token was refused',
  'password_reset.requested': 'Password reset requested',
  'password.reset': 'Password reset',
  'password.changed': 'Password changed',
  'email_change.requested': 'Email change requested',
  'email.changed': 'Email address changed',
  'user.updated': 'Profile updated',
  'user.imported': 'Account imported',
  'user.disabled': 'Account disabled',
  'user.enabled': 'Account enabled',
  'user.renamed': 'Name changed by an administrator',
  'user.roles_changed': 'Roles changed',
  'user.deleted': 'Account deleted',
  'role.created': 'Role created',
  'admin.created': 'Administrator created',
  'admin.password_reset': 'Password reset forced by an administrator',
  'admin.sessions_revoked': 'Every device signed out by an administrator',
  'admin.denied': 'Administrative action refused',
  'request.forbidden': 'Request refused',
  'webhook.created': 'Webhook endpoint added',
  'webhook.updated': 'Webhook endpoint changed',
  'webhook.deleted': 'Webhook endpoint removed',
  'webhook.secret_rotated': 'Webhook signing secret rotated',
  'webhook.tested': 'Webhook test event sent',
  'webhook.delivery_retried': 'Webhook delivery retried',
  'webhook.disabled': 'Webhook endpoint disabled after failing for days',
  'mfa.totp_setup_started': 'Authenticator app setup started',
  'mfa.totp_confirm_failed': 'Wrong code while setting up the authenticator app',
  'mfa.totp_enabled': 'Authenticator app added',
  'mfa.totp_disabled': 'Authenticator app removed',
  'mfa.recovery_codes_generated': 'New recovery codes made',
  'mfa.passkey_added': 'Passkey added',
  'mfa.passkey_renamed': 'Passkey renamed',
  'mfa.passkey_removed': 'Passkey removed',
  'mfa.challenge_started': 'Password accepted, second step asked for',
  'mfa.succeeded': 'Second step passed',
  'mfa.failed': 'Wrong second-step code',
  'mfa.throttled': 'Second-step codes slowed down after wrong attempts',
  'passkey_login.failed': 'Failed passkey sign-in',
  reauthenticated: 'Identity confirmed again',
  'reauthentication.failed': 'Failed attempt to confirm identity again',
  'admin.mfa_removed': 'Second factors removed by an administrator',
};

export const eventLabel = (type: string): string =>
  EVENT_LABELS[type] ?? type.replace(/[._]/g, ' ');

/**
 * An event's data in one short line ("from: user → to: user, admin"); long values are cut,
 * since the full record is one API call away.
 */
export function compactData(data: Record<string, unknown>, max = 120): string {
  const parts = Object.entries(data).map(([key, value]) => `${key}: ${compactValue(value)}`);
  const text = parts.join(' · ');
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

function compactValue(value: unknown): string {
  if (value === null || value === undefined) return '—';
  if (Array.isArray(value)) return value.length ? value.map(compactValue).join(', ') : '(none)';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}
