// @ts-check
/**
 * The servers table and what its buttons do: Test (connects for real), Tools, recent Calls,
 * Enable/Disable and Delete, with results in the detail panel. Rows follow the status stream
 * without a reload.
 */
import { api, serversPath, session } from './api.js';
import { byId, h, say, sayError, tone, when } from './dom.js';

const table = {
  /** @type {Map<number, any>} the servers shown, by id */
  servers: new Map(),
  /** @type {Set<number>} servers whose row is read again after a status change */
  reloading: new Set(),
  /** @type {(server: any) => void} opens the editor for a server (set by {@link initServers}) */
  onEdit: () => {},
};

/**
 * Wires the table to the editor.
 * @param {{ onEdit: (server: any) => void }} options
 */
export function initServers(options) {
  table.onEdit = options.onEdit;
  byId('refresh').addEventListener('click', () => void loadServers().catch(sayError));
  byId('close-detail').addEventListener('click', () => {
    byId('detail').hidden = true;
  });
}

/** Reads the servers of the caller, or of the user an admin acts for, and shows them. */
export async function loadServers() {
  const actingFor = session.actingFor;
  const rows = await api('GET', serversPath());
  // An answer for the user shown before a switch is dropped.
  if (session.actingFor !== actingFor) return;
  table.servers = new Map(rows.map((/** @type {any} */ row) => [row.id, row]));
  renderServers();
}

/** Empties the table (signing out, or switching users). */
export function clearServers() {
  table.servers.clear();
  renderServers();
  byId('detail').hidden = true;
}

/**
 * Shows a server as the API answered it (after a save).
 * @param {any} server
 */
export function upsertServer(server) {
  table.servers.set(server.id, server);
  renderServers();
}

/**
 * The stream's first message: the caller's servers' statuses. An admin looking at another
 * user's servers does not get theirs, so nothing is applied then.
 * @param {Record<string, string>} statuses
 */
export function applySnapshot(statuses) {
  if (session.actingFor !== null) return;
  for (const [id, status] of Object.entries(statuses)) setServerStatus(Number(id), status);
}

/**
 * A stream message about one of the caller's servers: a status change, or a server added or
 * removed elsewhere (then the list is read again).
 * @param {any} message
 */
export function applyServerMessage(message) {
  if (session.actingFor !== null) return;
  if (message.status === 'removed' || !table.servers.has(message.serverId)) {
    void loadServers().catch(() => {});
  } else {
    setServerStatus(message.serverId, message.status, message.lastError);
  }
}

/** How many times, and how far apart, a row is read again until it shows a streamed status. */
const RELOAD_ATTEMPTS = 8;
const RELOAD_GAP_MS = 250;

/**
 * A status change pushed by the stream; the row is then read again for its tools and latency.
 * @param {number} id
 * @param {string} status
 * @param {string | null} [lastError]
 */
function setServerStatus(id, status, lastError) {
  const server = table.servers.get(id);
  if (!server || server.connectionStatus === status) return;
  server.connectionStatus = status;
  if (lastError !== undefined) server.lastError = lastError;
  renderServers();
  if (status !== 'connecting' && !table.reloading.has(id)) {
    table.reloading.add(id);
    reloadRow(id)
      .catch(() => {})
      .finally(() => table.reloading.delete(id));
  }
}

/**
 * Reads one server again. The monitor reports a status before it writes it to the database
 * (`ServerStatusEvent`, server/status/monitor.ts), so the stored row can lag the stream for a moment:
 * the row is read until it shows the streamed status, and the streamed status wins either way.
 * @param {number} id
 */
async function reloadRow(id) {
  for (let attempt = 1; ; attempt += 1) {
    const row = await api('GET', serversPath(`/${id}`));
    const shown = table.servers.get(id);
    if (!shown) return;
    const caughtUp = row.connectionStatus === shown.connectionStatus;
    if (caughtUp || attempt >= RELOAD_ATTEMPTS) {
      const streamed = { connectionStatus: shown.connectionStatus, lastError: shown.lastError };
      table.servers.set(id, caughtUp ? row : { ...row, ...streamed });
      renderServers();
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, RELOAD_GAP_MS));
  }
}

/** @param {any} server */
function runs(server) {
  if (server.transport === 'stdio') return [server.command, ...(server.args ?? [])].join(' ');
  return server.url ?? '';
}

function renderServers() {
  const body = /** @type {HTMLTableSectionElement} */ (byId('server-table').querySelector('tbody'));
  const rows = [...table.servers.values()].sort((a, b) => a.name.localeCompare(b.name));
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
      h('button', { type: 'button', 'data-action': 'edit', onclick: () => table.onEdit(server) }, [
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
          result.truncated
            ? `${result.toolCount} tools (the first ${result.tools.length} shown).`
            : `${result.toolCount} tools.`,
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
    table.servers.set(updated.id, updated);
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
    table.servers.delete(server.id);
    renderServers();
    byId('detail').hidden = true;
    say(`${server.name} is deleted.`);
  } catch (error) {
    sayError(error);
  }
}
