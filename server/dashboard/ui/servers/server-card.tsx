/**
 * One server in the list: its status (coloured per DESIGN §5), name, what it runs (one line,
 * cut with an ellipsis; the whole of it on hover and in the detail), tool count, latency and
 * last connection, its actions, and the detail opened under it.
 */
import { useEffect, useRef } from 'react';
import { api, messageOf, serversPath } from '../api.js';
import { when } from '../format.js';
import { useNotice } from '../notice.js';
import type { ServerStore } from '../server-store.js';
import { Pill } from '../status-pills.js';
import type { Server } from '../types.js';
import { CallsPanel, TestPanel, ToolsPanel } from './server-detail.js';
import { ServerForm } from './server-form.js';

/** What the detail under a server shows. */
export type DetailKind = 'test' | 'tools' | 'calls' | 'edit';

const TRANSPORT_LABELS: Record<string, string> = {
  stdio: 'stdio',
  'streamable-http': 'Streamable HTTP',
  sse: 'SSE',
  websocket: 'WebSocket',
};

/** What a server runs: its command line, or its URL. */
export function runs(server: Server): string {
  if (server.transport === 'stdio') return [server.command, ...(server.args ?? [])].join(' ');
  return server.url ?? '';
}

/** Props of {@link ServerCard}. */
export interface ServerCardProps {
  server: Server;
  isAdmin: boolean;
  /** Whether an admin is looking at another user's servers. */
  acting: boolean;
  open: DetailKind | null;
  onToggle: (kind: DetailKind) => void;
  onClose: () => void;
  store: ServerStore;
}

/** The card. */
export function ServerCard({ server, isAdmin, open, onToggle, onClose, store }: ServerCardProps) {
  const say = useNotice();
  const detail = useRef<HTMLDivElement>(null);
  const status = server.isActive ? server.connectionStatus : 'disabled';
  const latency = server.metadata?.latencyMs;
  const toolCount = server.metadata?.toolCount;
  const serverToolCount = server.metadata?.serverToolCount;
  const command = runs(server);

  // The detail opens in view, next to the row clicked.
  useEffect(() => {
    if (open) detail.current?.scrollIntoView({ block: 'nearest' });
  }, [open]);

  const toggleActive = async () => {
    try {
      const updated = await api<Server>('PUT', serversPath(`/${server.id}`), {
        isActive: !server.isActive,
      });
      store.upsert(updated);
      say(`${updated.name} is ${updated.isActive ? 'enabled' : 'disabled'}.`);
    } catch (error) {
      say(messageOf(error), 'error');
    }
  };

  const isOAuth = server.auth?.type === 'oauth';
  const needsAuthorization = server.isActive && server.connectionStatus === 'needs_authorization';

  const connectAccount = async () => {
    try {
      const { authorizationUrl } = await api<{ authorizationUrl: string }>(
        'POST',
        serversPath(`/${server.id}/oauth/start`),
        {},
      );
      say(`Opening the sign-in page of ${new URL(authorizationUrl).host}…`);
      location.assign(authorizationUrl);
    } catch (error) {
      say(messageOf(error), 'error');
    }
  };

  const disconnectAccount = async () => {
    if (
      !confirm(`Disconnect your account on ${server.name}? Its tokens are revoked and deleted.`)
    ) {
      return;
    }
    try {
      const answer = await api<{ detail: string }>('DELETE', serversPath(`/${server.id}/oauth`));
      say(answer.detail);
      await store.load();
    } catch (error) {
      say(messageOf(error), 'error');
    }
  };

  const remove = async () => {
    if (!confirm(`Delete ${server.name}? Its settings and secrets are removed.`)) return;
    try {
      await api('DELETE', serversPath(`/${server.id}`));
      store.remove(server.id);
      say(`${server.name} is deleted.`);
    } catch (error) {
      say(messageOf(error), 'error');
    }
  };

  const detailId = `detail-${server.id}`;
  const panelButton = (kind: DetailKind, label: string) => (
    <button
      type="button"
      data-action={kind}
      className={open === kind ? 'secondary active' : 'secondary'}
      aria-expanded={open === kind}
      aria-controls={open === kind ? detailId : undefined}
      onClick={() => onToggle(kind)}
    >
      {label}
    </button>
  );

  return (
    <li
      className={`server card${open ? ' open' : ''}`}
      data-server-id={server.id}
      data-status={status}
    >
      <div className="server-main">
        <div className="server-head">
          <Pill status={status} />
          <h3 className="name">{server.name}</h3>
          {server.adminManaged ? (
            <span className="tag" title="Set up by an admin: only some fields can be changed">
              admin-managed
            </span>
          ) : null}
        </div>
        {server.description ? <p className="description">{server.description}</p> : null}
        <p className="runs" title={command}>
          <span className="tag">{TRANSPORT_LABELS[server.transport] ?? server.transport}</span>
          <code>{command}</code>
        </p>
        <dl className="facts">
          <div>
            <dt>Tools</dt>
            <dd
              className="tool-count"
              title={
                typeof serverToolCount === 'number' && serverToolCount !== toolCount
                  ? `${serverToolCount} listed by the server, ${toolCount} after the filter`
                  : undefined
              }
            >
              {toolCount ?? '–'}
            </dd>
          </div>
          <div>
            <dt>Latency</dt>
            <dd>{typeof latency === 'number' ? `${Math.round(latency)} ms` : '–'}</dd>
          </div>
          <div>
            <dt>Last connected</dt>
            <dd>{when(server.lastConnected)}</dd>
          </div>
        </dl>
        {server.lastError && server.isActive && status !== 'connected' ? (
          <p className={status === 'needs_authorization' ? 'auth-text' : 'error-text'}>
            {server.lastError}
          </p>
        ) : null}
      </div>
      <div className="actions" role="group" aria-label={`Actions for ${server.name}`}>
        {isOAuth && needsAuthorization ? (
          <button type="button" data-action="connect" onClick={() => void connectAccount()}>
            {server.lastError?.includes('again') ? 'Reconnect account' : 'Connect account'}
          </button>
        ) : null}
        {panelButton('test', 'Test')}
        {panelButton('tools', 'Tools')}
        {panelButton('calls', 'Calls')}
        {panelButton('edit', 'Edit')}
        <button type="button" data-action="toggle" className="secondary" onClick={toggleActive}>
          {server.isActive ? 'Disable' : 'Enable'}
        </button>
        {isOAuth && !needsAuthorization ? (
          <button
            type="button"
            data-action="disconnect"
            className="secondary"
            onClick={() => void disconnectAccount()}
          >
            Disconnect account
          </button>
        ) : null}
        <button type="button" data-action="delete" className="danger" onClick={remove}>
          Delete
        </button>
      </div>
      {open ? (
        <div
          className="detail"
          id={detailId}
          ref={detail}
          role="region"
          aria-label={`${server.name}: ${open}`}
        >
          {open === 'test' ? <TestPanel server={server} onClose={onClose} store={store} /> : null}
          {open === 'tools' ? <ToolsPanel server={server} onClose={onClose} /> : null}
          {open === 'calls' ? <CallsPanel server={server} onClose={onClose} /> : null}
          {open === 'edit' ? (
            <ServerForm
              server={server}
              isAdmin={isAdmin}
              onCancel={onClose}
              onSaved={(saved) => {
                store.upsert(saved);
                onClose();
                say(`${saved.name} is saved${saved.isActive ? '; connecting…' : '.'}`);
              }}
            />
          ) : null}
        </div>
      ) : null}
    </li>
  );
}
