// NestJS is an optional peer: only apps that import `@latchkey/guard/nest` load it. No decorator
// syntax here (Nest's decorators are applied as functions), so the package needs no
// `experimentalDecorators` build; apps use them as decorators as usual.
import {
  type ArgumentsHost,
  type CanActivate,
  Catch,
  createParamDecorator,
  type DynamicModule,
  type ExceptionFilter,
  type ExecutionContext,
  HttpException,
  Inject,
  Injectable,
  Module,
  SetMetadata,
} from '@nestjs/common';
import { APP_FILTER, Reflector } from '@nestjs/core';
import { nodeHeaders, type Refused, refusalFor, rulesFor } from './adapter.js';
import { type AuthResult, Latchkey, type LatchkeyOptions, type LatchkeyUser } from './core.js';

export type { LatchkeyOptions, LatchkeyUser } from './core.js';
export { Latchkey, hasPermission, hasRole, hasSecondFactor } from './core.js';

const ROLES = 'latchkey:roles';
const PERMISSIONS = 'latchkey:permissions';
const MFA = 'latchkey:mfa';
const PUBLIC = 'latchkey:public';

/** Any one of these roles (on a handler or its controller; the handler's own list wins). */
export const Roles = (...roles: string[]) => SetMetadata(ROLES, roles);
/** Every one of these permissions (`admin` has all; others from `rolePermissions`). */
export const Permissions = (...permissions: string[]) => SetMetadata(PERMISSIONS, permissions);
/** A sign-in with a second factor (`hasSecondFactor`). */
export const RequireMfa = () => SetMetadata(MFA, true);
/** Open to everyone when `LatchkeyGuard` guards the whole app (APP_GUARD); `@CurrentUser()` may be null. */
export const Public = () => SetMetadata(PUBLIC, true);

interface GuardedRequest {
  method: string;
  headers: Record<string, string | string[] | undefined>;
  user?: LatchkeyUser | null;
  latchkey?: AuthResult;
}

/** The signed-in user of the request (null on a `@Public()` route without one). */
export const CurrentUser = createParamDecorator(
  (_data: unknown, context: ExecutionContext): LatchkeyUser | null =>
    context.switchToHttp().getRequest<GuardedRequest>().user ?? null,
);

/** The guard's refusal, answered as problem+json with its headers by `LatchkeyExceptionFilter`. */
export class LatchkeyException extends HttpException {
  constructor(readonly refused: Refused) {
    super(refused.body, refused.status);
  }
}

/**
 * `@UseGuards(LatchkeyGuard)` on a controller or handler (or APP_GUARD for the whole app):
 * 401 without a signed-in user, 403 without the `@Roles()`, `@Permissions()` or
 * `@RequireMfa()` it declares, 403 `csrf_failed` on a cookie request that changes state without
 * `X-CSRF-Token`, 503 when Latchkey cannot be reached. Sets `request.user`.
 */
export class LatchkeyGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly latchkey: Latchkey,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<GuardedRequest>();
    const result = await this.latchkey.verifyRequest({
      method: request.method,
      headers: nodeHeaders(request.headers),
    });
    request.latchkey = result;
    request.user = result.kind === 'user' ? result.user : null;
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC, targets)) return true;
    const needs = rulesFor({
      roles: this.reflector.getAllAndOverride<string[] | undefined>(ROLES, targets) ?? [],
      permissions:
        this.reflector.getAllAndOverride<string[] | undefined>(PERMISSIONS, targets) ?? [],
      mfa: this.reflector.getAllAndOverride<boolean | undefined>(MFA, targets) ?? false,
    });
    const refused = refusalFor(result, needs, () => this.latchkey.options.rolePermissions);
    if (refused) throw new LatchkeyException(refused);
    return true;
  }
}
Injectable()(LatchkeyGuard);
Inject(Reflector)(LatchkeyGuard, undefined, 0);
Inject(Latchkey)(LatchkeyGuard, undefined, 1);

/** Express or Fastify underneath Nest: both answer with status, headers and a body. */
interface HttpReply {
  status(code: number): HttpReply;
  header(name: string, value: string): HttpReply;
  send(body: string): unknown;
}

export class LatchkeyExceptionFilter implements ExceptionFilter<LatchkeyException> {
  catch(exception: LatchkeyException, host: ArgumentsHost) {
    const reply = host.switchToHttp().getResponse<HttpReply>();
    const { status, headers, body } = exception.refused;
    reply.status(status);
    for (const [name, value] of Object.entries(headers)) reply.header(name, value);
    reply.header('content-type', 'application/problem+json');
    reply.send(JSON.stringify(body));
  }
}
Catch(LatchkeyException)(LatchkeyExceptionFilter);

/** `imports: [LatchkeyModule.forRoot({ issuer, audience })]`: the guard, available app-wide. */
export class LatchkeyModule {
  static forRoot(options: LatchkeyOptions): DynamicModule {
    return {
      module: LatchkeyModule,
      global: true,
      providers: [
        { provide: Latchkey, useValue: new Latchkey(options) },
        LatchkeyGuard,
        { provide: APP_FILTER, useClass: LatchkeyExceptionFilter },
      ],
      exports: [Latchkey, LatchkeyGuard],
    };
  }
}
Module({})(LatchkeyModule);
