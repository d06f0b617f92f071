import { Link, useLocation } from 'react-router';
import { Email } from '../components/Email.js';
import { ResendButton } from '../components/ResendButton.js';
import { PageTitle } from '../components/ui.js';

export function CheckEmailPage() {
  const location = useLocation();
  const email = (location.state as { email?: string } | null)?.email;
  return (
    <section className="card">
      <PageTitle>Check your mail</PageTitle>
      <p>
        We sent a confirmation link to{' '}
        {email ? (
          <strong>
            <Email address={email} />
          </strong>
        ) : (
          'your address'
        )}
        . Open it to finish creating your account; the mail says how long its link works.
      </p>
      <p className="hint">
        Nothing after a few minutes? Look in your spam folder, or ask for a new link.
      </p>
      {email ? (
        <ResendButton email={email} />
      ) : (
        <Link to="/resend-verification">Send a new link</Link>
      )}
      <p className="aside">
        <Link to="/login">Back to sign in</Link>
      </p>
    </section>
  );
}
