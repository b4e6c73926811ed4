/**
 * Elicitation on a connection (MCP 2025-11-25, "Elicitation"), against server-everything, which
 * offers `trigger-elicitation-request` (form mode) and `trigger-url-elicitation` (URL mode) only
 * to a client that declared the capability: the capability is declared with a handler and only
 * then; a call's own handler gets the request and its answer reaches the server; the connection's
 * handler answers the rest; a call's timeout is held while the user answers.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ElicitResult } from '@modelcontextprotocol/sdk/types.js';
import { createLogger } from '../../../shared/logger.js';
import type { McpConnection } from '../../../shared/mcp/connection.js';
import {
  declineElicitation,
  type ElicitationHandler,
  type ElicitationParams,
} from '../../../shared/mcp/elicitation.js';
import type { McpServerConfig } from '../../../shared/mcp/server-config.js';
import { toolResultToText } from '../../../shared/mcp/tool-result.js';
import { EVERYTHING_BIN } from '../../helpers/mcp-processes.js';
import { sandboxedConnection } from '../../helpers/sandboxed.js';

const open: McpConnection[] = [];

afterEach(async () => {
  await Promise.all(open.splice(0).map((connection) => connection.close()));
});

function everything(timeoutMs = 20_000): McpServerConfig {
  return {
    transport: 'stdio',
    sandbox: { network: 'none' },
    command: process.execPath,
    args: [EVERYTHING_BIN, 'stdio'],
    env: {},
    timeoutMs,
  };
}

async function connect(
  onElicitation?: ElicitationHandler,
  config = everything(),
): Promise<McpConnection> {
  const connection = sandboxedConnection(config, {
    logger: createLogger({ level: 'silent' }),
    label: 'everything',
    onElicitation,
  });
  open.push(connection);
  await connection.connect();
  await connection.listTools();
  return connection;
}

function names(connection: McpConnection): string[] {
  return connection.tools.map((tool) => tool.name);
}

async function callText(
  connection: McpConnection,
  name: string,
  args: Record<string, unknown> = {},
  onElicitation?: ElicitationHandler,
  timeoutMs?: number,
): Promise<string> {
  return toolResultToText(await connection.callTool(name, args, { onElicitation, timeoutMs })).text;
}

describe('elicitation on a connection', () => {
  it('declares nothing without a handler: the server offers no elicitation tools', async () => {
    const connection = await connect();
    expect(names(connection)).toContain('echo');
    expect(names(connection)).not.toContain('trigger-elicitation-request');
    expect(names(connection)).not.toContain('trigger-url-elicitation');
  });

  it('declares form and URL modes with a handler; declineElicitation declines', async () => {
    const connection = await connect(declineElicitation);
    expect(names(connection)).toEqual(
      expect.arrayContaining(['trigger-elicitation-request', 'trigger-url-elicitation']),
    );
    const text = await callText(connection, 'trigger-elicitation-request');
    expect(text).toContain('User declined to provide the requested information');
  });

  it("hands a call's elicitation to the call's own handler, and its answer to the server", async () => {
    const fallback = vi.fn(declineElicitation);
    const connection = await connect(fallback);
    const asked: ElicitationParams[] = [];
    const text = await callText(connection, 'trigger-elicitation-request', {}, async (params) => {
      asked.push(params);
      return { action: 'accept', content: { name: 'Ada Lovelace', check: true, integer: 7 } };
    });
    expect(fallback).not.toHaveBeenCalled();
    expect(asked).toHaveLength(1);
    const [params] = asked;
    expect(params!.mode ?? 'form').toBe('form');
    expect(params).toMatchObject({
      message: 'Please provide inputs for the following fields:',
      requestedSchema: { type: 'object', required: ['name'] },
    });
    expect(text).toContain('User provided the requested information');
    expect(text).toContain('- Name: Ada Lovelace');
    expect(text).toContain('- Agreed to terms: true');
    expect(text).toContain('- Favorite Integer: 7');
  });

  it('lets the handler steer its call: an abort of the signal it was told to follow is a cancellation', async () => {
    const connection = await connect(declineElicitation);
    const first = new AbortController();
    const next = new AbortController();
    const call = connection
      .callTool(
        'trigger-elicitation-request',
        {},
        {
          signal: first.signal,
          onElicitation: async (_params, context) => {
            // The user is asked; the tool call that waits for the call now is another one.
            context.call!.follow(next.signal);
            next.abort(new Error('never mind'));
            return { action: 'cancel' };
          },
        },
      )
      .catch((error: unknown) => error);
    // Cancelled by the signal it was told to follow, not its first: not the server's timeout.
    expect(await call).toMatchObject({ code: 'cancelled' });
    expect(first.signal.aborted).toBe(false);
  });

  it('hands a URL-mode request over with its link and elicitation id', async () => {
    const connection = await connect(declineElicitation);
    const asked: ElicitationParams[] = [];
    const text = await callText(
      connection,
      'trigger-url-elicitation',
      { url: 'https://example.com/approve', elicitationId: 'el-1' },
      async (params) => {
        asked.push(params);
        return { action: 'accept' };
      },
    );
    expect(asked).toEqual([
      expect.objectContaining({
        mode: 'url',
        url: 'https://example.com/approve',
        elicitationId: 'el-1',
      }),
    ]);
    expect(text).toContain('User completed the URL elicitation flow');
  });

  it("answers cancel when a call's handler throws", async () => {
    const connection = await connect(declineElicitation);
    const text = await callText(connection, 'trigger-elicitation-request', {}, async () => {
      throw new Error('no one to ask');
    });
    expect(text).toContain('User cancelled the elicitation dialog');
  });

  it("holds a call's timeout while its elicitation is answered; a silent call still times out", async () => {
    // The server's own timeout is the default: only the calls have 1 s (a 1 s connect failed
    // once on a busy CI machine before the server had started).
    const connection = await connect(declineElicitation);
    let answered!: (result: ElicitResult) => void;
    const asked = vi.fn();
    const call = callText(
      connection,
      'trigger-elicitation-request',
      {},
      (params) => {
        asked(params);
        return new Promise<ElicitResult>((resolve) => (answered = resolve));
      },
      1_000,
    );
    await vi.waitFor(() => expect(asked).toHaveBeenCalled(), { timeout: 10_000 });
    // The user takes longer than the call's timeout to answer.
    const late = Date.now() + 2_000;
    await vi.waitFor(() => expect(Date.now()).toBeGreaterThan(late), {
      timeout: 5_000,
      interval: 100,
    });
    answered({ action: 'accept', content: { name: 'Slow Answerer' } });
    expect(await call).toContain('- Name: Slow Answerer');

    // A call that asks nothing and never answers still times out after its timeoutMs.
    const started = performance.now();
    const hanging = connection.callTool(
      'trigger-long-running-operation',
      { duration: 30, steps: 2 },
      { timeoutMs: 1_000 },
    );
    await expect(hanging).rejects.toMatchObject({ code: 'timeout' });
    expect(performance.now() - started).toBeLessThan(5_000);
  });
});
