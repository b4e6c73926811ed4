/**
 * The system status pills (LiveKit, OpenAI, MCP, database), coloured by status word (DESIGN §5),
 * with each part's detail as the tip and, for a screen reader, in words.
 */
import { statusLabel, tone } from './format.js';
import type { PartStatus } from './types.js';

const PART_LABELS: Record<string, string> = {
  api: 'API',
  livekit: 'LiveKit',
  openai: 'OpenAI',
  mcp: 'MCP',
  database: 'Database',
};
const ORDER = ['api', 'livekit', 'openai', 'mcp', 'database'];

/** A status word as a coloured pill with a dot. */
export function Pill({ status, label }: { status: string; label?: string }) {
  return (
    <span className={`pill ${tone(status)}`}>
      <span className="dot" aria-hidden="true" />
      <strong>{label ?? statusLabel('server', status)}</strong>
    </span>
  );
}

/**
 * The pills of every part known so far.
 *
 * @param parts the parts' statuses by name.
 * @param live whether the status stream is open (`data-live`).
 */
export function StatusPills({ parts, live }: { parts: Record<string, PartStatus>; live: boolean }) {
  const names = ORDER.filter((part) => parts[part]);
  return (
    <ul id="system-status" className="pills" aria-label="System status" data-live={String(live)}>
      {names.map((part) => {
        const value = parts[part]!;
        return (
          <li
            key={part}
            data-part={part}
            data-status={value.status}
            className={`pill ${tone(value.status)}`}
            title={value.detail ?? ''}
          >
            <span className="dot" aria-hidden="true" />
            {PART_LABELS[part] ?? part} <strong>{statusLabel(part, value.status)}</strong>
            {value.detail ? <span className="visually-hidden">: {value.detail}</span> : null}
          </li>
        );
      })}
    </ul>
  );
}
