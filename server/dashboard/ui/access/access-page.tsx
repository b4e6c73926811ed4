/**
 * The Access page: the signed-in user's API tokens (create, shown once; revoke), their status
 * widget tokens (`widget-tokens.tsx`) and, for admins, the users (create, with their first token
 * shown once).
 */
import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { api, ApiError, messageOf } from '../api.js';
import { scopeWords, when } from '../format.js';
import { useNotice } from '../notice.js';
import { TokenRow } from './token-row.js';
import type { ApiToken, User } from '../types.js';
import { WidgetTokens } from './widget-tokens.js';

/** A secret the API returns once, with a line saying so. */
export function ShownOnce({ id, intro, secret }: { id: string; intro: string; secret: string }) {
  return (
    <p id={id} className="once" role="status">
      {intro} It is shown only now: copy it somewhere safe. <code className="secret">{secret}</code>
    </p>
  );
}

function Tokens() {
  const say = useNotice();
  const [tokens, setTokens] = useState<ApiToken[]>([]);
  const [label, setLabel] = useState('');
  const [access, setAccess] = useState<'full' | 'gateway'>('full');
  const [created, setCreated] = useState<{
    label: string | null;
    token: string;
    scopes: string[] | null;
  } | null>(null);
  const load = useCallback(async () => {
    try {
      setTokens(await api<ApiToken[]>('GET', '/api/tokens'));
    } catch (error) {
      if (!(error instanceof ApiError && error.status === 401)) say(messageOf(error), 'error');
    }
  }, [say]);
  useEffect(() => void load(), [load]);

  const create = async (event: FormEvent) => {
    event.preventDefault();
    try {
      const answer = await api<{ label: string | null; token: string; scopes: string[] | null }>(
        'POST',
        '/api/tokens',
        { label: label.trim(), ...(access === 'gateway' ? { scopes: ['gateway'] } : {}) },
      );
      setLabel('');
      setAccess('full');
      setCreated(answer);
      await load();
    } catch (error) {
      say(messageOf(error), 'error');
    }
  };

  const revoke = async (token: ApiToken) => {
    const name = token.label || `token ${token.id}`;
    if (!confirm(`Revoke ${name}? Anything using it is refused from now on.`)) return;
    try {
      await api('DELETE', `/api/tokens/${token.id}`);
      say(`${name} is revoked.`);
      await load();
    } catch (error) {
      if (!(error instanceof ApiError && error.status === 401)) say(messageOf(error), 'error');
    }
  };

  return (
    <section id="tokens" className="card" aria-labelledby="tokens-title">
      <h2 id="tokens-title">API tokens</h2>
      <p className="hint">
        Your tokens for the API, this dashboard and scripts. A new token is shown once; revoking one
        signs out everything that uses it. An MCP-gateway-only token lets MCP clients (Claude
        Desktop, editors) use your servers at <code>/mcp</code>, and opens nothing else.
      </p>
      <form id="token-form" className="row-form" onSubmit={create}>
        <label>
          Label
          <input
            name="label"
            maxLength={100}
            placeholder="laptop"
            value={label}
            onChange={(event) => setLabel(event.target.value)}
          />
        </label>
        <label>
          Access
          <select
            name="access"
            value={access}
            onChange={(event) => setAccess(event.target.value === 'gateway' ? 'gateway' : 'full')}
          >
            <option value="full">Full API access</option>
            <option value="gateway">MCP gateway only</option>
          </select>
        </label>
        <button type="submit">Create token</button>
      </form>
      {created ? (
        <ShownOnce
          id="new-token"
          intro={`New token${created.label ? ` "${created.label}"` : ''} (${scopeWords(created.scopes)}):`}
          secret={created.token}
        />
      ) : null}
      <ul id="token-list" className="rows">
        {tokens.map((token) => (
          <TokenRow
            key={token.id}
            token={token}
            idAttribute="data-token-id"
            onRevoke={(chosen) => void revoke(chosen)}
          />
        ))}
      </ul>
    </section>
  );
}

function Users({ users, onChanged }: { users: User[]; onChanged: () => Promise<void> }) {
  const [form, setForm] = useState({ name: '', email: '', role: 'user' });
  const [errors, setErrors] = useState<string[]>([]);
  const [created, setCreated] = useState<{ name: string; token: string } | null>(null);
  const create = async (event: FormEvent) => {
    event.preventDefault();
    setErrors([]);
    try {
      const answer = await api<{ user: User; token: string }>('POST', '/api/users', {
        name: form.name.trim(),
        email: form.email.trim(),
        role: form.role,
      });
      setForm({ name: '', email: '', role: 'user' });
      setCreated({ name: answer.user.name, token: answer.token });
      await onChanged();
    } catch (error) {
      setErrors(error instanceof ApiError ? error.lines() : [messageOf(error)]);
    }
  };
  const set = (name: keyof typeof form) => (event: { target: { value: string } }) =>
    setForm((now) => ({ ...now, [name]: event.target.value }));
  return (
    <section id="users" className="card" aria-labelledby="users-title">
      <h2 id="users-title">Users</h2>
      <form id="user-form" className="row-form" onSubmit={create}>
        <label>
          Name
          <input name="name" required maxLength={200} value={form.name} onChange={set('name')} />
        </label>
        <label>
          Email
          <input
            name="email"
            type="email"
            required
            maxLength={320}
            value={form.email}
            onChange={set('email')}
          />
        </label>
        <label>
          Role
          <select name="role" value={form.role} onChange={set('role')}>
            <option value="user">user</option>
            <option value="admin">admin</option>
          </select>
        </label>
        <button type="submit">Create user</button>
      </form>
      {errors.length > 0 ? (
        <p id="user-errors" className="errors" role="alert">
          {errors.map((line) => (
            <span key={line}>{line}</span>
          ))}
        </p>
      ) : null}
      {created ? (
        <ShownOnce
          id="new-user-token"
          intro={`${created.name} is created. Their API token:`}
          secret={created.token}
        />
      ) : null}
      <ul id="user-list" className="rows">
        {users.map((user) => (
          <li key={user.id} data-user-id={user.id}>
            <div>
              <strong>{user.name}</strong> <span className="hint">{user.email}</span>
            </div>
            <span className="hint">
              {user.role} · created {when(user.createdAt)}
            </span>
          </li>
        ))}
      </ul>
    </section>
  );
}

/**
 * The page.
 *
 * @param users every user, for an admin; null for anyone else (no user section).
 * @param onUsersChanged reads the users again.
 */
export function AccessPage({
  users,
  onUsersChanged,
}: {
  users: User[] | null;
  onUsersChanged: () => Promise<void>;
}) {
  return (
    <div id="access" className="stack">
      <Tokens />
      <WidgetTokens />
      {users ? <Users users={users} onChanged={onUsersChanged} /> : null}
    </div>
  );
}
