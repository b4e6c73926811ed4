/**
 * `POST /api/livekit/token`: a LiveKit access token for the caller to join a room, carrying an
 * explicit dispatch of the agent whose job metadata is `{"userId": <caller id>}`, the form
 * `agent/user-resolution.ts` reads. Follows the LiveKit docs "Tokens & grants" (video grant,
 * `roomConfig`) and "Agent dispatch › Dispatch on participant connection": the agents in a
 * token's room configuration are dispatched when that participant's join creates the room.
 *
 * Rooms belong to users (DESIGN §9.5): the first token for a room name claims it for its user
 * (`voice_rooms`), and a room claimed by someone else answers 404, as a foreign server does, so
 * nobody can join another user's agent by guessing or reusing a room name.
 */
import { randomBytes } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { Router } from 'express';
import { AccessToken, RoomAgentDispatch, RoomConfiguration } from 'livekit-server-sdk';
import type { z } from 'zod';
import type { Database } from '../../shared/db/open.js';
import { users, type User } from '../../shared/db/schema.js';
import { listRoomToolCalls } from '../../shared/db/tool-calls.js';
import { claimVoiceRoom, voiceRoomOwner } from '../../shared/db/voice-rooms.js';
import { participantIdentity } from '../../shared/livekit-identity.js';
import { API_ROUTES } from '../api/routes.js';
import type { roomToolCallResource } from '../api/schemas.js';
import { currentUser } from '../http/auth.js';
import { HttpError, NotFoundError } from '../http/errors.js';
import { parseRequest } from '../api/route-spec.js';
import { actingUserId } from '../http/scope.js';

/** The agent name dispatched when none is given: the `AGENT_NAME` setting's default. */
export const DEFAULT_AGENT_NAME = 'switchboard';

/** How long a minted token can be used to join, in seconds, when none is given: one hour. */
export const DEFAULT_LIVEKIT_TOKEN_TTL_SECONDS = 3600;

/** The LiveKit settings a token needs (`LIVEKIT_URL`, `LIVEKIT_API_KEY`, `LIVEKIT_API_SECRET`). */
export interface LivekitCredentials {
  url?: string;
  apiKey?: string;
  apiSecret?: string;
}

/** 503 `livekit_unconfigured`: a LiveKit setting is missing, so no token can be minted. */
export class LivekitUnconfiguredError extends HttpError {
  override readonly name = 'LivekitUnconfiguredError';

  /** @param missing the names of the missing settings, e.g. `['LIVEKIT_API_SECRET']`. */
  constructor(missing: readonly string[]) {
    super(
      503,
      'livekit_unconfigured',
      `LiveKit is not configured: set ${joinNames(missing)} to mint room tokens.`,
    );
  }
}

/** `a`, `a and b`, `a, b and c`. */
function joinNames(names: readonly string[]): string {
  return names.length <= 1
    ? (names[0] ?? '')
    : `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`;
}

/**
 * The LiveKit settings missing from `livekit`, by their environment names, in the order
 * `LIVEKIT_URL`, `LIVEKIT_API_KEY`, `LIVEKIT_API_SECRET`; empty when all are set. An empty
 * string counts as missing.
 */
export function missingLivekitSettings(livekit: LivekitCredentials | undefined): string[] {
  const missing: string[] = [];
  if (!livekit?.url) missing.push('LIVEKIT_URL');
  if (!livekit?.apiKey) missing.push('LIVEKIT_API_KEY');
  if (!livekit?.apiSecret) missing.push('LIVEKIT_API_SECRET');
  return missing;
}

export { participantIdentity };

/**
 * A new room name, `switchboard-<16 hex digits>` (64 random bits), so that the join creates the
 * room and the dispatch in the token applies.
 */
export function freshRoomName(): string {
  return `switchboard-${randomBytes(8).toString('hex')}`;
}

/** What {@link mintRoomToken} needs. */
export interface RoomTokenOptions {
  /** LiveKit API key, the token's issuer. */
  apiKey: string;
  /** LiveKit API secret that signs the token (HS256). */
  apiSecret: string;
  /** The caller: `id` gives the identity and dispatch metadata, a non-empty `name` the name. */
  user: Pick<User, 'id' | 'name'>;
  /** The room the token may join. */
  room: string;
  /** The agent to dispatch (`AGENT_NAME`). */
  agentName: string;
  /** Seconds the token can be used to join; must be positive. */
  ttlSeconds: number;
}

/**
 * Mints a LiveKit access token (a JWT signed with the API secret) that lets `user` join `room`
 * with publish, subscribe and data permissions, and whose room configuration dispatches
 * `agentName` with the job metadata `{"userId": <user id>}`.
 *
 * @returns the encoded token.
 */
export async function mintRoomToken(options: RoomTokenOptions): Promise<string> {
  const { user, room } = options;
  const token = new AccessToken(options.apiKey, options.apiSecret, {
    identity: participantIdentity(user.id),
    ...(user.name.trim() ? { name: user.name } : {}),
    ttl: options.ttlSeconds,
  });
  token.addGrant({
    roomJoin: true,
    room,
    canPublish: true,
    canSubscribe: true,
    canPublishData: true,
  });
  token.roomConfig = new RoomConfiguration({
    agents: [
      new RoomAgentDispatch({
        agentName: options.agentName,
        metadata: JSON.stringify({ userId: user.id }),
      }),
    ],
  });
  return token.toJwt();
}

/**
 * The 404 for a room name another user owns, worded like any missing resource so the answer does
 * not say whose room it is (DESIGN §9.6).
 */
function roomNotFound(room: string): NotFoundError {
  return new NotFoundError(
    `Room "${room}" is not available: choose another name, or omit room to get a fresh one.`,
  );
}

/** How many fresh names are tried before giving up; each is 64 random bits, so one suffices. */
const FRESH_ROOM_ATTEMPTS = 3;

/** Options of {@link livekitRouter}. */
export interface LivekitRouterOptions {
  /** The database holding room ownership (`voice_rooms`) and users. */
  db: Database;
  /** LiveKit settings; any part missing makes the route answer 503 naming it. */
  livekit?: LivekitCredentials;
  /** The agent to dispatch (`AGENT_NAME`); default {@link DEFAULT_AGENT_NAME}. */
  agentName?: string;
  /** Seconds a token can be used to join; default {@link DEFAULT_LIVEKIT_TOKEN_TTL_SECONDS}. */
  tokenTtlSeconds?: number;
}

/**
 * The router for `/api/livekit`: `POST /token` with an optional body `{ "room": "<name>" }`
 * answers 200 `{ token, url, room }` (url = `LIVEKIT_URL`), and `GET /rooms/:room/calls?after=`
 * lists the tool calls made in one of the user's rooms after a call id, oldest first. Mount
 * behind `requireAuth`.
 *
 * The token is for the caller, or, for an admin who sends `?userId=`, for that user (their
 * identity, their agent, their rooms), as on the servers routes. A named room is claimed for
 * that user on first use and must be theirs afterwards; a room the API names itself is fresh
 * and claimed the same way.
 *
 * Errors: 400 for an invalid body or query (checked first); 403 when a non-admin names another
 * user; 404 when an admin names a user that does not exist, or when the room belongs to another
 * user (admins included: they act for the owner with `?userId=`);
 * 503 `livekit_unconfigured` when a LiveKit setting is missing (no room is claimed then).
 */
export function livekitRouter(options: LivekitRouterOptions): Router {
  const router = Router();
  const { db } = options;
  const agentName = options.agentName ?? DEFAULT_AGENT_NAME;
  const ttlSeconds = options.tokenTtlSeconds ?? DEFAULT_LIVEKIT_TOKEN_TTL_SECONDS;

  /** The room the token is for, claimed for `userId`. */
  async function claimRoom(requested: string | undefined, userId: number): Promise<string> {
    if (requested !== undefined) {
      if (!(await claimVoiceRoom(db, requested, userId))) throw roomNotFound(requested);
      return requested;
    }
    for (let attempt = 0; attempt < FRESH_ROOM_ATTEMPTS; attempt += 1) {
      const room = freshRoomName();
      if (await claimVoiceRoom(db, room, userId)) return room;
    }
    throw new Error(`no free room name after ${FRESH_ROOM_ATTEMPTS} random attempts`);
  }

  router.post('/token', async (req, res) => {
    const { query, body } = parseRequest(API_ROUTES.createLivekitToken, req);
    const userId = await actingUserId(db, res, query.userId);
    const { url, apiKey, apiSecret } = options.livekit ?? {};
    if (!url || !apiKey || !apiSecret) {
      throw new LivekitUnconfiguredError(missingLivekitSettings(options.livekit));
    }
    const user = await tokenUser(db, currentUser(res), userId);
    const room = await claimRoom(body.room, userId);
    const token = await mintRoomToken({ apiKey, apiSecret, user, room, agentName, ttlSeconds });
    // A bearer credential: no cache may keep it (RFC 9111 §5.2.2.5).
    res.set('Cache-Control', 'no-store').json({ token, url, room });
  });

  router.get('/rooms/:room/calls', async (req, res) => {
    const { params, query } = parseRequest(API_ROUTES.listRoomCalls, req);
    const userId = await actingUserId(db, res, query.userId);
    // Never claimed and claimed by someone else answer alike (DESIGN §9.6).
    if ((await voiceRoomOwner(db, params.room)) !== userId) {
      throw new NotFoundError(`Room "${params.room}" does not exist.`);
    }
    const calls = await listRoomToolCalls(db, {
      userId,
      roomName: params.room,
      afterId: query.after,
      limit: query.limit,
    });
    res.json(
      calls.map((call): z.output<typeof roomToolCallResource> => ({
        id: call.id,
        serverId: call.serverId,
        serverName: call.serverName,
        toolName: call.toolName,
        roomName: call.roomName,
        sessionId: call.sessionId,
        startedAt: call.startedAt.toISOString(),
        durationMs: call.durationMs,
        ok: call.ok,
        error: call.error,
        source: call.source,
        tokenLabel: call.tokenLabel,
      })),
    );
  });

  return router;
}

/** The user a token is minted for: the caller, or the user an admin acts for (already checked). */
async function tokenUser(db: Database, caller: User, userId: number): Promise<User> {
  if (userId === caller.id) return caller;
  const [user] = await db.select().from(users).where(eq(users.id, userId)).limit(1);
  // actingUserId found this user a moment ago; gone now means deleted in between.
  if (!user) throw new NotFoundError(`User ${userId} does not exist.`);
  return user;
}
