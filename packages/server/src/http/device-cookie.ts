import type { FastifyReply, FastifyRequest } from 'fastify';
import { DEVICE_COOKIE_MAX_AGE_SECONDS } from '../core/device-cookies.js';

/** The browser side of core/device-cookies.ts: the cookie's name, attributes and reading. */
export interface DeviceCookieJar {
  name: string;
  read(request: FastifyRequest): string | undefined;
  set(reply: FastifyReply, token: string): void;
}

/**
 * Like the session cookie: HttpOnly, SameSite=Lax, Path=/, and `Secure` with the `__Host-`
 * prefix behind https. It lives a year, so a browser stays known between sign-ins.
 */
export function deviceCookieJar(o: {
  secure: boolean;
  parseCookie: (header: string) => Record<string, string | undefined>;
}): DeviceCookieJar {
  const name = o.secure ? '__Host-latchkey_device' : 'latchkey_device';
  return {
    name,
    read(request) {
      const header = request.headers.cookie;
      return header === undefined ? undefined : o.parseCookie(header)[name];
    },
    set(reply, token) {
      void reply.setCookie(name, token, {
        path: '/',
        httpOnly: true,
        sameSite: 'lax',
        secure: o.secure,
        maxAge: DEVICE_COOKIE_MAX_AGE_SECONDS,
      });
    },
  };
}
