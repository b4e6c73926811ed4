/**
 * The sign-in form: an API token, checked by the API before it is kept.
 */
import { useState, type FormEvent } from 'react';

/** The form; `onSubmit` gets the trimmed token. */
export function SignIn({ onSubmit }: { onSubmit: (token: string) => void }) {
  const [token, setToken] = useState('');
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (token.trim()) onSubmit(token.trim());
  };
  return (
    <section id="sign-in" className="card narrow" aria-labelledby="sign-in-title">
      <h2 id="sign-in-title">Sign in</h2>
      <form id="sign-in-form" onSubmit={submit}>
        <label>
          API token
          <input
            id="token"
            name="token"
            type="password"
            autoComplete="current-password"
            placeholder="sb_…"
            required
            value={token}
            onChange={(event) => setToken(event.target.value)}
          />
        </label>
        <button type="submit">Sign in</button>
        <p className="hint">
          The admin's token is printed once on the API's first start (or set with{' '}
          <code>ADMIN_TOKEN</code>). Lost it? Run <code>npm run admin-token</code> on the host for a
          new one. It stays in this browser until you sign out.
        </p>
      </form>
    </section>
  );
}
