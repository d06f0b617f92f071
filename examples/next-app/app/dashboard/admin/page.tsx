import { notFound } from 'next/navigation';
import { getUser } from '@latchkey/guard/next';
import { latchkey } from '../../../lib/latchkey';

export const dynamic = 'force-dynamic';

// Only users with the admin role get here: the middleware answers 403 to everyone else.
export default async function AdminPage() {
  const user = await getUser(latchkey);
  // A second check here, in case the middleware's matcher ever misses this page.
  if (!user?.roles.includes('admin')) notFound();
  return (
    <>
      <h1>Admin area</h1>
      <p>
        Signed in as {user.email} with roles {user.roles.join(', ')}. Manage users in{' '}
        <a href="/admin">Latchkey’s admin pages</a>.
      </p>
    </>
  );
}
