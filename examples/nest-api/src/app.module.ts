import { Module } from '@nestjs/common';
import { LatchkeyModule } from '@latchkey/guard/nest';
import { ApiController } from './api.controller.js';

const port = Number(process.env.PORT ?? 4003);

@Module({
  imports: [
    LatchkeyModule.forRoot({
      // Latchkey's PUBLIC_URL: this API's own address when Latchkey shares its origin.
      issuer: process.env.APP_URL ?? `http://localhost:${port}`,
      serviceUrl: process.env.LATCHKEY_URL ?? 'http://localhost:3000',
      rolePermissions: { analyst: ['reports:read'] }, // `admin` has every permission
    }),
  ],
  controllers: [ApiController],
})
export class AppModule {}
