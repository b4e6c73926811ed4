/**
 * The baseline of the tool-call benchmark: the MCP SDK's `Client` on its own transport, with
 * nothing of Switchboard's in between.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { RequestOptions } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';

/** Where the bare client connects: a stdio command or a Streamable HTTP URL. */
export type BareTarget =
  | { transport: 'stdio'; command: string; args: string[] }
  | { transport: 'streamable-http'; url: string };

/** A connected bare client. */
export interface BareClient {
  /** `Client.callTool`, with the SDK's default options unless `options` are given. */
  callTool(
    name: string,
    args: Record<string, unknown>,
    options?: RequestOptions,
  ): Promise<CallToolResult>;
  /** Closes the client (ending a stdio server's process). */
  close(): Promise<void>;
}

/** Connects an SDK `Client` (runs `initialize`). */
export async function connectBareClient(target: BareTarget): Promise<BareClient> {
  const client = new Client({ name: 'switchboard-bench-bare', version: '0.1.0' });
  const transport =
    target.transport === 'stdio'
      ? new StdioClientTransport({ command: target.command, args: target.args, stderr: 'ignore' })
      : new StreamableHTTPClientTransport(new URL(target.url));
  await client.connect(transport);
  return {
    callTool: async (name, args, options) =>
      (await client.callTool({ name, arguments: args }, undefined, options)) as CallToolResult,
    close: () => client.close(),
  };
}
