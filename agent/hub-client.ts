/**
 * A job process's side of the worker hub (`worker-hub.ts`): listens to the session user's
 * configuration channel, reads the servers its changes name and writes audit batches through the
 * worker, so the session itself holds no Postgres connection while idle and opens none for a
 * change. Messages: `worker-hub-protocol.ts`.
 */
import { connect, type Socket } from 'node:net';
import type { ToolCallRecord } from '../shared/db/tool-calls.js';
import type { Logger } from '../shared/logger.js';
import { BoundedLineReader } from '../shared/mcp/bounded-line-reader.js';
import {
  HUB_ENV,
  MAX_HUB_LINE_BYTES,
  hubMessageSchema,
  serverRowFromWire,
  type ClientMessageInput,
} from './worker-hub-protocol.js';
import type { DatabaseHandle } from '../shared/db/open.js';
import type { McpServerRow } from '../shared/db/schema.js';
import { openServerSecrets } from '../shared/db/server-secrets.js';
import { getServer } from '../shared/db/servers.js';

/** Raised when the hub cannot be reached or a request fails; `message` says which. */
export class HubError extends Error {
  override readonly name = 'HubError';
}

/** Where the hub listens, read from {@link HUB_ENV} (`<socket path>#<token>`). */
export interface HubAddress {
  socketPath: string;
  token: string;
}

/**
 * Reads the hub's address from the environment a job process inherited from its worker.
 *
 * @returns undefined when the variable is unset or malformed (no hub: the session then uses its
 *   own database connection for everything, as tests and single-job runs do).
 */
export function hubAddressFromEnv(env: NodeJS.ProcessEnv = process.env): HubAddress | undefined {
  const value = env[HUB_ENV];
  const hash = value?.lastIndexOf('#') ?? -1;
  if (!value || hash <= 0) return undefined;
  return { socketPath: value.slice(0, hash), token: value.slice(hash + 1) };
}

interface Pending {
  /** Called with the `server` answer's row, or undefined for `done`. */
  resolve(value: unknown): void;
  reject(error: Error): void;
}

/** One job process's connection to its worker's hub. */
export class HubClient {
  readonly #socket: Socket;
  readonly #logger: Logger;
  readonly #pending = new Map<number, Pending>();
  readonly #handlers = new Map<string, Set<(payload: string) => void>>();
  #nextId = 1;
  #closed = false;

  private constructor(socket: Socket, logger: Logger) {
    this.#socket = socket;
    this.#logger = logger;
    const reader = new BoundedLineReader(MAX_HUB_LINE_BYTES);
    socket.on('data', (chunk: Buffer) => {
      try {
        reader.append(chunk, (line) => this.#receive(line));
      } catch {
        socket.destroy(new HubError('the worker hub sent a message that is too large'));
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      const wasClosed = this.#closed;
      this.#closed = true;
      const failure = new HubError('the connection to the worker hub closed');
      for (const pending of this.#pending.values()) pending.reject(failure);
      this.#pending.clear();
      if (!wasClosed && this.#handlers.size > 0) {
        this.#logger.warn('the worker hub went away: server changes no longer reach this session');
      }
    });
  }

  /**
   * Connects to the hub and says hello with its token.
   *
   * @param address from {@link hubAddressFromEnv}.
   * @throws HubError when the socket cannot be reached.
   */
  static async connect(address: HubAddress, logger: Logger): Promise<HubClient> {
    const socket = await new Promise<Socket>((resolve, reject) => {
      const created = connect(address.socketPath);
      created.once('error', (error) =>
        reject(new HubError(`Could not reach the worker hub: ${error.message}`, { cause: error })),
      );
      created.once('connect', () => resolve(created));
    });
    // Idle, the connection does not keep the process alive (see #request).
    socket.unref();
    const client = new HubClient(socket, logger);
    client.#send({ type: 'hello', token: address.token });
    return client;
  }

  /**
   * Listens to a channel through the hub, in the shape of `DatabaseHandle.listen`.
   *
   * @param channel a user's channel, `switchboard_user_<id>` (`userServersChannel`).
   * @returns resolves once the hub listens; the returned function stops listening.
   * @throws HubError when the hub refuses or cannot LISTEN.
   */
  listen = async (
    channel: string,
    handler: (payload: string) => void,
  ): Promise<() => Promise<void>> => {
    let handlers = this.#handlers.get(channel);
    if (!handlers) this.#handlers.set(channel, (handlers = new Set()));
    handlers.add(handler);
    try {
      await this.#request({ type: 'listen', channel });
    } catch (error) {
      handlers.delete(handler);
      throw error;
    }
    return async () => {
      handlers.delete(handler);
      if (handlers.size > 0 || this.#closed) return;
      this.#handlers.delete(channel);
      await this.#request({ type: 'unlisten', channel }).catch(() => {});
    };
  };

  /**
   * Reads one of a user's servers through the hub's pool (`getSealedServer` there).
   *
   * @param userId the session's user; `serverId` the server a change notification named.
   * @returns the row as stored, its secrets sealed (open them with `openServerSecrets`), or
   *   undefined when the user has no such server.
   * @throws HubError when the hub is gone or its read failed; TypeError when its answer is not a
   *   server row.
   */
  readSealedServer = async (
    userId: number,
    serverId: number,
  ): Promise<McpServerRow | undefined> => {
    const row = await this.#request<Record<string, unknown> | null>({
      type: 'readServer',
      userId,
      serverId,
    });
    return row ? serverRowFromWire(row) : undefined;
  };

  /**
   * Writes audit rows through the hub (one INSERT there). The shape of `ToolCallWriter`.
   *
   * @throws HubError when the hub is gone or the INSERT failed (the batcher retries once).
   */
  writeToolCalls = async (records: readonly ToolCallRecord[]): Promise<void> => {
    if (records.length === 0) return;
    await this.#request({
      type: 'toolCalls',
      records: records.map((record) => ({ ...record, startedAt: record.startedAt.toISOString() })),
    });
  };

  /** Ends the connection (the hub stops listening for this job). Safe to call twice. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await new Promise<void>((resolve) => this.#socket.end(resolve));
    this.#socket.destroy();
  }

  /** Sends a request; resolves with the `server` answer's row, or undefined for `done`. */
  #request<T = void>(message: DistributiveOmit<ClientMessageInput, 'id'>): Promise<T> {
    if (this.#closed) return Promise.reject(new HubError('the worker hub connection is closed'));
    const id = this.#nextId++;
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      // Idle, the connection does not keep the process alive; an unanswered request does.
      this.#socket.ref();
      this.#send({ ...message, id } as ClientMessageInput);
    });
  }

  #send(message: ClientMessageInput): void {
    this.#socket.write(`${JSON.stringify(message)}\n`);
  }

  #receive(line: string): void {
    let parsed;
    try {
      parsed = hubMessageSchema.parse(JSON.parse(line));
    } catch {
      this.#logger.warn('ignored a malformed message from the worker hub');
      return;
    }
    if (parsed.type === 'notify') {
      for (const handler of this.#handlers.get(parsed.channel) ?? []) handler(parsed.payload);
      return;
    }
    const pending = this.#pending.get(parsed.id);
    if (!pending) return;
    this.#pending.delete(parsed.id);
    if (this.#pending.size === 0) this.#socket.unref();
    if (parsed.type === 'done') pending.resolve(undefined);
    else if (parsed.type === 'server') pending.resolve(parsed.row);
    else pending.reject(new HubError(`The worker hub could not do it: ${parsed.error}`));
  }
}

/**
 * How a session reads a server that a change notification names (`watchServerChanges`'s
 * `readServer`): through the worker's hub when the session has one, so the change costs no
 * Postgres connection of the session's own; from the session's own database when it has no hub,
 * or when the hub's read fails (logged at debug).
 *
 * @param database the session's database: its key opens the hub's sealed rows.
 * @param userId the session's user; the read finds only that user's servers.
 * @returns `(serverId) => row with plain secrets, or undefined when the user has no such server`;
 *   it rejects as `getServer` does when the fallback read fails, and with SecretError when a
 *   secret cannot be opened.
 */
export function sessionServerReader(
  database: DatabaseHandle,
  userId: number,
  hub: HubClient | undefined,
  logger: Logger,
): (serverId: number) => Promise<McpServerRow | undefined> {
  return async (serverId) => {
    if (hub) {
      try {
        const row = await hub.readSealedServer(userId, serverId);
        return row && openServerSecrets(row, database.secrets);
      } catch (error) {
        if (!(error instanceof HubError)) throw error;
        logger.debug({ err: error, serverId }, 'read the server without the worker hub');
      }
    }
    return getServer(database, userId, serverId);
  };
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
