/**
 * The Servers page: the caller's MCP servers (or, for an admin, another user's) as a list that
 * follows the status stream, an "Add server" form, and each server's detail (test, tools, calls,
 * edit) opened in place under the server clicked.
 */
import { useState } from 'react';
import { messageOf, session } from '../api.js';
import { useNotice } from '../notice.js';
import type { ServerStore } from '../server-store.js';
import type { Server, User } from '../types.js';
import { ServerCard, type DetailKind } from './server-card.js';
import { ServerForm } from './server-form.js';

/** Props of {@link ServersPage}. */
export interface ServersPageProps {
  store: ServerStore;
  servers: Server[];
  /** Every user, for an admin; null for anyone else. */
  users: User[] | null;
  actingFor: number | null;
  onActFor: (userId: number | null) => void;
}

/** The page. */
export function ServersPage({ store, servers, users, actingFor, onActFor }: ServersPageProps) {
  const say = useNotice();
  const [adding, setAdding] = useState(false);
  const [open, setOpen] = useState<{ id: number; kind: DetailKind } | null>(null);
  const isAdmin = users !== null;
  const loaded = store.loaded();

  const toggle = (id: number, kind: DetailKind) =>
    setOpen((now) => (now?.id === id && now.kind === kind ? null : { id, kind }));

  return (
    <section id="servers" aria-labelledby="servers-title">
      <div className="toolbar">
        <h2 id="servers-title">MCP servers</h2>
        {isAdmin ? (
          <label id="acting-for" className="inline-select">
            <span>Servers of</span>
            <select
              id="user-select"
              value={actingFor === null ? '' : String(actingFor)}
              onChange={(event) => {
                setOpen(null);
                setAdding(false);
                onActFor(event.target.value ? Number(event.target.value) : null);
              }}
            >
              <option value="">me</option>
              {users.map((user) => (
                <option key={user.id} value={String(user.id)}>
                  {user.name} &lt;{user.email}&gt;
                </option>
              ))}
            </select>
          </label>
        ) : null}
        <div className="toolbar-actions">
          <button
            id="add-server"
            type="button"
            aria-expanded={adding}
            onClick={() => {
              setAdding(true);
              setOpen(null);
            }}
          >
            Add server
          </button>
          <button
            id="refresh"
            type="button"
            className="quiet"
            onClick={() =>
              void store.load().catch((error: unknown) => say(messageOf(error), 'error'))
            }
          >
            Refresh
          </button>
        </div>
      </div>

      {adding ? (
        <div className="card form-card">
          <ServerForm
            server={null}
            isAdmin={isAdmin}
            onCancel={() => setAdding(false)}
            onSaved={(saved) => {
              store.upsert(saved);
              setAdding(false);
              say(`${saved.name} is saved${saved.isActive ? '; connecting…' : '.'}`);
            }}
          />
        </div>
      ) : null}

      {loaded && servers.length === 0 && !adding ? (
        <div id="no-servers" className="card empty">
          <h3>No servers yet</h3>
          <p>
            An MCP server gives the agent its tools: a hosted one by its URL (Streamable HTTP, SSE
            or WebSocket){isAdmin ? ', or a local command run in a sandbox (stdio)' : ''}.
          </p>
          <button type="button" onClick={() => setAdding(true)}>
            Add your first server
          </button>
        </div>
      ) : null}

      <ul id="server-list" className="server-list" aria-label="Servers">
        {servers.map((server) => (
          <ServerCard
            key={server.id}
            server={server}
            isAdmin={isAdmin}
            acting={session.actingFor !== null}
            open={open?.id === server.id ? open.kind : null}
            onToggle={(kind) => toggle(server.id, kind)}
            onClose={() => setOpen(null)}
            store={store}
          />
        ))}
      </ul>
    </section>
  );
}
