/**
 * The LiveKit participant identity of a Switchboard user. The API puts it in the tokens it mints
 * (`server/routes/livekit.ts`) and the agent listens only to the participant with this identity
 * (`agent/run-session.ts`), so both sides must spell it the same way.
 */

/**
 * The LiveKit participant identity of a Switchboard user: `user-<id>`. LiveKit takes it from the
 * token's `sub` claim, which only the holder of the API secret can sign, so a participant cannot
 * choose it (LiveKit docs, "Tokens & grants").
 *
 * @param userId a user id, a positive integer.
 */
export function participantIdentity(userId: number): string {
  return `user-${userId}`;
}
