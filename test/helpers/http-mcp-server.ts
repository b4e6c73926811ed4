/**
 * An in-process MCP server over stateful Streamable HTTP (the SDK's `McpServer` and
 * `StreamableHTTPServerTransport`, one transport per session), with an `echo` tool, a count of
 * the calls it ran, and a way to forget every session as a restarted server would (MCP spec,
 * "Session Management": a request with an unknown session id gets 404). With `eliciting`, an
 * `ask-and-work` tool waits `askAfterMs`, asks the client for a name (elicitation, form mode),
 * records the answer, then works `ms` milliseconds before it answers; and a `sign-in` tool
 * answers "URL elicitation required" (MCP 2025-11-25, error -32042, one URL-mode request for
 * {@link SIGN_IN_URL}) until {@link HttpMcpServer.completeSignIn}, then "Signed in". With `logging`, the server
 * declares the logging capability and a `log-and-echo` tool sends three log messages
 * (`notifications/message`: debug, info, warning) related to its call before it echoes.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { InMemoryEventStore } from '@modelcontextprotocol/sdk/examples/shared/inMemoryEventStore.js';
import { z } from 'zod';
import {
  ElicitResultSchema,
  UrlElicitationRequiredError,
  type ElicitResult,
} from '@modelcontextprotocol/sdk/types.js';
import { routeSessionRequest } from './mcp-session-router.js';

/** The page `sign-in` sends the user to on its first call. */
export const SIGN_IN_URL = 'https://login.example.com/authorize?ticket=s3cret';

/** One HTTP request the server received. */
export interface RecordedRequest {
  method: string;
  /** The `Last-Event-ID` header of a resuming GET. */
  lastEventId?: string;
}

/** A running stateful Streamable HTTP MCP server. */
export interface HttpMcpServer {
  /** `http://127.0.0.1:<port>/mcp` */
  url: string;
  /** How many times `echo` ran. */
  readonly echoCalls: number;
  /** How many sessions were initialized. */
  readonly sessions: number;
  /** Every HTTP request received, in order. */
  readonly requests: readonly RecordedRequest[];
  /** With `eliciting`: the answers `ask-and-work` got, in order. */
  readonly answers: readonly ElicitResult[];
  /** With `eliciting`: how many times `sign-in` was called. */
  readonly signInCalls: number;
  /** Marks the user signed in, as finishing on {@link SIGN_IN_URL} would. */
  completeSignIn(): void;
  /** Closes every session's transport and forgets its id, as a restarted server would. */
  forgetSessions(): Promise<void>;
  close(): Promise<void>;
}

/** Options of {@link startHttpMcpServer}. */
export interface HttpMcpServerOptions {
  /**
   * Make streams resumable (MCP spec, "Resumability and Redelivery"): events get ids from an
   * in-memory event store, and each stream opens with a priming event carrying `retry:` this
   * many milliseconds. The `interrupted-echo` tool then closes its own response stream halfway,
   * so the client must reconnect with `Last-Event-ID` to get the result.
   */
  resumableRetryMs?: number;
  /** Offer the `ask-and-work` tool (to a client that declared elicitation). */
  eliciting?: boolean;
  /** Declare the logging capability and offer the `log-and-echo` tool. */
  logging?: boolean;
}

/** Starts the server on a loopback port the kernel picks. */
export async function startHttpMcpServer(
  options: HttpMcpServerOptions = {},
): Promise<HttpMcpServer> {
  const transports = new Map<string, StreamableHTTPServerTransport>();
  let echoCalls = 0;
  let sessions = 0;
  const requests: RecordedRequest[] = [];
  const answers: ElicitResult[] = [];
  let signInCalls = 0;
  let signedIn = false;

  const newSession = async (): Promise<StreamableHTTPServerTransport> => {
    const server = new McpServer(
      { name: 'switchboard-http-fixture', version: '1.0.0' },
      options.logging ? { capabilities: { logging: {} } } : {},
    );
    if (options.logging) {
      server.registerTool(
        'log-and-echo',
        { description: 'Logs three messages, then echoes', inputSchema: { message: z.string() } },
        async ({ message }, extra) => {
          for (const level of ['debug', 'info', 'warning'] as const) {
            await extra.sendNotification({
              method: 'notifications/message',
              params: { level, logger: 'fixture', data: `${level}: ${message}` },
            });
          }
          return { content: [{ type: 'text', text: `Echo: ${message}` }] };
        },
      );
    }
    server.registerTool(
      'echo',
      { description: 'Echoes its message', inputSchema: { message: z.string() } },
      async ({ message }) => {
        echoCalls += 1;
        return { content: [{ type: 'text', text: `Echo: ${message}` }] };
      },
    );
    if (options.eliciting) {
      server.registerTool(
        'ask-and-work',
        {
          description: "Asks for the user's name, then works a while",
          inputSchema: { ms: z.number().default(0), askAfterMs: z.number().default(0) },
        },
        async ({ ms, askAfterMs }, extra) => {
          await new Promise((resolve) => setTimeout(resolve, askAfterMs));
          const answer = await extra.sendRequest(
            {
              method: 'elicitation/create',
              params: {
                message: 'Who is asking?',
                requestedSchema: {
                  type: 'object',
                  properties: { name: { type: 'string', title: 'Your name' } },
                  required: ['name'],
                },
              },
            },
            ElicitResultSchema,
            { timeout: 60_000 },
          );
          answers.push(answer);
          await new Promise((resolve) => setTimeout(resolve, ms));
          const text =
            answer.action === 'accept'
              ? `Worked for ${String(answer.content?.name)}`
              : `Nothing done: the user chose ${answer.action}`;
          return { content: [{ type: 'text', text }] };
        },
      );
    }
    if (options.eliciting) {
      server.registerTool(
        'sign-in',
        { description: 'Signs the user in to Example', inputSchema: {} },
        async () => {
          signInCalls += 1;
          if (!signedIn) {
            throw new UrlElicitationRequiredError([
              {
                mode: 'url',
                url: SIGN_IN_URL,
                message: 'Sign in to Example to continue.',
                elicitationId: 'sign-in-1',
              },
            ]);
          }
          return { content: [{ type: 'text', text: 'Signed in' }] };
        },
      );
    }
    const resumable = options.resumableRetryMs !== undefined;
    if (resumable) {
      server.registerTool(
        'interrupted-echo',
        {
          description: 'Echoes after closing its own response stream',
          inputSchema: { message: z.string() },
        },
        async ({ message }, extra) => {
          transport.closeSSEStream(extra.requestId);
          await new Promise((resolve) => setTimeout(resolve, 50));
          return { content: [{ type: 'text', text: `Echo: ${message}` }] };
        },
      );
    }
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: randomUUID,
      ...(resumable
        ? { eventStore: new InMemoryEventStore(), retryInterval: options.resumableRetryMs }
        : {}),
      onsessioninitialized: (id) => {
        sessions += 1;
        transports.set(id, transport);
      },
    });
    await server.connect(transport);
    return transport;
  };

  const http: Server = createServer(async (req, res) => {
    requests.push({
      method: req.method ?? '',
      lastEventId: req.headers['last-event-id'] as string | undefined,
    });
    await routeSessionRequest(req, res, transports, newSession);
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;

  const forgetSessions = async () => {
    const open = [...transports.values()];
    transports.clear();
    await Promise.all(open.map((transport) => transport.close()));
  };

  return {
    url: `http://127.0.0.1:${port}/mcp`,
    get echoCalls() {
      return echoCalls;
    },
    get sessions() {
      return sessions;
    },
    requests,
    answers,
    get signInCalls() {
      return signInCalls;
    },
    completeSignIn: () => {
      signedIn = true;
    },
    forgetSessions,
    close: async () => {
      await forgetSessions();
      http.closeAllConnections();
      await new Promise((resolve) => http.close(resolve));
    },
  };
}
