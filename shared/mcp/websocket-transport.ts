/**
 * MCP client transport over WebSocket (subprotocol `mcp`), built on the `ws` package.
 *
 * Why not the SDK's `WebSocketClientTransport` as is: it constructs the global `WebSocket`,
 * which Node 20 does not have, and it cannot send request headers, so a server behind an API
 * key or custom headers would be unreachable. This class keeps the SDK's wire behaviour (one
 * JSON-RPC message per text frame, validated with the SDK's `JSONRPCMessageSchema`) and gives
 * it the `ws` implementation with headers. A frame (or fragmented message) larger than
 * `maxMessageBytes` is refused by `ws` (`maxPayload`) from its header, before its payload is read.
 */
import type { LookupFunction } from 'node:net';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { JSONRPCMessageSchema, type JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { WebSocket } from 'ws';
import { DEFAULT_MAX_MESSAGE_BYTES, McpMessageTooLargeError } from './message-limit.js';

/** The subprotocol MCP servers expect on a WebSocket upgrade. */
export const MCP_WEBSOCKET_SUBPROTOCOL = 'mcp';

/** Options of {@link WebSocketClientTransport}. */
export interface WebSocketClientTransportOptions {
  /** Extra request headers sent with the upgrade request (e.g. `Authorization`). */
  headers?: Record<string, string>;
  /** Milliseconds to wait for the upgrade to complete; default 10000. */
  handshakeTimeoutMs?: number;
  /**
   * Resolves the URL's host name for the TCP/TLS connection, with the signature of `dns.lookup`
   * (passed to `net.connect`/`tls.connect`; not called for a literal IP address). Give it
   * `GuardedNetwork.lookup` (`guarded-network.ts`) so the address connected to is the address checked;
   * its error fails `start()`. Default `dns.lookup`.
   */
  lookup?: LookupFunction;
  /**
   * Largest message accepted from the server, in bytes; default `DEFAULT_MAX_MESSAGE_BYTES`
   * (4 MiB). A larger one closes the socket (status 1009) and is reported to `onerror` as
   * `McpMessageTooLargeError`.
   */
  maxMessageBytes?: number;
}

/** A `Transport` for the SDK's `Client` that speaks MCP over a `ws` WebSocket. */
export class WebSocketClientTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;

  readonly #url: URL;
  readonly #options: WebSocketClientTransportOptions;
  #socket?: WebSocket;

  /** @param url a `ws:` or `wss:` URL. */
  constructor(url: URL, options: WebSocketClientTransportOptions = {}) {
    this.#url = url;
    this.#options = options;
  }

  /**
   * Opens the socket. Resolves once the upgrade succeeded.
   *
   * @throws Error when already started, or when the upgrade fails or is refused.
   */
  start(): Promise<void> {
    if (this.#socket) throw new Error('WebSocketClientTransport already started');
    const maxMessageBytes = this.#options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(this.#url, MCP_WEBSOCKET_SUBPROTOCOL, {
        headers: this.#options.headers,
        maxPayload: maxMessageBytes,
        handshakeTimeout: this.#options.handshakeTimeoutMs ?? 10_000,
        ...(this.#options.lookup && { lookup: this.#options.lookup }),
      });
      this.#socket = socket;
      let opened = false;
      socket.on('open', () => {
        opened = true;
        resolve();
      });
      socket.on('unexpected-response', (_request, response) => {
        const error = new Error(
          `WebSocket upgrade refused: HTTP ${response.statusCode} ${response.statusMessage ?? ''}`.trim(),
        );
        socket.terminate();
        reject(error);
      });
      socket.on('error', (cause) => {
        const error =
          (cause as { code?: unknown }).code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH'
            ? new McpMessageTooLargeError(maxMessageBytes)
            : cause;
        if (!opened) reject(error);
        this.onerror?.(error);
      });
      socket.on('close', () => {
        this.#socket = undefined;
        this.onclose?.();
      });
      socket.on('message', (data, isBinary) => {
        if (isBinary) {
          this.onerror?.(new Error('MCP over WebSocket expects text frames'));
          return;
        }
        let message: JSONRPCMessage;
        try {
          message = JSONRPCMessageSchema.parse(JSON.parse(data.toString()));
        } catch (error) {
          this.onerror?.(error instanceof Error ? error : new Error(String(error)));
          return;
        }
        this.onmessage?.(message);
      });
    });
  }

  /** Sends one JSON-RPC message. @throws Error when the socket is not open. */
  send(message: JSONRPCMessage): Promise<void> {
    const socket = this.#socket;
    if (!socket || socket.readyState !== WebSocket.OPEN) {
      return Promise.reject(new Error('Not connected'));
    }
    return new Promise((resolve, reject) => {
      socket.send(JSON.stringify(message), (error) => (error ? reject(error) : resolve()));
    });
  }

  /** Closes the socket; `onclose` fires when it is closed. */
  async close(): Promise<void> {
    const socket = this.#socket;
    if (!socket) return;
    if (socket.readyState === WebSocket.CONNECTING) socket.terminate();
    else socket.close();
  }
}
