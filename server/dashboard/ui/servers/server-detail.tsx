/**
 * The panels of a server's detail: Test (connects for real and says what it waits for), Tools
 * (what a voice session advertises, with the tools that ask before running, and the tools that
 * changed since they were approved or are new, with what changed and an Approve button: tool
 * pinning, issue 16), and recent Calls.
 */
import { useEffect, useState, type ReactNode } from 'react';
import { api, messageOf, serversPath } from '../api.js';
import { callSourceWords, when } from '../format.js';
import type { ServerStore } from '../server-store.js';
import type {
  Page,
  SchemaChanges,
  Server,
  TestResult,
  TextChange,
  Tool,
  ToolCall,
} from '../types.js';
import { runs } from './server-card.js';

/** The default time a server has to connect and answer `initialize`, in ms (DESIGN §4). */
const DEFAULT_TIMEOUT_MS = 30_000;

function Panel({
  title,
  onClose,
  children,
}: {
  title: string;
  onClose: () => void;
  children: ReactNode;
}) {
  return (
    <>
      <div className="detail-head">
        <h4 className="detail-title">{title}</h4>
        <button type="button" className="quiet close" onClick={onClose}>
          Close
        </button>
      </div>
      {children}
    </>
  );
}

/** A description's word diff: removed words struck through, added ones marked. */
function TextDiff({ label, change }: { label: string; change: TextChange }) {
  return (
    <div className="pin-change">
      <span className="hint">{label}: </span>
      {change.diff.map((part, index) =>
        part.op === 'added' ? (
          <ins key={index}>{part.text}</ins>
        ) : part.op === 'removed' ? (
          <del key={index}>{part.text}</del>
        ) : (
          <span key={index}>{part.text}</span>
        ),
      )}
    </div>
  );
}

/** One line per kind of schema change, e.g. `inputs added: loud`. */
function SchemaDiff({ label, change }: { label: string; change: SchemaChanges }) {
  const lines = [
    change.presence === 'added' ? `${label}: newly declared` : '',
    change.presence === 'removed' ? `${label}: no longer declared` : '',
    change.added.length ? `${label} added: ${change.added.join(', ')}` : '',
    change.removed.length ? `${label} removed: ${change.removed.join(', ')}` : '',
    change.changed.length ? `${label} changed: ${change.changed.join(', ')}` : '',
    change.requiredAdded.length ? `now required: ${change.requiredAdded.join(', ')}` : '',
    change.requiredRemoved.length ? `no longer required: ${change.requiredRemoved.join(', ')}` : '',
    change.otherKeywords.length
      ? `${label} schema: ${change.otherKeywords.join(', ')} changed`
      : '',
  ].filter(Boolean);
  return (
    <>
      {lines.map((line) => (
        <div key={line} className="pin-change hint">
          {line}
        </div>
      ))}
    </>
  );
}

/** What changed in a tool since it was approved. */
function ToolChangesView({ tool }: { tool: Tool }) {
  const changes = tool.changes;
  if (!changes) return null;
  return (
    <div className="pin-changes">
      {changes.title ? <TextDiff label="Title" change={changes.title} /> : null}
      {changes.description ? <TextDiff label="Description" change={changes.description} /> : null}
      {changes.inputSchema ? <SchemaDiff label="inputs" change={changes.inputSchema} /> : null}
      {changes.outputSchema ? <SchemaDiff label="output" change={changes.outputSchema} /> : null}
      {changes.annotations ? (
        <div className="pin-change hint">
          {`annotations: ${JSON.stringify(changes.annotations.before)} → ${JSON.stringify(changes.annotations.after)}`}
        </div>
      ) : null}
    </div>
  );
}

/**
 * A list of tools as the agent advertises them. With `onApprove`, a tool withheld by tool
 * pinning shows why (`changed` with what changed, or `new`) and an Approve button.
 */
export function ToolList({
  tools,
  onApprove,
  busy = false,
}: {
  tools: Tool[];
  onApprove?: (tools: Tool[]) => void;
  busy?: boolean;
}) {
  if (tools.length === 0) return <p className="hint">The server lists no tools.</p>;
  return (
    <ul className="tools">
      {tools.map((tool) => (
        <li key={tool.name} data-tool={tool.originalName ?? tool.name}>
          <code>{tool.name}</code>
          {tool.originalName && tool.originalName !== tool.name ? (
            <span className="hint"> ({tool.originalName})</span>
          ) : null}
          {tool.needsConfirmation ? (
            <span className="tag warn" title="The agent asks the user before running it">
              asks first
            </span>
          ) : null}
          {tool.pinState === 'changed' ? (
            <span
              className="tag bad"
              data-pin="changed"
              title="Changed since it was approved: voice sessions do not use it until you approve it"
            >
              changed
            </span>
          ) : null}
          {tool.pinState === 'new' ? (
            <span
              className="tag warn"
              data-pin="new"
              title="New since the server's tools were approved: voice sessions do not use it until you approve it"
            >
              new
            </span>
          ) : null}
          {tool.withheld && onApprove ? (
            <button
              type="button"
              className="secondary small"
              data-action="approve-tool"
              disabled={busy}
              onClick={() => onApprove([tool])}
            >
              Approve
            </button>
          ) : null}
          {tool.description ? <div className="hint">{tool.description}</div> : null}
          <ToolChangesView tool={tool} />
        </li>
      ))}
    </ul>
  );
}

/** Seconds since the panel opened, ticking once a second while `running`. */
function useElapsedSeconds(running: boolean): number {
  const [seconds, setSeconds] = useState(0);
  useEffect(() => {
    if (!running) return;
    const started = Date.now();
    const timer = setInterval(() => setSeconds(Math.floor((Date.now() - started) / 1000)), 1000);
    return () => clearInterval(timer);
  }, [running]);
  return seconds;
}

/** Test: connects to the server for real (`POST …/test`) and shows what it found. */
export function TestPanel({
  server,
  onClose,
  store,
}: {
  server: Server;
  onClose: () => void;
  store: ServerStore;
}) {
  const [result, setResult] = useState<TestResult | null>(null);
  const [failure, setFailure] = useState<string | null>(null);
  const running = result === null && failure === null;
  const elapsed = useElapsedSeconds(running);
  useEffect(() => {
    let current = true;
    api<TestResult>('POST', serversPath(`/${server.id}/test`), {})
      .then((answer) => current && setResult(answer))
      .catch((error: unknown) => current && setFailure(messageOf(error)))
      .finally(() => void store.load().catch(() => {}));
    return () => {
      current = false;
    };
    // One test per opening of the panel: a status change of the same server does not test again.
  }, [server.id]);

  const timeoutSeconds = Math.round((server.timeoutMs ?? DEFAULT_TIMEOUT_MS) / 1000);
  if (running) {
    const what =
      server.transport === 'stdio'
        ? `starting ${server.command ?? 'the command'} in its sandbox`
        : `connecting to ${server.url ?? 'the URL'}`;
    return (
      <Panel title={`Testing ${server.name}…`} onClose={onClose}>
        <p className="hint testing" aria-live="polite">
          <span className="spinner" aria-hidden="true" />
          {`Connecting for real: ${what}, then waiting up to ${timeoutSeconds} s for it to answer initialize`}
          {elapsed > 0 ? ` (${elapsed} s so far)` : ''}.
        </p>
      </Panel>
    );
  }
  if (failure !== null) {
    return (
      <Panel title={`Test of ${server.name}: failed`} onClose={onClose}>
        <p className="result bad" data-result="failed">
          {failure}
        </p>
      </Panel>
    );
  }
  if (result!.status !== 'connected') {
    return (
      <Panel title={`Test of ${server.name}: error`} onClose={onClose}>
        <p className="result bad" data-result="error">
          {result!.error}
        </p>
        <p className="hint">
          It runs <code className="wrap">{runs(server)}</code>.
        </p>
      </Panel>
    );
  }
  const info = result!.serverInfo
    ? `${result!.serverInfo.title ?? result!.serverInfo.name} ${result!.serverInfo.version ?? ''}`.trim()
    : 'the server';
  return (
    <Panel title={`Test of ${server.name}: connected`} onClose={onClose}>
      <p className="result good" data-result="connected">
        {`Connected to ${info} over ${result!.transport} in ${Math.round(result!.latencyMs ?? 0)} ms; `}
        {result!.truncated
          ? `${result!.toolCount} tools (the first ${result!.tools.length} shown).`
          : `${result!.toolCount} tools.`}
      </p>
      <ToolList tools={result!.tools} />
    </Panel>
  );
}

/**
 * Tools: what a voice session advertises for the server (`GET …/tools`), with the tools withheld
 * by tool pinning and a way to approve them (`POST …/tools/approve`, each with the hash shown, so
 * a tool that changed again meanwhile is not approved unseen).
 */
export function ToolsPanel({ server, onClose }: { server: Server; onClose: () => void }) {
  const [tools, setTools] = useState<Tool[] | null>(null);
  const [failure, setFailure] = useState<string | null>(null);
  const [approving, setApproving] = useState(false);
  const [approvalError, setApprovalError] = useState<string | null>(null);
  const [loads, setLoads] = useState(0);
  useEffect(() => {
    let current = true;
    api<Tool[]>('GET', serversPath(`/${server.id}/tools`))
      .then((answer) => current && setTools(answer))
      .catch((error: unknown) => current && setFailure(messageOf(error)));
    return () => {
      current = false;
    };
  }, [server.id, loads]);

  const approve = (chosen: Tool[]) => {
    setApproving(true);
    setApprovalError(null);
    const body = {
      tools: chosen.map((tool) =>
        tool.hash
          ? { name: tool.originalName ?? tool.name, hash: tool.hash }
          : (tool.originalName ?? tool.name),
      ),
    };
    api<Tool[]>('POST', serversPath(`/${server.id}/tools/approve`), body)
      .then((answer) => setTools(answer))
      .catch((error: unknown) => {
        setApprovalError(messageOf(error));
        // What changed again is shown as it is now.
        setLoads((count) => count + 1);
      })
      .finally(() => setApproving(false));
  };

  const withheld = (tools ?? []).filter((tool) => tool.withheld);
  return (
    <Panel title={`Tools of ${server.name}`} onClose={onClose}>
      {failure !== null ? (
        <p className="result bad">{failure}</p>
      ) : tools === null ? (
        <p className="hint">Loading…</p>
      ) : (
        <>
          {withheld.length > 0 ? (
            <div className="notice-box" data-result="withheld" role="status">
              <p>
                {withheld.length === 1
                  ? '1 tool changed since it was approved, or is new: '
                  : `${withheld.length} tools changed since they were approved, or are new: `}
                voice sessions and the gateway do not use {withheld.length === 1 ? 'it' : 'them'}{' '}
                until you approve. Check what changed below.
              </p>
              {withheld.length > 1 ? (
                <button
                  type="button"
                  data-action="approve-all"
                  disabled={approving}
                  onClick={() => approve(withheld)}
                >
                  Approve all {withheld.length}
                </button>
              ) : null}
            </div>
          ) : null}
          {approvalError !== null ? (
            <p className="result bad" role="alert">
              {approvalError}
            </p>
          ) : null}
          <ToolList tools={tools} onApprove={approve} busy={approving} />
          {server.auth?.type === 'user-token' ? null : (
            <p className="hint" data-result="gateway-url">
              MCP clients can use this server alone at{' '}
              <code>{`${location.origin}/mcp/servers/${server.id}`}</code> (with an API token that
              may use the gateway), or with your other servers at{' '}
              <code>{`${location.origin}/mcp`}</code>.
            </p>
          )}
        </>
      )}
    </Panel>
  );
}

/** Calls: the server's last 50 tool calls (`GET …/calls`). */
export function CallsPanel({ server, onClose }: { server: Server; onClose: () => void }) {
  const [calls, setCalls] = useState<ToolCall[] | null>(null);
  const [failure, setFailure] = useState<string | null>(null);
  useEffect(() => {
    let current = true;
    api<Page<ToolCall>>('GET', serversPath(`/${server.id}/calls`, { limit: '50' }))
      .then((answer) => current && setCalls(answer.items))
      .catch((error: unknown) => current && setFailure(messageOf(error)));
    return () => {
      current = false;
    };
  }, [server.id]);
  return (
    <Panel title={`Recent calls of ${server.name}`} onClose={onClose}>
      {failure !== null ? (
        <p className="result bad">{failure}</p>
      ) : calls === null ? (
        <p className="hint">Loading…</p>
      ) : calls.length === 0 ? (
        <p className="hint">
          No tool calls yet: they show here once a voice session, or an MCP client through the
          gateway, uses a tool.
        </p>
      ) : (
        <ul className="calls">
          {calls.map((call) => (
            <li key={call.id} className={call.ok ? 'ok' : 'failed'}>
              <code>{call.toolName}</code>
              <span className={call.ok ? 'good-text' : 'error-text'}>
                {call.ok ? 'ok' : (call.error ?? 'failed')}
              </span>
              <span className="hint">
                {when(call.startedAt)}
                {call.durationMs === null ? '' : ` · ${call.durationMs} ms`}
                {call.roomName ? ` · room ${call.roomName}` : ''}
                <span className="via" data-source={call.source}>
                  {` · via ${callSourceWords(call)}`}
                </span>
              </span>
            </li>
          ))}
        </ul>
      )}
    </Panel>
  );
}
