// @ts-check
/**
 * The form that adds or edits a server, for every transport and authentication. Secrets are
 * never shown: an edit leaves out every secret field left empty, so the API keeps the stored
 * value (PUT keeps omitted secrets). What the API refuses is listed and each field marked.
 */
import { api, ApiError, serversPath } from './api.js';
import { byId, h, sayError, say } from './dom.js';

const editor = {
  /** @type {any | null} the server being edited; null when adding */
  editing: null,
  /** @type {(server: any) => void} called with each saved server (set by {@link initServerForm}) */
  onSaved: () => {},
};

/**
 * Wires the form.
 * @param {{ onSaved: (server: any) => void }} options
 */
export function initServerForm(options) {
  editor.onSaved = options.onSaved;
  form().addEventListener('submit', (event) => void saveServer(/** @type {SubmitEvent} */ (event)));
  byId('add-server').addEventListener('click', () => openEditor(null));
  byId('cancel-edit').addEventListener('click', closeEditor);
  field('transport').addEventListener('change', syncForm);
  field('authType').addEventListener('change', syncForm);
}

function form() {
  return /** @type {HTMLFormElement} */ (byId('server-form'));
}

/** @param {string} name */
function field(name) {
  const element = form().elements.namedItem(name);
  if (!element) throw new Error(`form field ${name} is missing`);
  return /** @type {HTMLInputElement} */ (element);
}

/** @param {string} name */
function text(name) {
  return field(name).value.trim();
}

/** @param {string} value a comma- or newline-separated list */
function list(value) {
  return value
    .split(/[,\n]/)
    .map((item) => item.trim())
    .filter(Boolean);
}

/**
 * Parses `NAME=value` (or `Name: value`) lines.
 * @param {string} value
 * @param {string} separator
 * @param {string} what for the error
 */
function pairs(value, separator, what) {
  /** @type {Record<string, string>} */
  const result = {};
  for (const line of value.split('\n')) {
    if (!line.trim()) continue;
    const at = line.indexOf(separator);
    if (at <= 0)
      throw new ApiError(400, `${what}: "${line.trim()}" needs the form NAME${separator}value`);
    result[line.slice(0, at).trim()] = line.slice(at + 1).trim();
  }
  return result;
}

/** Shows the fields of the chosen transport and authentication. */
function syncForm() {
  const transport = field('transport').value;
  const authType = field('authType').value;
  for (const set of form().querySelectorAll('[data-for]')) {
    const wanted = /** @type {HTMLElement} */ (set).dataset.for;
    /** @type {HTMLElement} */ (set).hidden = (wanted === 'stdio') !== (transport === 'stdio');
  }
  for (const block of form().querySelectorAll('[data-auth]')) {
    const wanted = /** @type {HTMLElement} */ (block).dataset.auth ?? '';
    /** @type {HTMLElement} */ (block).hidden =
      wanted === 'oauth' ? !authType.startsWith('oauth2-') : wanted !== authType;
  }
  // The API keeps nothing of the old transport's settings when the transport changes.
  byId('transport-change').hidden = !editor.editing || editor.editing.transport === transport;
}

/**
 * Shows what is stored for a secret field that the form leaves alone when empty.
 * @param {string} name
 * @param {string} text empty to hide
 */
function kept(name, text) {
  const hint = /** @type {HTMLElement} */ (form().querySelector(`[data-kept="${name}"]`));
  hint.textContent = text;
  hint.hidden = !text;
  const clear = /** @type {HTMLElement | null} */ (
    form().querySelector(`[data-kept-clear="${name}"]`)
  );
  if (clear) clear.hidden = !text;
}

/** @param {{ set: boolean, last4: string }} secret */
function masked(secret) {
  return secret.last4 ? `…${secret.last4}` : 'set';
}

/**
 * Opens the form, filled from a server (secrets only as "stored" hints) or empty to add one.
 * @param {any | null} server a server as the API shows it, or null to add one
 */
export function openEditor(server) {
  editor.editing = server;
  const f = form();
  f.reset();
  byId('form-errors').hidden = true;
  for (const element of f.querySelectorAll('[aria-invalid]'))
    element.removeAttribute('aria-invalid');
  byId('editor-title').textContent = server ? `Edit ${server.name}` : 'Add server';
  kept('env', '');
  kept('headers', '');
  kept('apiKey', '');
  kept('auth', '');
  if (server) {
    field('name').value = server.name;
    field('description').value = server.description ?? '';
    field('transport').value = server.transport;
    field('timeoutMs').value = String(server.timeoutMs ?? '');
    field('isActive').checked = server.isActive;
    field('command').value = server.command ?? '';
    field('args').value = (server.args ?? []).join('\n');
    field('cwd').value = server.cwd ?? '';
    field('url').value = server.url ?? '';
    field('allow').value = (server.toolFilter?.allow ?? []).join(', ');
    field('deny').value = (server.toolFilter?.deny ?? []).join(', ');
    field('confirm').value = server.toolPolicy?.confirm ?? '';
    const longRunning = server.toolPolicy?.longRunning;
    field('longRunning').value = Array.isArray(longRunning)
      ? longRunning.join(', ')
      : (longRunning ?? '');
    const auth = server.auth ?? { type: 'none' };
    field('authType').value = auth.type;
    field('clientId').value = auth.clientId ?? '';
    field('tokenUrl').value = auth.tokenUrl ?? '';
    field('scopes').value = (auth.scopes ?? []).join(' ');
    if (auth.algorithm) field('algorithm').value = auth.algorithm;
    if (auth.tokenEndpointAuthMethod) {
      field('tokenEndpointAuthMethod').value = auth.tokenEndpointAuthMethod;
    }
    const envNames = Object.keys(server.env ?? {});
    if (envNames.length > 0) {
      kept(
        'env',
        `Stored: ${envNames.join(', ')}. Leave empty to keep them; anything typed replaces them all.`,
      );
    }
    const headerNames = Object.keys(server.headers ?? {});
    if (headerNames.length > 0) {
      kept(
        'headers',
        `Stored: ${headerNames.join(', ')}. Leave empty to keep them; anything typed replaces them all.`,
      );
    }
    if (server.apiKey)
      kept('apiKey', `An API key is stored (${masked(server.apiKey)}). Leave empty to keep it.`);
    const secret = auth.clientSecret ?? auth.privateKey;
    if (secret)
      kept(
        'auth',
        `The ${auth.clientSecret ? 'client secret' : 'private key'} is stored (${masked(secret)}). Leave empty to keep it.`,
      );
  } else {
    field('timeoutMs').value = '30000';
  }
  syncForm();
  byId('editor').hidden = false;
  byId('editor').scrollIntoView({ block: 'nearest' });
  field('name').focus();
}

/** Hides the form without saving. */
export function closeEditor() {
  byId('editor').hidden = true;
  editor.editing = null;
}

/**
 * The API body the form describes. When editing, empty secret fields are left out so the stored
 * values are kept (PUT keeps omitted secrets).
 * @throws {ApiError} for lines the form cannot read
 */
function formBody() {
  const editing = editor.editing;
  const transport = field('transport').value;
  /** @type {Record<string, unknown>} */
  const body = {
    name: text('name'),
    description: field('description').value,
    transport,
    isActive: field('isActive').checked,
  };
  const timeout = text('timeoutMs');
  if (timeout) body.timeoutMs = Number(timeout);
  const allow = list(text('allow'));
  const deny = list(text('deny'));
  body.toolFilter = { ...(allow.length ? { allow } : {}), ...(deny.length ? { deny } : {}) };
  const longRunning = text('longRunning');
  body.toolPolicy = {
    ...(field('confirm').value ? { confirm: field('confirm').value } : {}),
    ...(longRunning ? { longRunning: longRunning === 'all' ? 'all' : list(longRunning) } : {}),
  };
  const sameTransport = editing && editing.transport === transport;
  if (transport === 'stdio') {
    body.command = text('command');
    body.args = field('args')
      .value.split('\n')
      .map((line) => line.trim())
      .filter(Boolean);
    const env = field('env').value;
    if (env.trim() || !sameTransport) body.env = pairs(env, '=', 'Environment');
    body.cwd = text('cwd') || (editing ? null : undefined);
    return body;
  }
  body.url = text('url');
  const headers = field('headers').value;
  if (headers.trim() || !sameTransport) body.headers = pairs(headers, ':', 'Headers');
  const apiKey = text('apiKey');
  if (apiKey) body.apiKey = apiKey;
  else if (sameTransport && field('clearApiKey').checked) body.apiKey = null;
  const authType = field('authType').value;
  // An unchanged auth type starts from the stored auth, so fields the form does not show are
  // kept; its secret is masked there and left out (PUT keeps an omitted secret).
  const stored =
    sameTransport && editing.auth?.type === authType ? editing.auth : { type: authType };
  /** @type {Record<string, unknown>} */
  const auth = { ...stored };
  delete auth.clientSecret;
  delete auth.privateKey;
  if (authType.startsWith('oauth2-')) {
    auth.clientId = text('clientId');
    delete auth.tokenUrl;
    if (text('tokenUrl')) auth.tokenUrl = text('tokenUrl');
    delete auth.scopes;
    const scopes = text('scopes').split(/\s+/).filter(Boolean);
    if (scopes.length) auth.scopes = scopes;
  }
  if (authType === 'oauth2-client-credentials') {
    auth.tokenEndpointAuthMethod = field('tokenEndpointAuthMethod').value;
    if (text('clientSecret')) auth.clientSecret = text('clientSecret');
  }
  if (authType === 'oauth2-private-key-jwt') {
    auth.algorithm = field('algorithm').value;
    if (field('privateKey').value.trim()) auth.privateKey = field('privateKey').value.trim();
  }
  body.auth = auth;
  return body;
}

/** Maps an API field path (`body.url`, `body.auth.clientId`) to a form field name. */
const FIELD_OF_PATH = {
  'auth.clientId': 'clientId',
  'auth.clientSecret': 'clientSecret',
  'auth.tokenUrl': 'tokenUrl',
  'auth.scopes': 'scopes',
  'auth.privateKey': 'privateKey',
  'auth.algorithm': 'algorithm',
  'toolFilter.allow': 'allow',
  'toolFilter.deny': 'deny',
  'toolPolicy.confirm': 'confirm',
  'toolPolicy.longRunning': 'longRunning',
};

/** @param {ApiError} error */
function showFormErrors(error) {
  const box = byId('form-errors');
  box.replaceChildren(...error.lines().map((line) => h('span', {}, [line])));
  box.hidden = false;
  for (const issue of error.errors) {
    const path = issue.path.replace(/^body\./, '');
    const name =
      Object.entries(FIELD_OF_PATH).find(([prefix]) => path.startsWith(prefix))?.[1] ??
      path.split('.')[0];
    const element = name ? form().elements.namedItem(name) : null;
    if (element instanceof HTMLElement) element.setAttribute('aria-invalid', 'true');
  }
}

/** @param {SubmitEvent} event */
async function saveServer(event) {
  event.preventDefault();
  byId('form-errors').hidden = true;
  for (const element of form().querySelectorAll('[aria-invalid]'))
    element.removeAttribute('aria-invalid');
  const editing = editor.editing;
  try {
    const body = formBody();
    const saved = editing
      ? await api('PUT', serversPath(`/${editing.id}`), body)
      : await api('POST', serversPath(), body);
    editor.onSaved(saved);
    closeEditor();
    say(`${saved.name} is saved${saved.isActive ? '; connecting…' : '.'}`);
  } catch (error) {
    if (error instanceof ApiError) showFormErrors(error);
    else sayError(error);
  }
}
