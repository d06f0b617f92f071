import { getUser } from '@latchkey/guard/next';
import { latchkey } from '../../../lib/latchkey';

// The middleware already refused requests without a session (401) and cookie POSTs without
// X-CSRF-Token (403); here the user is whoever the credential names.
const notes: { text: string; by: string }[] = [];

export async function GET() {
  const user = await getUser(latchkey);
  return Response.json({ notes: notes.filter((n) => n.by === user?.id) });
}

export async function POST(request: Request) {
  const user = await getUser(latchkey);
  if (!user) return Response.json({ code: 'unauthenticated' }, { status: 401 });
  const body = (await request.json().catch(() => ({}))) as { text?: unknown };
  const text = typeof body.text === 'string' ? body.text.slice(0, 200) : '';
  if (!text) return Response.json({ code: 'validation_failed' }, { status: 400 });
  notes.push({ text, by: user.id });
  return Response.json({ ok: true }, { status: 201 });
}
