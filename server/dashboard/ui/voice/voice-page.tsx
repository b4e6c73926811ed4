/**
 * The Voice page (placeholder until the LiveKit client lands): mints a room token.
 */
import type { PartStatus, User } from '../types.js';

/** Props of {@link VoicePage}. */
export interface VoicePageProps {
  /** LiveKit's part of the system status, if known. */
  livekit: PartStatus | null;
  /** The user an admin acts for, or null for the caller. */
  actingFor: User | null;
}

/** The page. */
export function VoicePage({ livekit }: VoicePageProps) {
  return (
    <section id="voice" className="card">
      <h2>Talk to the agent</h2>
      <p className="hint">LiveKit: {livekit?.status ?? 'unknown'}</p>
    </section>
  );
}
