import { setUserRoles } from '../../src/store/rbac.js';
import { type Device, login, verifiedUser } from './account.js';
import type { TestApp } from './app.js';

/** A verified user with the given roles, signed in. */
export async function userWithRoles(t: TestApp, tag: string, roles: string[]) {
  const { email, id } = await verifiedUser(t, tag);
  await setUserRoles(t.database.db, id, roles, new Date());
  const device: Device = await login(t, email);
  return { email, id, device };
}
