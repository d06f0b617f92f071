import { useApp } from '../app-context.js';
import { EmailRequestForm } from '../components/EmailRequestForm.js';

export function ResendVerificationPage() {
  const { api } = useApp();
  return (
    <EmailRequestForm
      title="Send a new confirmation link"
      send={(email) => api.resendVerification({ email })}
    />
  );
}
