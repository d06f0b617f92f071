import { Link } from 'react-router';
import { PageTitle } from '../components/ui.js';

/** Any address that matches no page (the server answers these with a 404 and this page). */
export function NotFoundPage() {
  return (
    <section className="card">
      <PageTitle>Page not found</PageTitle>
      <p>There is no page at this address. Check the link, or start again.</p>
      <Link to="/">Go to the start page</Link>
    </section>
  );
}
