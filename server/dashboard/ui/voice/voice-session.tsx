/**
 * A joined voice session, rendered inside `LiveKitRoom`: the connection, the agent's state, the
 * microphone toggle, the timeline of speech and tool calls, and the Leave button. The agent is
 * heard through `RoomAudioRenderer`.
 */
import {
  BarVisualizer,
  RoomAudioRenderer,
  useAudioPlayback,
  useConnectionState,
  useLocalParticipant,
  useTrackToggle,
  useTranscriptions,
  useVoiceAssistant,
} from '@livekit/components-react';
import { ConnectionState, Track } from 'livekit-client';
import { AccountLinks } from './account-links.js';
import { AgentStatePill } from './agent-state.js';
import { useRoomCalls } from './room-calls.js';
import { ScreenResources } from './screen-resources.js';
import { Transcript } from './transcript.js';

const CONNECTION_WORDS: Record<ConnectionState, { text: string; tone: string }> = {
  [ConnectionState.Disconnected]: { text: 'Disconnected', tone: 'idle' },
  [ConnectionState.Connecting]: { text: 'Connecting', tone: 'wait' },
  [ConnectionState.Connected]: { text: 'Connected', tone: 'good' },
  [ConnectionState.Reconnecting]: { text: 'Reconnecting', tone: 'wait' },
  [ConnectionState.SignalReconnecting]: { text: 'Reconnecting', tone: 'wait' },
};

/** Props of {@link VoiceSession}. */
export interface VoiceSessionProps {
  /** The room joined. */
  room: string;
  /** The LiveKit server (`LIVEKIT_URL`), named when the connection fails. */
  url: string;
  /** The user an admin acts for (their calls are read), or null for the caller. */
  userId: number | null;
  /** Why the connection failed, or null. */
  error: string | null;
  /** Leaves the room. */
  onLeave: () => void;
}

/** The session's controls and timeline. */
export function VoiceSession({ room, url, userId, error, onLeave }: VoiceSessionProps) {
  const connection = useConnectionState();
  const assistant = useVoiceAssistant();
  const transcriptions = useTranscriptions();
  const { localParticipant } = useLocalParticipant();
  const mic = useTrackToggle({ source: Track.Source.Microphone });
  const playback = useAudioPlayback();
  const connected = connection === ConnectionState.Connected;
  const { calls, error: callsError } = useRoomCalls(room, userId, connected);
  const words = error ? { text: 'Failed', tone: 'bad' } : CONNECTION_WORDS[connection];
  const waiting = connected && !assistant.agent;

  return (
    <div className="voice-session" data-room-state={error ? 'failed' : connection}>
      <div className="voice-bar">
        <span id="connection-state" className={`pill ${words.tone}`} data-connection={connection}>
          <span className="dot" aria-hidden="true" />
          LiveKit: {words.text}
        </span>
        <AgentStatePill state={waiting ? 'waiting' : assistant.state} />
        <span className="hint">
          Room <code data-room>{room}</code>
        </span>
      </div>

      {error ? (
        <div id="voice-error" className="errors" role="alert">
          <p>
            Could not connect to LiveKit at <code className="wrap">{url}</code>: {error}
          </p>
          <p>Check that LIVEKIT_URL names a running LiveKit server, then start again.</p>
        </div>
      ) : null}
      {waiting ? (
        <p id="agent-waiting" className="hint">
          Waiting for the agent to join: is <code>npm run agent</code> running?
        </p>
      ) : null}

      {assistant.audioTrack ? (
        <BarVisualizer
          className="agent-bars"
          aria-hidden="true"
          state={assistant.state}
          barCount={7}
          track={assistant.audioTrack}
        />
      ) : null}

      <div className="actions">
        {connected ? (
          <button
            id="mic-toggle"
            type="button"
            className="secondary"
            data-mic={mic.enabled ? 'on' : 'off'}
            disabled={mic.pending}
            onClick={() => void mic.toggle()}
          >
            {mic.enabled ? 'Mute microphone' : 'Unmute microphone'}
          </button>
        ) : null}
        {!playback.canPlayAudio ? (
          <button
            id="allow-audio"
            type="button"
            className="secondary"
            onClick={() => void playback.startAudio()}
          >
            Allow audio
          </button>
        ) : null}
        <button id="leave-voice" type="button" className="danger" onClick={onLeave}>
          {error ? 'Close' : 'Leave'}
        </button>
      </div>

      {error && transcriptions.length === 0 && calls.length === 0 ? null : (
        <Transcript
          transcriptions={transcriptions}
          localIdentity={localParticipant.identity}
          calls={calls}
        />
      )}
      <AccountLinks />
      <ScreenResources />
      {callsError ? (
        <p className="hint" id="calls-error">
          Tool calls could not be read: {callsError}
        </p>
      ) : null}
      <RoomAudioRenderer />
    </div>
  );
}
