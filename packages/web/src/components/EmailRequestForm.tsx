import { zodResolver } from '@hookform/resolvers/zod';
import { type ReactNode, useState } from 'react';
import { Link } from 'react-router';
import { type EmailForm, emailForm } from '../forms.js';
import { useApiForm } from '../hooks/useApiForm.js';
import { Button, Field, FormAlert, PageTitle } from './ui.js';

/**
 * A page that asks for an address and mails a link to it (a new confirmation link, a password
 * reset): the server answers the same whether or not the address has an account, and that
 * answer is what the page shows.
 */
export function EmailRequestForm({
  title,
  intro,
  send,
}: {
  title: string;
  intro?: ReactNode;
  send(email: string): Promise<{ message: string }>;
}) {
  const [sent, setSent] = useState<string>();
  const { register, onSubmit, pending, formError, formState } = useApiForm<EmailForm>({
    form: { resolver: zodResolver(emailForm), defaultValues: { email: '' } },
    submit: async ({ email }) => {
      setSent((await send(email)).message);
    },
  });
  return (
    <section className="card">
      <PageTitle>{title}</PageTitle>
      {intro}
      <form onSubmit={onSubmit} noValidate>
        <Field
          label="Email"
          type="email"
          autoComplete="email"
          error={formState.errors.email?.message}
          {...register('email')}
        />
        <FormAlert message={formError} />
        <FormAlert kind="success" message={sent} />
        <Button type="submit" loading={pending} loadingText="Sending…">
          Send the link
        </Button>
      </form>
      <p className="aside">
        <Link to="/login">Back to sign in</Link>
      </p>
    </section>
  );
}
