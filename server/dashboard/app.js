// @ts-check
/**
 * The Switchboard dashboard: a page for people, built only on the public REST API (README,
 * "REST API") and the status stream (`GET /api/status/stream`). No build step and no framework:
 * the API server serves this file as is (`server/routes/dashboard.ts`).
 *
 * Everything a server's owner typed (names, descriptions, errors, tool descriptions) is put on
 * the page as text (`textContent`), never as HTML.
 */

const TOKEN_KEY = 'switchboard.token';
const STREAM_PROTOCOL = 'switchboard.v1';
/** How often the list is read again for tool counts and latencies the stream does not carry. */
const LIST_REFRESH_MS = 30_000;
/** How often `/api/status` is polled while the status stream is down. */
const STATUS_POLL_MS = 10_000;
const SYSTEM_PARTS = /** @type {const} */ (['livekit', 'openai', 'mcp', 'database']);
const PART_LABELS = {
  api: 'API',
  livekit: 'LiveKit',
  openai: 'OpenAI',
  mcp: 'MCP',
  database: 'Database',
};

/**
 * A status word's colour (DESIGN §5, after seed 004: green connected, yellow ready or
 * connecting, red error or disconnected).
 * @param {string} status
 */
function tone(status) {
  if (status === 'connected' || status === 'ok') return 'good';
  if (status === 'ready' || status === 'connecting' || status === 'degraded') return 'wait';
  if (status === 'error' || status === 'disconnected') return 'bad';
  return 'idle';
}

/** A failed API request; `detail` is the problem+json detail. */
class ApiError extends Error {
  /**
   * @param {number} status
   * @param {string} detail
   * @param {{ path: string, message: string }[]} [errors]
   */
  constructor(status, detail, errors = []) {
    super(detail);
    this.status = status;
    this.errors = errors;
  }
}

const state = {
  token: localStorage.getItem(TOKEN_KEY) ?? '',
  /** @type {Map<number, any>} */
  servers: new Map(),
  /** @type {number | null} the user an admin is acting for; null for the caller */
  actingFor: null,
  /** @type {any | null} the server being edited; null when adding */
  editing: null,
  /** @type {WebSocket | null} */
  stream: null,
  streamRetryMs: 1000,
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  streamTimer: undefined,
  /** @type {ReturnType<typeof setInterval> | undefined} */
  pollTimer: undefined,
  /** @type {ReturnType<typeof setInterval> | undefined} */
  listTimer: undefined,
  /** @type {Set<number>} servers whose row is read again after a status change */
  reloading: new Set(),
};

/** @param {string} id */
function byId(id) {
  const found = document.getElementById(id);
  if (!found) throw new Error(`#${id} is missing`);
  return found;
}

/**
 * Makes an element. `children` are nodes or strings (added as text).
 * @param {string} tag
 * @param {Record<string, string | boolean | ((event: Event) => void)>} [attrs]
 * @param {(Node | string | null | undefined)[]} [children]
 */
function h(tag, attrs = {}, children = []) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (typeof value === 'function') node.addEventListener(key.slice(2), value);
    else if (value === true) node.setAttribute(key, '');
    else if (value !== false) node.setAttribute(key, value);
  }
  for (const child of children) {
    if (child !== null && child !== undefined) node.append(child);
  }
  return node;
}

/**
 * Calls the API with the signed-in token.
 * @param {string} method
 * @param {string} path
 * @param {unknown} [body] sent as JSON
 * @returns {Promise<any>} the JSON answer, or null for 204
 * @throws {ApiError} for any answer that is not 2xx (401 also signs out)
 */
async function api(method, path, body) {
  /** @type {Record<string, string>} */
  const headers = { authorization: `Bearer ${state.token}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 204) return null;
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    const error = new ApiError(
      response.status,
      data?.detail ?? data?.title ?? `${response.status} ${response.statusText}`,
      Array.isArray(data?.errors) ? data.errors : [],
    );
    if (response.status === 401) signOut(`The API refused the token: ${error.message}`);
    throw error;
  }
  return data;
}

/**
 * A path under `/api/mcp/servers`, for the caller or for the user an admin acts for.
 * @param {string} [suffix] e.g. `/3/test`
 * @param {Record<string, string>} [params] more query parameters
 */
function serversPath(suffix = '', params = {}) {
  const query = new URLSearchParams(params);
  if (state.actingFor !== null) query.set('userId', String(state.actingFor));
  const search = query.toString();
  return `/api/mcp/servers${suffix}${search ? `?${search}` : ''}`;
}

/**
 * Shows a line under the header; errors stay until the next message.
 * @param {string} text
 * @param {'info' | 'error'} [kind]
 */
function say(text, kind = 'info') {
  const line = byId('message');
  line.textContent = text;
  line.className = `message ${kind}`;
  line.hidden = !text;
}

/** @param {unknown} error */
function sayError(error) {
  say(error instanceof Error ? error.message : String(error), 'error');
}

/** @param {string | null | undefined} iso */
function when(iso) {
  if (!iso) return 'never';
  const date = new Date(iso);
  const seconds = Math.round((Date.now() - date.getTime()) / 1000);
  if (seconds < 60) return `${Math.max(seconds, 0)} s ago`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  return date.toLocaleString();
}

// ---------------------------------------------------------------------------------------------
// System status

/**
 * @param {string} part
 * @param {{ status: string, detail?: string }} value
 */
function showPart(part, value) {
  const list = byId('system-status');
  let pill = list.querySelector(`[data-part="${part}"]`);
  if (!pill) {
    pill = h('li', { 'data-part': part });
    list.append(pill);
  }
  pill.className = `pill ${tone(value.status)}`;
  pill.setAttribute('title', value.detail ?? '');
  pill.setAttribute('data-status', value.status);
  pill.replaceChildren(
    h('span', { class: 'dot', 'aria-hidden': 'true' }),
    `${PART_LABELS[/** @type {keyof PART_LABELS} */ (part)] ?? part} `,
    h('strong', {}, [value.status]),
  );
}

/** @param {any} status the body of `GET /api/status` */
function showStatus(status) {
  for (const part of SYSTEM_PARTS) if (status?.[part]) showPart(part, status[part]);
  byId('system-status').hidden = false;
}

async function pollStatus() {
  try {
    showStatus(await api('GET', '/api/status'));
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 401)) showPart('api', { status: 'error' });
  }
}

/** Opens the status stream; while it is down, `/api/status` is polled and the stream retried. */
function openStream() {
  closeStream();
  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/status/stream`;
  const socket = new WebSocket(url, [STREAM_PROTOCOL, `bearer.${state.token}`]);
  state.stream = socket;
  socket.addEventListener('open', () => {
    state.streamRetryMs = 1000;
    clearInterval(state.pollTimer);
    state.pollTimer = undefined;
    byId('system-status').dataset.live = 'true';
  });
  socket.addEventListener('message', (event) => {
    let message;
    try {
      message = JSON.parse(String(event.data));
    } catch {
      return;
    }
    onStreamMessage(message);
  });
  socket.addEventListener('close', () => {
    if (state.stream !== socket) return;
    state.stream = null;
    byId('system-status').dataset.live = 'false';
    if (!state.token) return;
    if (!state.pollTimer) state.pollTimer = setInterval(pollStatus, STATUS_POLL_MS);
    state.streamTimer = setTimeout(openStream, state.streamRetryMs);
    state.streamRetryMs = Math.min(state.streamRetryMs * 2, 30_000);
  });
}

function closeStream() {
  clearTimeout(state.streamTimer);
  const socket = state.stream;
  state.stream = null;
  socket?.close();
}

/** @param {any} message one status stream message */
function onStreamMessage(message) {
  if (message.type === 'snapshot') {
    showStatus(message.status);
    if (state.actingFor === null) {
      for (const [id, status] of Object.entries(message.servers ?? {})) {
        setServerStatus(Number(id), String(status));
      }
    }
  } else if (message.type === 'system') {
    showPart(message.part, { status: message.status, detail: message.detail });
  } else if (message.type === 'server') {
    if (message.mcp) showPart('mcp', message.mcp);
    if (state.actingFor !== null) return;
    if (message.status === 'removed' || !state.servers.has(message.serverId)) {
      void loadServers();
    } else {
      setServerStatus(message.serverId, message.status, message.lastError);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Servers

async function loadServers() {
  const rows = await api('GET', serversPath());
  state.servers = new Map(rows.map((/** @type {any} */ row) => [row.id, row]));
  renderServers();
}

/**
 * A status change pushed by the stream; the row is read again once settled, for its tools.
 * @param {number} id
 * @param {string} status
 * @param {string | null} [lastError]
 */
function setServerStatus(id, status, lastError) {
  const server = state.servers.get(id);
  if (!server || server.connectionStatus === status) return;
  server.connectionStatus = status;
  if (lastError !== undefined) server.lastError = lastError;
  renderServers();
  if (status !== 'connecting' && !state.reloading.has(id)) {
    state.reloading.add(id);
    api('GET', serversPath(`/${id}`))
      .then((row) => {
        if (state.servers.has(id)) state.servers.set(id, row);
        renderServers();
      })
      .catch(() => {})
      .finally(() => state.reloading.delete(id));
  }
}

/** @param {any} server */
function runs(server) {
  if (server.transport === 'stdio') return [server.command, ...(server.args ?? [])].join(' ');
  return server.url ?? '';
}

function renderServers() {
  const body = /** @type {HTMLTableSectionElement} */ (byId('server-table').querySelector('tbody'));
  const rows = [...state.servers.values()].sort((a, b) => a.name.localeCompare(b.name));
  body.replaceChildren(...rows.map(serverRow));
  byId('no-servers').hidden = rows.length > 0;
}

/** @param {any} server */
function serverRow(server) {
  const status = server.isActive ? server.connectionStatus : 'disabled';
  const latency = server.metadata?.latencyMs;
  const statusCell = h('td', { class: 'status' }, [
    h('span', { class: `pill ${server.isActive ? tone(status) : 'idle'}` }, [
      h('span', { class: 'dot', 'aria-hidden': 'true' }),
      h('strong', {}, [status]),
    ]),
  ]);
  if (server.lastError && server.isActive && status !== 'connected') {
    statusCell.append(h('div', { class: 'error-text' }, [server.lastError]));
  }
  const nameCell = h('td', {}, [h('span', { class: 'name' }, [server.name])]);
  if (server.description) nameCell.append(h('div', { class: 'hint' }, [server.description]));
  return h('tr', { 'data-server-id': String(server.id), 'data-status': status }, [
    statusCell,
    nameCell,
    h('td', {}, [server.transport]),
    h('td', { class: 'runs' }, [h('code', {}, [runs(server)])]),
    h('td', { class: 'tool-count' }, [String(server.metadata?.toolCount ?? '–')]),
    h('td', { class: 'nowrap' }, [typeof latency === 'number' ? `${Math.round(latency)} ms` : '–']),
    h('td', { class: 'nowrap' }, [when(server.lastConnected)]),
    h('td', { class: 'actions' }, [
      h('button', { type: 'button', 'data-action': 'test', onclick: () => testServer(server) }, [
        'Test',
      ]),
      h('button', { type: 'button', 'data-action': 'tools', onclick: () => showTools(server) }, [
        'Tools',
      ]),
      h('button', { type: 'button', 'data-action': 'calls', onclick: () => showCalls(server) }, [
        'Calls',
      ]),
      h(
        'button',
        { type: 'button', 'data-action': 'toggle', onclick: () => toggleServer(server) },
        [server.isActive ? 'Disable' : 'Enable'],
      ),
      h('button', { type: 'button', 'data-action': 'edit', onclick: () => openEditor(server) }, [
        'Edit',
      ]),
      h(
        'button',
        {
          type: 'button',
          'data-action': 'delete',
          class: 'danger',
          onclick: () => deleteServer(server),
        },
        ['Delete'],
      ),
    ]),
  ]);
}

/**
 * Shows a panel under the list.
 * @param {string} title
 * @param {(Node | string)[]} content
 */
function showDetail(title, content) {
  byId('detail-title').textContent = title;
  byId('detail-body').replaceChildren(...content);
  const panel = byId('detail');
  panel.hidden = false;
  panel.scrollIntoView({ block: 'nearest' });
}

/** @param {any[]} tools tools as the agent advertises them */
function toolList(tools) {
  if (tools.length === 0) return h('p', { class: 'hint' }, ['The server lists no tools.']);
  return h(
    'ul',
    { class: 'tools' },
    tools.map((tool) =>
      h('li', {}, [
        h('code', {}, [tool.name]),
        tool.originalName && tool.originalName !== tool.name
          ? h('span', { class: 'hint' }, [` (${tool.originalName})`])
          : null,
        tool.description ? h('div', { class: 'hint' }, [tool.description]) : null,
      ]),
    ),
  );
}

/** @param {any} server */
async function testServer(server) {
  showDetail(`Testing ${server.name}…`, [h('p', { class: 'hint' }, ['Connecting for real…'])]);
  try {
    const result = await api('POST', serversPath(`/${server.id}/test`), {});
    if (result.status === 'connected') {
      const info = result.serverInfo
        ? `${result.serverInfo.title ?? result.serverInfo.name} ${result.serverInfo.version ?? ''}`
        : 'the server';
      showDetail(`Test of ${server.name}: connected`, [
        h('p', { class: 'result good', 'data-result': 'connected' }, [
          `Connected to ${info.trim()} over ${result.transport} in ${Math.round(result.latencyMs)} ms; `,
          `${result.toolCount} tools.`,
        ]),
        toolList(result.tools),
      ]);
    } else {
      showDetail(`Test of ${server.name}: error`, [
        h('p', { class: 'result bad', 'data-result': 'error' }, [result.error]),
      ]);
    }
  } catch (error) {
    showDetail(`Test of ${server.name}: failed`, [
      h('p', { class: 'result bad', 'data-result': 'failed' }, [
        String(/** @type {any} */ (error).message),
      ]),
    ]);
  }
  void loadServers().catch(sayError);
}

/** @param {any} server */
async function showTools(server) {
  showDetail(`Tools of ${server.name}`, [h('p', { class: 'hint' }, ['Loading…'])]);
  try {
    showDetail(`Tools of ${server.name}`, [
      toolList(await api('GET', serversPath(`/${server.id}/tools`))),
    ]);
  } catch (error) {
    showDetail(`Tools of ${server.name}`, [
      h('p', { class: 'result bad' }, [String(/** @type {any} */ (error).message)]),
    ]);
  }
}

/** @param {any} server */
async function showCalls(server) {
  try {
    const calls = await api('GET', serversPath(`/${server.id}/calls`, { limit: '50' }));
    const content =
      calls.length === 0
        ? [h('p', { class: 'hint' }, ['No tool calls yet.'])]
        : [
            h('table', { class: 'calls' }, [
              h('thead', {}, [
                h(
                  'tr',
                  {},
                  ['When', 'Tool', 'Room', 'Duration', 'Outcome'].map((t) => h('th', {}, [t])),
                ),
              ]),
              h(
                'tbody',
                {},
                calls.map((/** @type {any} */ call) =>
                  h('tr', {}, [
                    h('td', {}, [when(call.startedAt)]),
                    h('td', {}, [h('code', {}, [call.toolName])]),
                    h('td', {}, [call.roomName ?? '']),
                    h('td', {}, [call.durationMs === null ? '' : `${call.durationMs} ms`]),
                    h('td', { class: call.ok ? 'good-text' : 'error-text' }, [
                      call.ok ? 'ok' : (call.error ?? 'failed'),
                    ]),
                  ]),
                ),
              ),
            ]),
          ];
    showDetail(`Recent calls of ${server.name}`, content);
  } catch (error) {
    sayError(error);
  }
}

/** @param {any} server */
async function toggleServer(server) {
  try {
    const updated = await api('PUT', serversPath(`/${server.id}`), { isActive: !server.isActive });
    state.servers.set(updated.id, updated);
    renderServers();
    say(`${updated.name} is ${updated.isActive ? 'enabled' : 'disabled'}.`);
  } catch (error) {
    sayError(error);
  }
}

/** @param {any} server */
async function deleteServer(server) {
  if (!confirm(`Delete ${server.name}? Its settings and secrets are removed.`)) return;
  try {
    await api('DELETE', serversPath(`/${server.id}`));
    state.servers.delete(server.id);
    renderServers();
    byId('detail').hidden = true;
    say(`${server.name} is deleted.`);
  } catch (error) {
    sayError(error);
  }
}

// ---------------------------------------------------------------------------------------------
// The server form

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

/** @param {any | null} server null to add one */
function openEditor(server) {
  state.editing = server;
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

function closeEditor() {
  byId('editor').hidden = true;
  state.editing = null;
}

/**
 * The API body the form describes. When editing, empty secret fields are left out so the stored
 * values are kept (PUT keeps omitted secrets).
 * @throws {ApiError} for lines the form cannot read
 */
function formBody() {
  const editing = state.editing;
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
  /** @type {Record<string, unknown>} */
  const auth = { type: authType };
  if (authType.startsWith('oauth2-')) {
    auth.clientId = text('clientId');
    if (text('tokenUrl')) auth.tokenUrl = text('tokenUrl');
    const scopes = text('scopes').split(/\s+/).filter(Boolean);
    if (scopes.length) auth.scopes = scopes;
  }
  if (authType === 'oauth2-client-credentials' && text('clientSecret')) {
    auth.clientSecret = text('clientSecret');
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
  const items =
    error.errors.length > 0
      ? error.errors.map((e) => `${e.path.replace(/^body\./, '')}: ${e.message}`)
      : [error.message];
  box.replaceChildren(...items.map((item) => h('span', {}, [item])));
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
  const editing = state.editing;
  try {
    const body = formBody();
    const saved = editing
      ? await api('PUT', serversPath(`/${editing.id}`), body)
      : await api('POST', serversPath(), body);
    state.servers.set(saved.id, saved);
    renderServers();
    closeEditor();
    say(`${saved.name} is saved${saved.isActive ? '; connecting…' : '.'}`);
  } catch (error) {
    if (error instanceof ApiError) showFormErrors(error);
    else sayError(error);
  }
}

// ---------------------------------------------------------------------------------------------
// Signing in and out

/** Admins may act for another user (`?userId=`); the list of users is theirs alone. */
async function loadUsers() {
  const select = /** @type {HTMLSelectElement} */ (byId('user-select'));
  try {
    const users = await api('GET', '/api/users');
    select.replaceChildren(
      h('option', { value: '' }, ['My servers']),
      ...users.map((/** @type {any} */ user) =>
        h('option', { value: String(user.id) }, [`${user.name} <${user.email}>`]),
      ),
    );
    byId('acting-for').hidden = false;
  } catch {
    byId('acting-for').hidden = true;
  }
}

/** @param {string} token */
async function signIn(token) {
  state.token = token;
  try {
    await loadServers();
  } catch (error) {
    // A refused token signs out by itself (see `api`); anything else leaves the form up too.
    if (!(error instanceof ApiError && error.status === 401)) {
      byId('sign-in').hidden = false;
      sayError(error);
    }
    return;
  }
  localStorage.setItem(TOKEN_KEY, token);
  byId('sign-in').hidden = true;
  byId('servers').hidden = false;
  byId('sign-out').hidden = false;
  say('');
  void pollStatus();
  openStream();
  void loadUsers();
  clearInterval(state.listTimer);
  state.listTimer = setInterval(() => void loadServers().catch(() => {}), LIST_REFRESH_MS);
}

/** @param {string} [why] shown on the sign-in form */
function signOut(why) {
  state.token = '';
  state.servers.clear();
  state.actingFor = null;
  localStorage.removeItem(TOKEN_KEY);
  closeStream();
  clearInterval(state.pollTimer);
  clearInterval(state.listTimer);
  state.pollTimer = undefined;
  for (const id of ['servers', 'editor', 'detail', 'sign-out', 'system-status', 'acting-for']) {
    byId(id).hidden = true;
  }
  byId('system-status').replaceChildren();
  byId('sign-in').hidden = false;
  say(why ?? '', why ? 'error' : 'info');
  /** @type {HTMLInputElement} */ (byId('token')).value = '';
}

function start() {
  byId('sign-in-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const token = /** @type {HTMLInputElement} */ (byId('token')).value.trim();
    if (token) void signIn(token);
  });
  byId('sign-out').addEventListener('click', () => signOut());
  byId('add-server').addEventListener('click', () => openEditor(null));
  byId('refresh').addEventListener('click', () => void loadServers().catch(sayError));
  byId('cancel-edit').addEventListener('click', closeEditor);
  byId('close-detail').addEventListener('click', () => {
    byId('detail').hidden = true;
  });
  form().addEventListener('submit', (event) => void saveServer(/** @type {SubmitEvent} */ (event)));
  field('transport').addEventListener('change', syncForm);
  field('authType').addEventListener('change', syncForm);
  byId('user-select').addEventListener('change', (event) => {
    const value = /** @type {HTMLSelectElement} */ (event.target).value;
    state.actingFor = value ? Number(value) : null;
    closeEditor();
    byId('detail').hidden = true;
    void loadServers().catch(sayError);
  });
  if (state.token) void signIn(state.token);
  else signOut();
}

start();
