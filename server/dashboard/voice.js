// @ts-check
/**
 * "Talk to the agent": mints a LiveKit token for a new room whose creation dispatches the agent
 * with the signed-in user's servers (`POST /api/livekit/token`, README "Talking to the agent"),
 * and links it to LiveKit Meet's custom-connection page, which joins with a URL and a token
 * (`https://meet.livekit.io/custom?liveKitUrl=…&token=…`, livekit-examples/meet). The URL and
 * token are also shown for any other client.
 */
import { api, session } from './api.js';
import { byId, h } from './dom.js';

/** LiveKit Meet's page that joins a room with a given server URL and token. */
const MEET_CUSTOM_URL = 'https://meet.livekit.io/custom';

/**
 * Mints a token for a fresh room and shows how to join it; when LiveKit is not configured, shows
 * the API's 503 detail, which names the settings to set. An admin acting for a user mints for
 * that user (`?userId=`): their identity, their servers, their room.
 */
export async function startVoiceSession() {
  const out = byId('voice-result');
  const path =
    session.actingFor === null
      ? '/api/livekit/token'
      : `/api/livekit/token?userId=${encodeURIComponent(String(session.actingFor))}`;
  try {
    const { token, url, room } = await api('POST', path, {});
    const meet = new URL(MEET_CUSTOM_URL);
    meet.searchParams.set('liveKitUrl', url);
    meet.searchParams.set('token', token);
    out.replaceChildren(
      h('p', {}, [
        'Room ',
        h('code', { 'data-room': room }, [room]),
        session.actingFor === null
          ? ' is ready: the agent joins with your servers when you do.'
          : ` is ready for user ${session.actingFor}: the agent joins with their servers.`,
      ]),
      h('p', {}, [
        h('a', { id: 'meet-link', href: meet.href, target: '_blank', rel: 'noopener noreferrer' }, [
          'Join in LiveKit Meet',
        ]),
        ' (opens meet.livekit.io in a new tab and hands it this room token).',
      ]),
      h('details', {}, [
        h('summary', {}, ['Server URL and token for another client']),
        h('p', {}, ['URL ', h('code', {}, [url])]),
        h('p', {}, ['Token ', h('code', { class: 'secret' }, [token])]),
      ]),
    );
  } catch (error) {
    out.replaceChildren(
      h('p', { class: 'result bad' }, [error instanceof Error ? error.message : String(error)]),
    );
  }
  out.hidden = false;
}
