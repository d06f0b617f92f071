import { headers } from 'next/headers';
import { getUser } from '@latchkey/guard/next';
import { latchkey } from '../../lib/latchkey';
import { addNote } from '../actions';

export const dynamic = 'force-dynamic';

export default async function Dashboard() {
  // The middleware passed the id on; getUser() gives the whole user (name, email, roles).
  const id = (await headers()).get('x-latchkey-user-id');
  const user = await getUser(latchkey);
  const h = await headers();
  const origin = `${h.get('x-forwarded-proto') ?? 'http'}://${h.get('host')}`;
  const res = await fetch(`${origin}/api/notes`, { headers: { cookie: h.get('cookie') ?? '' } });
  const { notes } = (await res.json()) as { notes: { text: string }[] };
  return (
    <>
      <h1>Dashboard</h1>
      <p>
        Hello, <strong>{user?.name ?? user?.email}</strong> (user {id})
      </p>
      <form action={addNote}>
        <input name="text" aria-label="Note" required maxLength={200} />
        <button type="submit">Add note</button>
      </form>
      <ul>
        {notes.map((note, i) => (
          <li key={i}>{note.text}</li>
        ))}
      </ul>
    </>
  );
}
