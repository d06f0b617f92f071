import { type FormEvent, useCallback, useState } from 'react';
import {
  type FieldValues,
  type Path,
  useForm,
  type UseFormProps,
  type UseFormReturn,
} from 'react-hook-form';
import { describeError, fieldErrors, LatchkeyError } from '../api.js';
import { useApp } from '../app-context.js';
import { useToast } from '../components/toast.js';

export interface ApiFormOptions<T extends FieldValues> {
  /** react-hook-form's options: the resolver (a zod form schema) and the default values. */
  form: UseFormProps<T>;
  /** Sends the valid values. Returning `false` means "stopped before sending" (no toast). */
  submit(values: T, form: UseFormReturn<T>): Promise<void | false>;
  /** A toast after a successful submit. */
  success?: string | ((values: T) => string);
  /**
   * A failed call's special cases, before the usual handling: `true` when handled, a string to
   * show as the form's message, or nothing to fall through.
   */
  handleError?(error: unknown, values: T, form: UseFormReturn<T>): boolean | string | undefined;
  /** On a signed-in page a 401 means the session ended: back to sign-in. */
  signedIn?: boolean;
}

export type ApiForm<T extends FieldValues> = UseFormReturn<T> & {
  onSubmit(event?: FormEvent): Promise<void>;
  pending: boolean;
  /** The message about the whole form (not one field), shown in a FormAlert. */
  formError: string | undefined;
  setFormError(message: string | undefined): void;
  /** Puts `message` on `field` and focuses it. */
  fieldError(field: Path<T>, message: string): void;
};

/**
 * A form that talks to the API: the pending state, the server's field messages (400
 * validation_failed / weak_password) on their fields with the first one focused, one message
 * for the rest, a 401 on a signed-in page back to sign-in, and a toast on success.
 */
export function useApiForm<T extends FieldValues>(options: ApiFormOptions<T>): ApiForm<T> {
  const form = useForm<T>(options.form);
  const { setUser } = useApp();
  const toast = useToast();
  const [formError, setFormError] = useState<string>();
  const { setError } = form;
  const fieldError = useCallback(
    (field: Path<T>, message: string) => setError(field, { message }, { shouldFocus: true }),
    [setError],
  );

  const onSubmit = form.handleSubmit(async (values) => {
    setFormError(undefined);
    try {
      if ((await options.submit(values, form)) === false) return;
      const { success } = options;
      if (success) toast(typeof success === 'function' ? success(values) : success);
    } catch (error) {
      const special = options.handleError?.(error, values, form);
      if (special === true) return;
      if (typeof special === 'string') {
        setFormError(special);
        return;
      }
      if (options.signedIn && error instanceof LatchkeyError && error.status === 401) {
        setUser(null);
        return;
      }
      const known = Object.keys(options.form.defaultValues ?? {});
      const fields = Object.entries(fieldErrors(error)).filter(([name]) => known.includes(name));
      fields.forEach(([name, message], i) =>
        setError(name as Path<T>, { message }, { shouldFocus: i === 0 }),
      );
      if (fields.length === 0) setFormError(describeError(error));
    }
  });

  return {
    ...form,
    onSubmit,
    pending: form.formState.isSubmitting,
    formError,
    setFormError,
    fieldError,
  };
}
