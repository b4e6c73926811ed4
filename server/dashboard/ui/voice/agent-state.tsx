/**
 * The agent's state in words, with a coloured dot: what `useVoiceAssistant()` reads from the
 * agent's `lk.agent.state` attribute (livekit/agents publishes `initializing`, `idle`,
 * `listening`, `thinking` and `speaking`), and what the page says before the agent has joined.
 */
import type { useVoiceAssistant } from '@livekit/components-react';

/** The states `useVoiceAssistant()` reports. */
export type AgentState = ReturnType<typeof useVoiceAssistant>['state'];

const WORDS: Record<string, { text: string; tone: string }> = {
  disconnected: { text: 'Not connected', tone: 'idle' },
  connecting: { text: 'Joining', tone: 'wait' },
  'pre-connect-buffering': { text: 'Joining', tone: 'wait' },
  initializing: { text: 'Starting up', tone: 'wait' },
  idle: { text: 'Idle', tone: 'idle' },
  listening: { text: 'Listening', tone: 'good' },
  thinking: { text: 'Thinking', tone: 'wait' },
  speaking: { text: 'Speaking', tone: 'speaking' },
  failed: { text: 'Failed', tone: 'bad' },
  waiting: { text: 'Not joined yet', tone: 'wait' },
};

/** Props of {@link AgentStatePill}. */
export interface AgentStatePillProps {
  /** The hook's state, or `waiting` while connected with no agent in the room. */
  state: AgentState | 'waiting';
}

/** The agent's state as a pill; `data-agent-state` carries the state's name. */
export function AgentStatePill({ state }: AgentStatePillProps) {
  const words = WORDS[state] ?? { text: state, tone: 'idle' };
  return (
    <span id="agent-state" className={`pill ${words.tone}`} data-agent-state={state}>
      <span className="dot" aria-hidden="true" />
      Agent: {words.text}
    </span>
  );
}
