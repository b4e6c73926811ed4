/**
 * The embeddable status widget (`/widget/status#token=sbw_…`): reads its widget token from the
 * URL fragment (never sent to the server), polls `GET /api/widget/status` every 15 seconds and
 * shows the overall status, the system parts and the token owner's servers as coloured pills.
 * When a poll fails it keeps the last answer and marks it stale.
 */
import { StrictMode, useEffect, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { statusLabel, tone, when, type Tone } from '../format.js';

/** How often the widget polls, in milliseconds. */
const POLL_INTERVAL_MS = 15_000;

interface Part {
  status: string;
  detail: string;
}

interface WidgetServer {
  name: string;
  status: string;
  toolCount: number | null;
  latencyMs: number | null;
  lastConnected: string | null;
}

interface WidgetStatus {
  status: 'ok' | 'degraded' | 'down';
  detail: string;
  checkedAt: string;
  parts: Record<'database' | 'livekit' | 'openai' | 'mcp', Part>;
  servers: WidgetServer[];
}

type Poll =
  | { state: 'loading' }
  | { state: 'fresh'; data: WidgetStatus }
  | { state: 'stale'; data: WidgetStatus | null; reason: string }
  | { state: 'refused'; reason: string };

const PART_NAMES = { database: 'Database', livekit: 'LiveKit', openai: 'OpenAI', mcp: 'MCP' };

const OVERALL_TONE: Record<WidgetStatus['status'], Tone> = {
  ok: 'good',
  degraded: 'wait',
  down: 'bad',
};

/** Problems first, so a glance at the top of a small widget shows them; disabled servers last. */
const SERVER_ORDER = [
  'error',
  'needs_authorization',
  'degraded',
  'connecting',
  'disconnected',
  'connected',
  'disabled',
];

function byStatus(a: WidgetServer, b: WidgetServer): number {
  return SERVER_ORDER.indexOf(a.status) - SERVER_ORDER.indexOf(b.status);
}

/** The small line under a server: its tools and latency while connected, else when it last was. */
function serverMeta(server: WidgetServer): string {
  if (server.status === 'disabled') return 'turned off';
  if (server.status === 'connected') {
    const tools = server.toolCount !== null ? `${server.toolCount} tools` : 'connected';
    return server.latencyMs !== null ? `${tools} · ${Math.round(server.latencyMs)} ms` : tools;
  }
  return server.lastConnected ? `last connected ${when(server.lastConnected)}` : 'never connected';
}

/** The widget token in the fragment (`#token=sbw_…`), if any. */
function tokenFromFragment(): string | null {
  return new URLSearchParams(location.hash.slice(1)).get('token')?.trim() || null;
}

function Pill({ status, label, toneOf }: { status: string; label?: string; toneOf?: Tone }) {
  return (
    <span className={`pill ${toneOf ?? tone(status)}`} data-status={status}>
      <span className="dot" aria-hidden="true" />
      {label ?? status}
    </span>
  );
}

function usePoll(token: string | null): Poll {
  const [poll, setPoll] = useState<Poll>({ state: 'loading' });
  useEffect(() => {
    if (!token) return;
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let last: WidgetStatus | null = null;
    const run = async () => {
      try {
        const response = await fetch('/api/widget/status', {
          headers: { authorization: `Bearer ${token}` },
          cache: 'no-store',
        });
        if (stopped) return;
        if (response.status === 401) {
          setPoll({ state: 'refused', reason: 'The widget token is unknown or revoked.' });
          return; // A refused token stays refused: stop polling.
        }
        if (response.status !== 200 && response.status !== 503) {
          throw new Error(`The status answered HTTP ${response.status}.`);
        }
        const body = (await response.json()) as WidgetStatus;
        if (typeof body?.status !== 'string') throw new Error('The status answer is not readable.');
        last = body;
        setPoll({ state: 'fresh', data: body });
      } catch (error) {
        if (stopped) return;
        const reason = error instanceof Error ? error.message : String(error);
        setPoll({ state: 'stale', data: last, reason });
      }
      if (!stopped) timer = setTimeout(() => void run(), POLL_INTERVAL_MS);
    };
    setPoll({ state: 'loading' });
    void run();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [token]);
  return poll;
}

function NoToken() {
  return (
    <section className="widget-note" data-state="no-token">
      <h1>Switchboard status</h1>
      <p>
        This widget needs a widget token. Create one in the Switchboard dashboard under{' '}
        <strong>Access → Status widget</strong>, then open this page as{' '}
        <code>/widget/status#token=sbw_…</code>.
      </p>
    </section>
  );
}

function Widget({ token }: { token: string }) {
  const poll = usePoll(token);
  if (poll.state === 'loading') {
    return (
      <p className="widget-note" data-state="loading" role="status">
        Loading status…
      </p>
    );
  }
  if (poll.state === 'refused') {
    return (
      <section className="widget-note" data-state="refused" role="alert">
        <h1>Switchboard status</h1>
        <p>
          {poll.reason} Create a new one under <strong>Access → Status widget</strong>.
        </p>
      </section>
    );
  }
  const data = poll.data;
  const stale = poll.state === 'stale';
  return (
    <section className="widget" data-state={poll.state} aria-labelledby="widget-title">
      <header className="widget-head">
        <h1 id="widget-title">Switchboard</h1>
        {data ? (
          <Pill
            status={data.status}
            toneOf={OVERALL_TONE[data.status]}
            label={data.status === 'ok' ? 'all good' : data.status}
          />
        ) : null}
        <p className="widget-when" role="status">
          {stale ? (
            <span className="stale" title={poll.reason}>
              stale{data ? ` · checked ${when(data.checkedAt)}` : ''}
            </span>
          ) : data ? (
            `checked ${new Date(data.checkedAt).toLocaleTimeString()}`
          ) : null}
        </p>
      </header>
      {data ? (
        <>
          <p className="widget-detail">{data.detail}</p>
          <ul className="pills widget-parts" aria-label="System">
            {(Object.keys(PART_NAMES) as (keyof typeof PART_NAMES)[]).map((part) => (
              <li key={part} data-part={part} title={data.parts[part].detail}>
                <Pill
                  status={data.parts[part].status}
                  label={`${PART_NAMES[part]}: ${statusLabel(part, data.parts[part].status)}`}
                />
              </li>
            ))}
          </ul>
          {data.servers.length > 0 ? (
            <ul className="widget-servers" aria-label="MCP servers">
              {[...data.servers].sort(byStatus).map((server) => (
                <li key={server.name} data-server={server.name}>
                  <span className="widget-server-name" title={server.name}>
                    {server.name}
                  </span>
                  <Pill status={server.status} label={statusLabel('server', server.status)} />
                  <span className="widget-meta">{serverMeta(server)}</span>
                </li>
              ))}
            </ul>
          ) : (
            <p className="widget-meta">No MCP servers.</p>
          )}
        </>
      ) : (
        <p className="widget-detail">
          The status could not be read yet{stale ? `: ${poll.reason}` : '.'}
        </p>
      )}
    </section>
  );
}

function App() {
  const [token, setToken] = useState(tokenFromFragment);
  useEffect(() => {
    const onHash = () => setToken(tokenFromFragment());
    addEventListener('hashchange', onHash);
    return () => removeEventListener('hashchange', onHash);
  }, []);
  return token ? <Widget token={token} /> : <NoToken />;
}

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
