import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { createProxyMiddleware } from 'http-proxy-middleware';
import { AppModule } from './app.module.js';

const port = Number(process.env.PORT ?? 4003);
const app = await NestFactory.create(AppModule, { logger: ['warn', 'error'] });
// Latchkey's pages and API on this origin, so a browser signs in here and the session cookie
// reaches the API (a reverse proxy such as Caddy or nginx does the same in production).
app.use(
  createProxyMiddleware({
    target: process.env.LATCHKEY_URL ?? 'http://localhost:3000',
    pathFilter: [
      '/auth',
      '/.well-known',
      '/login',
      '/two-step',
      '/register',
      '/check-email',
      '/verify-email',
      '/resend-verification',
      '/forgot-password',
      '/reset-password',
      '/account',
      '/assets',
      '/config.json',
      '/common-passwords.txt',
    ],
    xfwd: true,
  }),
);
await app.listen(port, '127.0.0.1');
console.log(`example API on ${process.env.APP_URL ?? `http://localhost:${port}`}`);
