import { Controller, Get, UseGuards } from '@nestjs/common';
import {
  CurrentUser,
  LatchkeyGuard,
  type LatchkeyUser,
  Permissions,
  Public,
  Roles,
} from '@latchkey/guard/nest';

// Every route needs a signed-in user (401), plus what its decorators ask for (403).
@Controller('api')
@UseGuards(LatchkeyGuard)
export class ApiController {
  @Get('health')
  @Public()
  health() {
    return { ok: true };
  }

  @Get('profile')
  profile(@CurrentUser() user: LatchkeyUser) {
    return { id: user.id, email: user.email, name: user.name, roles: user.roles };
  }

  @Get('admin/stats')
  @Roles('admin')
  stats() {
    return { users: 42 };
  }

  @Get('reports')
  @Permissions('reports:read')
  reports() {
    return { reports: [] };
  }
}
