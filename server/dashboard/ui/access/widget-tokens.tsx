/**
 * The Access page's "Status widget" section: the signed-in user's read-only widget tokens
 * (`sbw_…`). A new one is shown once, with an iframe snippet for the embeddable page and a curl
 * line for its JSON endpoint; listed ones can be revoked.
 */
import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { api, ApiError, messageOf } from '../api.js';
import { useNotice } from '../notice.js';
import { TokenRow } from './token-row.js';
import type { ApiToken } from '../types.js';

/** A widget token as `GET /api/widget-tokens` lists it: the same fields as an API token. */
type WidgetToken = ApiToken;

/** The HTML to paste into a page that shows the widget. */
export function iframeSnippet(origin: string, token: string): string {
  return (
    `<iframe src="${origin}/widget/status#token=${token}" title="Switchboard status" ` +
    `width="100%" height="260" style="border:0" referrerpolicy="no-referrer"></iframe>`
  );
}

/** The command line that reads the widget's JSON (exit status 22 when it answers 503: down). */
export function curlLine(origin: string, token: string): string {
  return `curl -fsS -H 'Authorization: Bearer ${token}' ${origin}/api/widget/status`;
}

function Snippet({ id, label, text }: { id: string; label: string; text: string }) {
  return (
    <div className="snippet">
      <label htmlFor={id}>{label}</label>
      <textarea id={id} readOnly rows={4} value={text} onFocus={(e) => e.target.select()} />
    </div>
  );
}

/** The section. */
export function WidgetTokens() {
  const say = useNotice();
  const [tokens, setTokens] = useState<WidgetToken[]>([]);
  const [label, setLabel] = useState('');
  const [created, setCreated] = useState<{ label: string; token: string } | null>(null);
  const load = useCallback(async () => {
    try {
      setTokens(await api<WidgetToken[]>('GET', '/api/widget-tokens'));
    } catch (error) {
      if (!(error instanceof ApiError && error.status === 401)) say(messageOf(error), 'error');
    }
  }, [say]);
  useEffect(() => void load(), [load]);

  const create = async (event: FormEvent) => {
    event.preventDefault();
    try {
      const answer = await api<{ label: string; token: string }>('POST', '/api/widget-tokens', {
        label: label.trim(),
      });
      setLabel('');
      setCreated(answer);
      await load();
    } catch (error) {
      say(messageOf(error), 'error');
    }
  };

  const revoke = async (token: WidgetToken) => {
    const name = token.label || `widget token ${token.id}`;
    if (!confirm(`Revoke ${name}? Widgets using it stop updating.`)) return;
    try {
      await api('DELETE', `/api/widget-tokens/${token.id}`);
      say(`${name} is revoked.`);
      await load();
    } catch (error) {
      if (!(error instanceof ApiError && error.status === 401)) say(messageOf(error), 'error');
    }
  };

  const origin = location.origin;
  return (
    <section id="widget-tokens" className="card" aria-labelledby="widget-tokens-title">
      <h2 id="widget-tokens-title">Status widget</h2>
      <p className="hint">
        A widget token only reads your status: the embeddable page <code>/widget/status</code> and{' '}
        <code>GET /api/widget/status</code> (503 when down, for uptime monitors). It opens nothing
        else. A new token is shown once.
      </p>
      <form id="widget-token-form" className="row-form" onSubmit={create}>
        <label>
          Label
          <input
            name="label"
            maxLength={100}
            placeholder="office wall"
            value={label}
            onChange={(event) => setLabel(event.target.value)}
          />
        </label>
        <button type="submit">Create widget token</button>
      </form>
      {created ? (
        <div id="new-widget-token" className="once" role="status">
          <p>
            New widget token{created.label ? ` "${created.label}"` : ''}. It is shown only now: copy
            it somewhere safe. <code className="secret">{created.token}</code>
          </p>
          <Snippet
            id="widget-iframe"
            label="Embed it (the token stays in the fragment, never sent to the server)"
            text={iframeSnippet(origin, created.token)}
          />
          <Snippet id="widget-curl" label="Poll the JSON" text={curlLine(origin, created.token)} />
        </div>
      ) : null}
      <ul id="widget-token-list" className="rows">
        {tokens.map((token) => (
          <TokenRow
            key={token.id}
            token={token}
            idAttribute="data-widget-token-id"
            onRevoke={(chosen) => void revoke(chosen)}
          />
        ))}
      </ul>
    </section>
  );
}
