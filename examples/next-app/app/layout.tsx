import type { ReactNode } from 'react';
import Link from 'next/link';
import { getUser } from '@latchkey/guard/next';
import { latchkey } from '../lib/latchkey';
import { signOut } from './actions';

export const metadata = { title: 'Latchkey × Next.js' };

export default async function RootLayout({ children }: { children: ReactNode }) {
  const user = await getUser(latchkey);
  return (
    <html lang="en">
      <body style={{ fontFamily: 'system-ui', maxWidth: 720, margin: '2rem auto' }}>
        <nav style={{ display: 'flex', gap: '1rem', alignItems: 'center' }}>
          <Link href="/">Home</Link>
          <Link href="/dashboard">Dashboard</Link>
          <Link href="/dashboard/admin">Admin</Link>
          {user ? (
            <form action={signOut} style={{ marginLeft: 'auto' }}>
              <span>{user.name ?? user.email} </span>
              <button type="submit">Sign out</button>
            </form>
          ) : (
            // Latchkey's own sign-in page, on this origin through the rewrites.
            <a href="/login?next=/dashboard" style={{ marginLeft: 'auto' }}>
              Sign in
            </a>
          )}
        </nav>
        <main>{children}</main>
      </body>
    </html>
  );
}
