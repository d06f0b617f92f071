import { useApp } from '../app-context.js';
import { EmailRequestForm } from '../components/EmailRequestForm.js';

export function ForgotPasswordPage() {
  const { api } = useApp();
  return (
    <EmailRequestForm
      title="Forgot your password?"
      intro={<p>Enter your email address and we will send you a link to choose a new password.</p>}
      send={(email) => api.forgotPassword({ email })}
    />
  );
}
