/**
 * The session's timeline: what the user and the agent said (LiveKit transcriptions) and the tool
 * calls the agent made, in the order they happened.
 *
 * Transcriptions come from `useTranscriptions()` (components-react 2.9), which reads the text
 * streams on topic `lk.transcription` that livekit/agents 1.x publishes for both sides, one stream
 * per segment, its text growing as words arrive.
 */
import { useEffect, useRef } from 'react';
import type { RoomToolCall } from '../types.js';
import { buildTimeline, type TranscriptionStream } from './timeline.js';

/** Props of {@link Transcript}. */
export interface TranscriptProps {
  /** The transcription streams of the room (all participants). */
  transcriptions: readonly TranscriptionStream[];
  /** The local participant's identity: their lines are "You". */
  localIdentity: string;
  /** The tool calls seen so far. */
  calls: RoomToolCall[];
}

/** The timeline of speech and tool calls, newest last, kept scrolled to the end. */
export function Transcript({ transcriptions, localIdentity, calls }: TranscriptProps) {
  const entries = buildTimeline(transcriptions, localIdentity, calls);

  const list = useRef<HTMLOListElement>(null);
  const last = entries[entries.length - 1];
  const lastText = last?.kind === 'speech' ? last.text : '';
  useEffect(() => {
    const element = list.current;
    if (element) element.scrollTop = element.scrollHeight;
  }, [entries.length, lastText]);

  return (
    <div className="transcript-box">
      <h3 id="transcript-title">Transcript and tool calls</h3>
      {entries.length === 0 ? (
        <p className="hint" id="transcript-empty">
          Nothing said yet. What you and the agent say appears here, with the tools it calls.
        </p>
      ) : null}
      <ol
        ref={list}
        id="transcript"
        className="transcript"
        role="log"
        tabIndex={0}
        aria-labelledby="transcript-title"
      >
        {entries.map((entry) =>
          entry.kind === 'speech' ? (
            <li key={entry.key} className={`line ${entry.who}`} data-kind="speech">
              <span className="who">{entry.who === 'you' ? 'You' : 'Agent'}</span>
              <span className="text">{entry.text}</span>
            </li>
          ) : (
            <ToolCallLine key={entry.key} call={entry.call} />
          ),
        )}
      </ol>
    </div>
  );
}

/** One tool call: tool, server, outcome and duration. */
function ToolCallLine({ call }: { call: RoomToolCall }) {
  return (
    <li className="line call" data-kind="call" data-call-id={call.id} data-ok={call.ok}>
      <span className="who">Tool</span>
      <span className="text">
        <code>{call.toolName}</code>
        {call.serverName ? <span className="hint"> on {call.serverName}</span> : null}{' '}
        <span className={`tag ${call.ok ? 'good' : 'bad'}`}>
          {call.ok ? 'ok' : 'error'} · {call.durationMs} ms
        </span>
        {call.error ? <span className="call-error">{call.error}</span> : null}
      </span>
    </li>
  );
}
