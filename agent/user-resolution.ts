/**
 * Which Switchboard user a LiveKit session belongs to. The normal path is an explicit dispatch
 * whose job metadata is `{"userId": N}` (LiveKit docs, "Agent dispatch › Explicit dispatch":
 * the metadata given to `createDispatch` reaches the job as `ctx.job.metadata`). When the
 * metadata carries no user, the first participant's `switchboard.userId` attribute is used
 * (LiveKit docs, "Participant attributes"), but only from the participant whose identity is that
 * user's (`user-<id>`): a participant allowed to update its own attributes could otherwise name
 * another user and have the session load that user's tools and listen to itself. The identity
 * comes from the signed token, so it cannot be chosen by the participant.
 */
import { participantIdentity } from '../shared/livekit-identity.js';

/** Participant attribute holding the user id when the dispatch metadata has none. */
export const USER_ID_ATTRIBUTE = 'switchboard.userId';

/** Why the user could not be resolved. */
export type UserResolutionErrorCode = 'invalid_user_id' | 'no_user' | 'identity_mismatch';

/** Raised when a session cannot be tied to a user; `message` says what was found and where. */
export class UserResolutionError extends Error {
  override readonly name = 'UserResolutionError';
  readonly code: UserResolutionErrorCode;

  /**
   * @param code `invalid_user_id` when a user id is present but malformed, `no_user` when
   *   neither the metadata nor the participant names one, `identity_mismatch` when a
   *   participant's attribute names a user whose identity the participant does not have.
   * @param message one sentence for logs.
   */
  constructor(code: UserResolutionErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

/**
 * Parses a user id: a positive safe integer, or a string of decimal digits (attributes are
 * always strings).
 *
 * @param value the raw value from metadata or an attribute.
 * @param where a phrase naming the source, used in the error message.
 * @returns the id.
 * @throws UserResolutionError `invalid_user_id` for anything else.
 */
export function parseUserId(value: unknown, where: string): number {
  const id =
    typeof value === 'number'
      ? value
      : typeof value === 'string' && /^\s*\d+\s*$/.test(value)
        ? Number(value)
        : NaN;
  if (!Number.isSafeInteger(id) || id <= 0) {
    throw new UserResolutionError(
      'invalid_user_id',
      `${where} has userId ${JSON.stringify(value)}, which is not a positive integer`,
    );
  }
  return id;
}

/**
 * The user id in a job's metadata.
 *
 * @param metadata `ctx.job.metadata`: `{"userId": N}` from an explicit dispatch, or any other
 *   string (empty, not JSON, JSON without `userId`), which means "no user here".
 * @returns the id, or `undefined` when the metadata names no user.
 * @throws UserResolutionError `invalid_user_id` when `userId` is present but malformed.
 */
export function userIdFromJobMetadata(metadata: string | undefined): number | undefined {
  if (!metadata?.trim()) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(metadata);
  } catch {
    // Other dispatchers may put plain text here; it simply names no user.
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || !('userId' in parsed)) return undefined;
  return parseUserId((parsed as { userId: unknown }).userId, 'the job metadata');
}

/**
 * The user id in a participant's attributes ({@link USER_ID_ATTRIBUTE}).
 *
 * @param attributes the participant's attributes.
 * @param identity the participant's identity, for the error message.
 * @returns the id, or `undefined` when the attribute is absent or empty.
 * @throws UserResolutionError `invalid_user_id` when the attribute is malformed.
 */
export function userIdFromAttributes(
  attributes: Readonly<Record<string, string>>,
  identity = 'the participant',
): number | undefined {
  const value = attributes[USER_ID_ATTRIBUTE];
  if (value === undefined || value.trim() === '') return undefined;
  return parseUserId(value, `participant ${identity}'s ${USER_ID_ATTRIBUTE} attribute`);
}

/** The participant fields user resolution reads; a LiveKit `RemoteParticipant` fits. */
export interface ParticipantLike {
  identity: string;
  attributes: Readonly<Record<string, string>>;
}

/** Where a user can be found; `JobContext` fits (`job.metadata`, `waitForParticipant`). */
export interface UserSource {
  job: { metadata: string };
  /** Resolves with the first non-agent participant (waits for one to join). */
  waitForParticipant(): Promise<ParticipantLike>;
}

/** A resolved user and where the id came from. */
export interface ResolvedUser {
  userId: number;
  source: 'metadata' | 'participant';
  /**
   * The user's own token for servers with `user-token` auth (seed 003), from the dispatch
   * metadata's `userToken` only: participant attributes are visible to everyone in the room.
   */
  userToken?: string;
}

/**
 * The `userToken` string of the job metadata, if any. Never throws: metadata that is not JSON,
 * or has no string `userToken`, has none.
 */
export function userTokenFromJobMetadata(metadata: string | undefined): string | undefined {
  try {
    const parsed: unknown = JSON.parse(metadata ?? '');
    const token = (parsed as { userToken?: unknown } | null)?.userToken;
    return typeof token === 'string' && token !== '' ? token : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Resolves the session's user: the job metadata first; only when it names no user, waits for
 * the first participant and reads its {@link USER_ID_ATTRIBUTE} attribute, which counts only
 * when that participant's identity is the named user's (`user-<id>`, {@link participantIdentity}).
 * Either way the session then listens to identity `user-<id>` alone (`participant-binding.ts`).
 *
 * @throws UserResolutionError `invalid_user_id` when a present id is malformed, `no_user` when
 *   neither source names a user, `identity_mismatch` when the attribute names a user other than
 *   the participant's own; whatever `waitForParticipant` throws (e.g. the room closed).
 */
export async function resolveUser(source: UserSource): Promise<ResolvedUser> {
  const userToken = userTokenFromJobMetadata(source.job.metadata);
  const fromMetadata = userIdFromJobMetadata(source.job.metadata);
  if (fromMetadata !== undefined) return { userId: fromMetadata, source: 'metadata', userToken };

  const participant = await source.waitForParticipant();
  const fromAttribute = userIdFromAttributes(participant.attributes, participant.identity);
  if (fromAttribute !== undefined) {
    if (participant.identity !== participantIdentity(fromAttribute)) {
      throw new UserResolutionError(
        'identity_mismatch',
        `Participant ${participant.identity}'s ${USER_ID_ATTRIBUTE} attribute names user ` +
          `${fromAttribute}, whose identity is ${participantIdentity(fromAttribute)}: only a ` +
          `participant joined as that user may name them (or dispatch with metadata {"userId": N})`,
      );
    }
    return { userId: fromAttribute, source: 'participant', userToken };
  }

  throw new UserResolutionError(
    'no_user',
    `No user for this session: the job metadata has no userId (dispatch with metadata ` +
      `{"userId": N}) and participant ${participant.identity} has no ${USER_ID_ATTRIBUTE} attribute`,
  );
}
