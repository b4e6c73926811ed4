/**
 * The Voice page: talk to the agent from the browser. Start mints a room token
 * (`POST /api/livekit/token`, for the user an admin acts for with `?userId=`), then joins the
 * room with LiveKit's React components (`LiveKitRoom`, microphone on), which dispatches the agent
 * with that user's MCP servers. Without LiveKit configured the page says what to set instead of
 * offering Start.
 */
import { LiveKitRoom } from '@livekit/components-react';
import { useCallback, useEffect, useState } from 'react';
import { api, ApiError, messageOf } from '../api.js';
import type { LivekitToken, PartStatus, User } from '../types.js';
import { VoiceSession } from './voice-session.js';

/** Props of {@link VoicePage}. */
export interface VoicePageProps {
  /** LiveKit's part of the system status, if known. */
  livekit: PartStatus | null;
  /** The user an admin acts for, or null for the caller. */
  actingFor: User | null;
}

/** A joined (or joining) session: the token's answer and why it failed, if it did. */
interface Joined extends LivekitToken {
  error: string | null;
}

/** What the status says when LiveKit is unconfigured but gives no detail. */
const UNCONFIGURED =
  'LiveKit is not configured: set LIVEKIT_URL, LIVEKIT_API_KEY and LIVEKIT_API_SECRET.';

/** The page. */
export function VoicePage({ livekit, actingFor }: VoicePageProps) {
  const [joined, setJoined] = useState<Joined | null>(null);
  const [starting, setStarting] = useState(false);
  const [refused, setRefused] = useState<string | null>(null);
  const [unconfigured, setUnconfigured] = useState<string | null>(null);
  const userId = actingFor?.id ?? null;

  // A session belongs to one user: acting for someone else leaves it.
  useEffect(() => {
    setJoined(null);
    setRefused(null);
  }, [userId]);

  const start = useCallback(async () => {
    setStarting(true);
    setRefused(null);
    try {
      const token = await api<LivekitToken>('POST', tokenPath(userId), {});
      setJoined({ ...token, error: null });
    } catch (error) {
      if (error instanceof ApiError && error.status === 503) setUnconfigured(error.message);
      else setRefused(messageOf(error));
    } finally {
      setStarting(false);
    }
  }, [userId]);

  // The status only says LiveKit is unconfigured; the token route's 503 names exactly the
  // settings missing, and refuses before claiming a room. Should it mint a token after all (the
  // status is stale), the page offers Start and the token is not used.
  const statusUnconfigured = livekit?.status === 'unconfigured';
  const [configuredAfterAll, setConfiguredAfterAll] = useState(false);
  useEffect(() => {
    if (!statusUnconfigured) return;
    let current = true;
    api('POST', tokenPath(userId), {}).then(
      () => current && setConfiguredAfterAll(true),
      (error: unknown) => {
        if (current && error instanceof ApiError && error.status === 503) {
          setUnconfigured(error.message);
        }
      },
    );
    return () => {
      current = false;
    };
  }, [statusUnconfigured, userId]);

  const fail = useCallback((error: Error) => {
    setJoined((now) => (now ? { ...now, error: readable(error) } : now));
  }, []);
  const closed = useCallback(() => {
    // Leaving clears the session first, so only a drop the user did not ask for lands here.
    setJoined((now) => (now && !now.error ? { ...now, error: 'the connection closed.' } : now));
  }, []);
  const noMicrophone = useCallback((failure?: unknown) => {
    setJoined((now) =>
      now ? { ...now, error: `the microphone is not available (${String(failure)}).` } : now,
    );
  }, []);

  const missing =
    unconfigured ??
    (statusUnconfigured && !configuredAfterAll ? livekit?.detail || UNCONFIGURED : null);
  const whose = actingFor ? `${actingFor.name}'s` : 'your';

  return (
    <section id="voice" className="card voice" aria-labelledby="voice-title">
      <h2 id="voice-title">Talk to the agent</h2>
      {missing ? (
        <div id="voice-unconfigured" className="notice-box" role="status">
          <p>
            <strong>{missing}</strong>
          </p>
          <p className="hint">
            Set them in the API&apos;s environment (or <code>.env</code>) and restart it; the agent
            worker (<code>npm run agent</code>) reads the same settings.
          </p>
        </div>
      ) : joined ? (
        <LiveKitRoom
          serverUrl={joined.url}
          token={joined.token}
          connect
          audio
          video={false}
          onError={fail}
          onDisconnected={closed}
          onMediaDeviceFailure={noMicrophone}
          className="voice-room"
        >
          <p id="voice-for" className="hint">
            The agent uses {whose} MCP servers.
          </p>
          <VoiceSession
            room={joined.room}
            url={joined.url}
            userId={userId}
            error={joined.error}
            onLeave={() => setJoined(null)}
          />
        </LiveKitRoom>
      ) : (
        <>
          <p id="voice-for" className="hint">
            Start joins a new LiveKit room with your microphone on; the agent joins it with {whose}{' '}
            MCP servers. You hear it here, and see what each of you says and the tools it calls.
          </p>
          {livekit?.status === 'error' ? (
            <p className="hint" id="livekit-warning">
              LiveKit did not answer the last status check: {livekit.detail}
            </p>
          ) : null}
          {refused ? (
            <p id="voice-error" className="errors" role="alert">
              {refused}
            </p>
          ) : null}
          <div className="actions">
            <button id="start-voice" type="button" disabled={starting} onClick={() => void start()}>
              {starting ? 'Starting…' : 'Start'}
            </button>
          </div>
        </>
      )}
    </section>
  );
}

/** `POST /api/livekit/token`, for the user an admin acts for when `userId` is set. */
function tokenPath(userId: number | null): string {
  return `/api/livekit/token${userId === null ? '' : `?userId=${userId}`}`;
}

/** A connection error for people: LiveKit's message, ending with a full stop. */
function readable(error: Error): string {
  const text = error.message.trim() || error.name;
  return /[.!?]$/.test(text) ? text : `${text}.`;
}
