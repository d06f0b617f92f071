// Latchkey's pages and API on this app's origin: the session cookie (host-only, `__Host-` on
// https) reaches both, and sign-in needs no CORS. Latchkey runs with PUBLIC_URL set to this
// app's address. Rewrites are fixed at build time: build with the LATCHKEY_URL you run.
const latchkey = process.env.LATCHKEY_URL ?? 'http://localhost:3000';

const LATCHKEY_PATHS = [
  '/auth/:path*', // the API
  '/.well-known/jwks.json',
  '/login',
  '/two-step',
  '/register',
  '/check-email',
  '/verify-email',
  '/resend-verification',
  '/forgot-password',
  '/reset-password',
  '/account',
  '/admin', // Latchkey's user administration (this app's own admin page is /dashboard/admin)
  '/admin/:path*',
  '/assets/:path*', // the pages' scripts and styles
  '/config.json',
  '/common-passwords.txt',
];

/** @type {import('next').NextConfig} */
const nextConfig = {
  // This app is its own project (own lockfile), not part of the repository's workspace.
  outputFileTracingRoot: import.meta.dirname,
  // The repository's own lint (npm run lint) checks this app.
  eslint: { ignoreDuringBuilds: true },
  async rewrites() {
    return LATCHKEY_PATHS.map((source) => ({ source, destination: `${latchkey}${source}` }));
  },
};

export default nextConfig;
