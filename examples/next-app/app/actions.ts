'use server';

import { cookies, headers } from 'next/headers';
import { redirect } from 'next/navigation';
import { revalidatePath } from 'next/cache';
import { getUser } from '@latchkey/guard/next';
import { latchkey } from '../lib/latchkey';

const SESSION_COOKIES = ['__Host-latchkey_session', 'latchkey_session'];

/** Calls this app's protected API route as the signed-in user (cookie + CSRF token). */
export async function addNote(form: FormData) {
  const user = await getUser(latchkey);
  if (!user) redirect('/login?next=/dashboard');
  const h = await headers();
  const origin = `${h.get('x-forwarded-proto') ?? 'http'}://${h.get('host')}`;
  const res = await fetch(`${origin}/api/notes`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      cookie: h.get('cookie') ?? '',
      'x-csrf-token': user.csrfToken ?? '',
    },
    body: JSON.stringify({ text: String(form.get('text') ?? '') }),
  });
  if (!res.ok) throw new Error(`POST /api/notes answered ${res.status}`);
  revalidatePath('/dashboard');
}

/** Ends the session at Latchkey and drops the cookie. */
export async function signOut() {
  const user = await getUser(latchkey);
  const h = await headers();
  if (user?.csrfToken) {
    await fetch(`${latchkey.serviceUrl}/auth/logout`, {
      method: 'POST',
      headers: { cookie: h.get('cookie') ?? '', 'x-csrf-token': user.csrfToken },
    });
  }
  const jar = await cookies();
  for (const name of SESSION_COOKIES) if (jar.has(name)) jar.delete(name);
  redirect('/');
}
