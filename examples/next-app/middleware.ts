import { protect } from '@latchkey/guard/next';
import { latchkey } from './lib/latchkey';

// The first matching entry applies: the admin page before the rest of the dashboard.
export default protect(
  [{ path: '/dashboard/admin/:path*', roles: ['admin'] }, '/dashboard/:path*', '/api/notes'],
  { ...latchkey, loginPath: '/login' },
);

export const config = {
  // Every path but Next.js's own files, so a client cannot send x-latchkey-* headers anywhere.
  matcher: ['/((?!_next/static|_next/image|favicon.ico).*)'],
  runtime: 'nodejs',
};
