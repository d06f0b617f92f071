import { getUser } from '@latchkey/guard/next';
import { latchkey } from '../../../lib/latchkey';

export const dynamic = 'force-dynamic';

// Only users with the admin role get here: the middleware answers 403 to everyone else.
export default async function AdminPage() {
  const user = await getUser(latchkey);
  return (
    <>
      <h1>Admin area</h1>
      <p>
        Signed in as {user?.email} with roles {user?.roles.join(', ')}. Manage users in{' '}
        <a href="/admin">Latchkey’s admin pages</a>.
      </p>
    </>
  );
}
