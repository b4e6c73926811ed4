/**
 * The form that adds or edits a server, for every transport and authentication. It offers only
 * what the person may add: stdio (a command on the API's machine) is for admins. Secrets are
 * never shown: an edit leaves out every secret field left empty, so the API keeps the stored
 * value (PUT keeps omitted secrets). What the API refuses is listed and each field marked.
 */
import { useState, type FormEvent, type ReactNode } from 'react';
import { api, ApiError, messageOf, serversPath } from '../api.js';
import type { MaskedSecret, Server } from '../types.js';

type Values = Record<string, string>;
type Checks = Record<string, boolean>;

const FIELD_OF_PATH: Record<string, string> = {
  'auth.clientId': 'clientId',
  'auth.clientSecret': 'clientSecret',
  'auth.tokenUrl': 'tokenUrl',
  'auth.scopes': 'scopes',
  'auth.privateKey': 'privateKey',
  'auth.algorithm': 'algorithm',
  'auth.tokenEndpointAuthMethod': 'oauthMethod',
  'toolFilter.allow': 'allow',
  'toolFilter.deny': 'deny',
  'toolPolicy.confirm': 'confirm',
  'toolPolicy.longRunning': 'longRunning',
};

const ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
];

/** A line the form cannot read, refused before anything is sent. */
class FormLineError extends Error {}

function list(value: string): string[] {
  return value
    .split(/[,\n]/)
    .map((item) => item.trim())
    .filter(Boolean);
}

function pairs(value: string, separator: string, what: string): Record<string, string> {
  const result: Record<string, string> = {};
  for (const line of value.split('\n')) {
    if (!line.trim()) continue;
    const at = line.indexOf(separator);
    if (at <= 0) {
      throw new FormLineError(`${what}: "${line.trim()}" needs the form NAME${separator}value`);
    }
    result[line.slice(0, at).trim()] = line.slice(at + 1).trim();
  }
  return result;
}

function masked(secret: MaskedSecret): string {
  return secret.last4 ? `…${secret.last4}` : 'set';
}

function initialValues(server: Server | null, isAdmin: boolean): Values {
  if (!server) {
    return {
      name: '',
      description: '',
      transport: isAdmin ? 'stdio' : 'streamable-http',
      timeoutMs: '30000',
      command: '',
      args: '',
      env: '',
      cwd: '',
      url: '',
      headers: '',
      apiKey: '',
      authType: 'none',
      clientId: '',
      tokenUrl: '',
      scopes: '',
      clientSecret: '',
      tokenEndpointAuthMethod: 'client_secret_basic',
      oauthMethod: '',
      privateKey: '',
      algorithm: 'RS256',
      allow: '',
      deny: '',
      confirm: '',
      longRunning: '',
    };
  }
  const auth = server.auth ?? { type: 'none' };
  const longRunning = server.toolPolicy?.longRunning;
  return {
    name: server.name,
    description: server.description ?? '',
    transport: server.transport,
    timeoutMs: String(server.timeoutMs ?? ''),
    command: server.command ?? '',
    args: (server.args ?? []).join('\n'),
    env: '',
    cwd: server.cwd ?? '',
    url: server.url ?? '',
    headers: '',
    apiKey: '',
    authType: auth.type,
    clientId: auth.clientId ?? '',
    tokenUrl: auth.tokenUrl ?? '',
    scopes: (auth.scopes ?? []).join(' '),
    clientSecret: '',
    tokenEndpointAuthMethod: auth.tokenEndpointAuthMethod ?? 'client_secret_basic',
    oauthMethod: auth.type === 'oauth' ? (auth.tokenEndpointAuthMethod ?? '') : '',
    privateKey: '',
    algorithm: auth.algorithm ?? 'RS256',
    allow: (server.toolFilter?.allow ?? []).join(', '),
    deny: (server.toolFilter?.deny ?? []).join(', '),
    confirm: server.toolPolicy?.confirm ?? '',
    longRunning: Array.isArray(longRunning) ? longRunning.join(', ') : (longRunning ?? ''),
  };
}

/**
 * The API body the form describes. When editing, empty secret fields are left out so the stored
 * values are kept.
 *
 * @throws FormLineError for lines the form cannot read.
 */
function formBody(editing: Server | null, v: Values, checks: Checks): Record<string, unknown> {
  const transport = v.transport!;
  const body: Record<string, unknown> = {
    name: v.name!.trim(),
    description: v.description,
    transport,
    isActive: checks.isActive,
    pinTools: checks.pinTools,
  };
  if (v.timeoutMs!.trim()) body.timeoutMs = Number(v.timeoutMs);
  const allow = list(v.allow!);
  const deny = list(v.deny!);
  body.toolFilter = { ...(allow.length ? { allow } : {}), ...(deny.length ? { deny } : {}) };
  const longRunning = v.longRunning!.trim();
  body.toolPolicy = {
    ...(v.confirm ? { confirm: v.confirm } : {}),
    ...(longRunning ? { longRunning: longRunning === 'all' ? 'all' : list(longRunning) } : {}),
  };
  const sameTransport = editing !== null && editing.transport === transport;
  if (transport === 'stdio') {
    body.command = v.command!.trim();
    body.args = v
      .args!.split('\n')
      .map((line) => line.trim())
      .filter(Boolean);
    if (v.env!.trim() || !sameTransport) body.env = pairs(v.env!, '=', 'Environment');
    body.cwd = v.cwd!.trim() || (editing ? null : undefined);
    return body;
  }
  body.url = v.url!.trim();
  if (v.headers!.trim() || !sameTransport) body.headers = pairs(v.headers!, ':', 'Headers');
  if (v.apiKey!.trim()) body.apiKey = v.apiKey!.trim();
  else if (sameTransport && checks.clearApiKey) body.apiKey = null;
  const authType = v.authType!;
  // An unchanged auth type starts from the stored auth, so fields the form does not show are
  // kept; its secret is masked there and left out (PUT keeps an omitted secret).
  const stored =
    sameTransport && editing.auth?.type === authType ? editing.auth : { type: authType };
  const auth: Record<string, unknown> = { ...stored };
  delete auth.clientSecret;
  delete auth.privateKey;
  if (authType.startsWith('oauth2-')) {
    auth.clientId = v.clientId!.trim();
    delete auth.tokenUrl;
    if (v.tokenUrl!.trim()) auth.tokenUrl = v.tokenUrl!.trim();
    delete auth.scopes;
    const scopes = v.scopes!.split(/\s+/).filter(Boolean);
    if (scopes.length) auth.scopes = scopes;
  }
  if (authType === 'oauth2-client-credentials') {
    auth.tokenEndpointAuthMethod = v.tokenEndpointAuthMethod;
    if (v.clientSecret!.trim()) auth.clientSecret = v.clientSecret!.trim();
  }
  if (authType === 'oauth2-private-key-jwt') {
    auth.algorithm = v.algorithm;
    if (v.privateKey!.trim()) auth.privateKey = v.privateKey!.trim();
  }
  if (authType === 'oauth') {
    // Every field is optional: without a client id, Switchboard registers itself.
    for (const key of ['clientId', 'tokenEndpointAuthMethod', 'scopes']) delete auth[key];
    if (v.clientId!.trim()) auth.clientId = v.clientId!.trim();
    if (v.clientSecret!.trim()) auth.clientSecret = v.clientSecret!.trim();
    if (v.oauthMethod) auth.tokenEndpointAuthMethod = v.oauthMethod;
    const scopes = v.scopes!.split(/\s+/).filter(Boolean);
    if (scopes.length) auth.scopes = scopes;
  }
  body.auth = auth;
  return body;
}

/** Props of {@link ServerForm}. */
export interface ServerFormProps {
  /** The server to edit, or null to add one. */
  server: Server | null;
  /** Admins may add stdio servers. */
  isAdmin: boolean;
  onSaved: (server: Server) => void;
  onCancel: () => void;
}

/** The form. */
export function ServerForm({ server, isAdmin, onSaved, onCancel }: ServerFormProps) {
  const [values, setValues] = useState<Values>(() => initialValues(server, isAdmin));
  const [checks, setChecks] = useState<Checks>({
    isActive: server?.isActive ?? true,
    pinTools: server?.pinTools ?? true,
    clearApiKey: false,
  });
  const [errors, setErrors] = useState<string[]>([]);
  const [invalid, setInvalid] = useState<Set<string>>(new Set());
  const [saving, setSaving] = useState(false);
  const formId = server ? `server-form-${server.id}` : 'server-form';
  const transport = values.transport!;
  const authType = values.authType!;
  const stdioAllowed = isAdmin || server?.transport === 'stdio';

  const set = (name: string) => (event: { target: { value: string } }) =>
    setValues((now) => ({ ...now, [name]: event.target.value }));
  const field = (name: string) => ({
    name,
    value: values[name] ?? '',
    onChange: set(name),
    'aria-invalid': invalid.has(name) ? (true as const) : undefined,
  });

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setErrors([]);
    setInvalid(new Set());
    let body;
    try {
      body = formBody(server, values, checks);
    } catch (error) {
      setErrors([messageOf(error)]);
      return;
    }
    setSaving(true);
    try {
      const saved = server
        ? await api<Server>('PUT', serversPath(`/${server.id}`), body)
        : await api<Server>('POST', serversPath(), body);
      onSaved(saved);
    } catch (error) {
      if (error instanceof ApiError) {
        setErrors(error.lines());
        const marked = new Set<string>();
        for (const issue of error.errors) {
          const path = issue.path.replace(/^body\./, '');
          const name =
            Object.entries(FIELD_OF_PATH).find(([prefix]) => path.startsWith(prefix))?.[1] ??
            path.split('.')[0];
          if (name) marked.add(name);
        }
        setInvalid(marked);
      } else {
        setErrors([messageOf(error)]);
      }
    } finally {
      setSaving(false);
    }
  };

  const kept = (name: string, text: string | null): ReactNode =>
    text ? (
      <p className="hint" data-kept={name}>
        {text}
      </p>
    ) : null;
  const envNames = Object.keys(server?.env ?? {});
  const headerNames = Object.keys(server?.headers ?? {});
  const storedAuth = server?.auth;
  const storedSecret = storedAuth?.clientSecret ?? storedAuth?.privateKey;
  const sameTransport = server !== null && server.transport === transport;

  return (
    <form id={formId} className="server-form" noValidate onSubmit={submit}>
      <h3 className="form-title">{server ? `Edit ${server.name}` : 'Add a server'}</h3>
      <div className="grid">
        <label>
          Name
          <input {...field('name')} required maxLength={100} autoFocus />
        </label>
        <label>
          Description
          <input {...field('description')} maxLength={2000} />
        </label>
        <label>
          Transport
          <select {...field('transport')}>
            {stdioAllowed ? <option value="stdio">stdio (a local command)</option> : null}
            <option value="streamable-http">Streamable HTTP (a URL)</option>
            <option value="sse">HTTP+SSE (older servers)</option>
            <option value="websocket">WebSocket</option>
          </select>
        </label>
        <label>
          Timeout (ms)
          <input {...field('timeoutMs')} type="number" min={1} step={1} />
        </label>
      </div>
      <label className="inline">
        <input
          name="isActive"
          type="checkbox"
          checked={checks.isActive}
          onChange={(event) => setChecks((now) => ({ ...now, isActive: event.target.checked }))}
        />{' '}
        Active: connect now and give its tools to voice sessions
      </label>
      <label className="inline">
        <input
          name="pinTools"
          type="checkbox"
          checked={checks.pinTools}
          onChange={(event) => setChecks((now) => ({ ...now, pinTools: event.target.checked }))}
        />{' '}
        Pin its tools: a tool that changes after it was first seen, or a new one, waits for your
        approval (Tools) before voice sessions use it
      </label>
      {server && server.transport !== transport ? (
        <p id="transport-change" className="hint warn-text">
          Changing the transport replaces the stored command or URL settings: headers, API key,
          environment and authentication must be given again.
        </p>
      ) : null}
      {!stdioAllowed ? (
        <p className="hint">
          Local commands (stdio) run on the API's machine, so only an admin can add them.
        </p>
      ) : null}

      {transport === 'stdio' ? (
        <fieldset>
          <legend>Command</legend>
          <div className="grid">
            <label>
              Command
              <input {...field('command')} placeholder="npx" />
            </label>
            <label>
              Working directory
              <input {...field('cwd')} />
            </label>
          </div>
          <label>
            Arguments, one per line
            <textarea
              {...field('args')}
              rows={3}
              placeholder={'-y\n@modelcontextprotocol/server-memory'}
            />
          </label>
          <label>
            <span>
              Environment, one <code>NAME=value</code> per line
            </span>
            <textarea {...field('env')} rows={2} />
          </label>
          {kept(
            'env',
            envNames.length > 0 && sameTransport
              ? `Stored: ${envNames.join(', ')}. Leave empty to keep them; anything typed replaces them all.`
              : null,
          )}
        </fieldset>
      ) : (
        <fieldset>
          <legend>Remote server</legend>
          <label>
            URL
            <input {...field('url')} type="url" placeholder="https://mcp.example.com/mcp" />
          </label>
          <label>
            <span>
              Headers, one <code>Name: value</code> per line
            </span>
            <textarea {...field('headers')} rows={2} />
          </label>
          {kept(
            'headers',
            headerNames.length > 0 && sameTransport
              ? `Stored: ${headerNames.join(', ')}. Leave empty to keep them; anything typed replaces them all.`
              : null,
          )}
          <label>
            API key
            <input {...field('apiKey')} type="password" autoComplete="off" />
          </label>
          {server?.apiKey && sameTransport ? (
            <>
              {kept(
                'apiKey',
                `An API key is stored (${masked(server.apiKey)}). Leave empty to keep it.`,
              )}
              <label className="inline">
                <input
                  name="clearApiKey"
                  type="checkbox"
                  checked={checks.clearApiKey}
                  onChange={(event) =>
                    setChecks((now) => ({ ...now, clearApiKey: event.target.checked }))
                  }
                />{' '}
                Remove the stored API key
              </label>
            </>
          ) : null}
          <label>
            Authentication
            <select {...field('authType')}>
              <option value="none">None (or the API key and headers above)</option>
              <option value="oauth">OAuth: each user connects their own account</option>
              <option value="oauth2-client-credentials">OAuth 2 client credentials</option>
              <option value="oauth2-private-key-jwt">OAuth 2 private key JWT</option>
              <option value="user-token">The session user's own token</option>
            </select>
          </label>
          {authType.startsWith('oauth2-') ? (
            <div className="grid">
              <label>
                Client ID
                <input {...field('clientId')} autoComplete="off" />
              </label>
              <label>
                Token URL (empty: discovered)
                <input
                  {...field('tokenUrl')}
                  type="url"
                  placeholder="https://auth.example.com/token"
                />
              </label>
              <label>
                Scopes, space-separated
                <input {...field('scopes')} />
              </label>
            </div>
          ) : null}
          {authType === 'oauth' ? (
            <>
              <p className="hint">
                Each user presses Connect account and signs in at the server's authorization server.
                Leave the client empty: Switchboard registers itself. Give one only when the
                provider needs a client registered beforehand, with the redirect URI{' '}
                <code>{`${location.origin}/api/oauth/callback`}</code>.
              </p>
              <div className="grid">
                <label>
                  Client ID (optional)
                  <input {...field('clientId')} autoComplete="off" />
                </label>
                <label>
                  Client secret (optional)
                  <input {...field('clientSecret')} type="password" autoComplete="off" />
                </label>
                <label>
                  Client authentication
                  <select {...field('oauthMethod')}>
                    <option value="">as the authorization server prefers</option>
                    <option value="client_secret_basic">HTTP Basic (client_secret_basic)</option>
                    <option value="client_secret_post">form body (client_secret_post)</option>
                    <option value="none">none (a public client)</option>
                  </select>
                </label>
                <label>
                  Scopes, space-separated (optional)
                  <input {...field('scopes')} />
                </label>
              </div>
            </>
          ) : null}
          {authType === 'oauth2-client-credentials' ? (
            <div className="grid">
              <label>
                Client secret
                <input {...field('clientSecret')} type="password" autoComplete="off" />
              </label>
              <label>
                Client secret sent
                <select {...field('tokenEndpointAuthMethod')}>
                  <option value="client_secret_basic">as HTTP Basic (client_secret_basic)</option>
                  <option value="client_secret_post">in the form body (client_secret_post)</option>
                </select>
              </label>
            </div>
          ) : null}
          {authType === 'oauth2-private-key-jwt' ? (
            <>
              <label>
                Private key (PKCS#8 PEM)
                <textarea
                  {...field('privateKey')}
                  rows={4}
                  placeholder="-----BEGIN PRIVATE KEY-----"
                />
              </label>
              <label>
                Algorithm
                <select {...field('algorithm')}>
                  {ALGORITHMS.map((algorithm) => (
                    <option key={algorithm}>{algorithm}</option>
                  ))}
                </select>
              </label>
            </>
          ) : null}
          {kept(
            'auth',
            storedSecret && sameTransport && storedAuth?.type === authType
              ? `The ${storedAuth.clientSecret ? 'client secret' : 'private key'} is stored (${masked(storedSecret)}). Leave empty to keep it.`
              : null,
          )}
        </fieldset>
      )}

      <fieldset>
        <legend>Tools</legend>
        <div className="grid">
          <label>
            Only these tools, comma-separated (empty: all)
            <input {...field('allow')} placeholder="search, fetch" />
          </label>
          <label>
            Never these tools, comma-separated
            <input {...field('deny')} />
          </label>
          <label>
            Ask the user before running
            <select {...field('confirm')}>
              <option value="">destructive tools (default)</option>
              <option value="always">every tool</option>
              <option value="never">never</option>
            </select>
          </label>
          <label>
            <span>
              Run in the background, comma-separated or <code>all</code>
            </span>
            <input {...field('longRunning')} />
          </label>
        </div>
      </fieldset>

      {errors.length > 0 ? (
        <p className="form-errors errors" role="alert">
          {errors.map((line) => (
            <span key={line}>{line}</span>
          ))}
        </p>
      ) : null}
      <div className="buttons">
        <button type="submit" disabled={saving}>
          {saving ? 'Saving…' : 'Save'}
        </button>
        <button type="button" className="quiet" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
