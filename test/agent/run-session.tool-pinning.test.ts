/**
 * Tool pinning in a running voice session (issue 16), in text mode with the framework's testing
 * module: a server that, mid-session, changes a tool's description and adds a tool through
 * `notifications/tools/list_changed` gets neither into the session; the model is offered
 * `<server>__withheld_tools`, which says what changed and that the owner must approve it in the
 * dashboard; after `POST /api/mcp/servers/:id/tools/approve` both tools reach the same session
 * right away, over the same MCP session (no reconnect). Runs on PGlite, or on Postgres when
 * `DATABASE_URL` is set.
 */
import { initializeLogger } from '@livekit/agents';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { runSession, type RunningSession } from '../../agent/run-session.js';
import { generateToken, storeToken } from '../../server/http/auth.js';
import type { DatabaseHandle } from '../../shared/db/open.js';
import { toolPins } from '../../shared/db/schema.js';
import { createServer } from '../../shared/db/servers.js';
import { createLogger } from '../../shared/logger.js';
import { loadSettings } from '../../shared/settings.js';
import {
  startChangingToolsMcpServer,
  type ChangingToolsMcpServer,
} from '../helpers/changing-tools-mcp-server.js';
import { createTestUser, openTestDatabase } from '../helpers/database.js';
import { serve, type TestServer } from '../helpers/http.js';
import { fileSandboxDataDir, sandboxedApp } from '../helpers/sandboxed.js';
import { fakeJob, silentLogger } from './fixtures.js';
import { ScriptedLLM } from './scripted-llm.js';

initializeLogger({ pretty: false, level: 'silent' });

const GREETING = 'instructions: greet the user';
const WITHHELD = 'drifty__withheld_tools';

let database: DatabaseHandle;
let api: TestServer;
let mcp: ChangingToolsMcpServer;

beforeAll(async () => {
  database = await openTestDatabase();
  api = await serve(sandboxedApp({ database, logger: createLogger({ level: 'silent' }) }));
  mcp = await startChangingToolsMcpServer();
});

afterAll(async () => {
  await api?.close();
  await mcp?.close();
  await database?.close();
});

describe('tool pinning in a voice session', () => {
  it('withholds a changed and a new tool until they are approved, then offers both without a restart', async () => {
    const user = await createTestUser(database);
    const token = generateToken();
    await storeToken(database.db, user.id, token);
    const server = await createServer(database, {
      userId: user.id,
      name: 'Drifty',
      transport: 'streamable-http',
      url: mcp.url,
      timeoutMs: 20_000,
    });
    const model = new ScriptedLLM([
      { input: GREETING, content: 'Hello.' },
      { input: 'echo hi', toolCalls: [{ name: 'drifty__echo', args: { message: 'hi' } }] },
      { input: 'Echo: hi', content: 'It said hi.' },
      { input: 'shout please', toolCalls: [{ name: WITHHELD, args: {} }] },
      { input: 'must approve them', content: 'Those tools need approval in the dashboard.' },
      { input: 'shout now', toolCalls: [{ name: 'drifty__shout', args: { text: 'now' } }] },
      { input: 'NOW!', content: 'Shouted.' },
      {
        input: 'echo loudly',
        toolCalls: [{ name: 'drifty__echo', args: { message: 'yo', loud: true } }],
      },
      { input: 'Echo: YO', content: 'Loud.' },
    ]);
    const { ctx, shutdown } = fakeJob(JSON.stringify({ userId: user.id }), 'job-pinning');
    const running: RunningSession = await runSession(ctx, {
      settings: loadSettings({
        DATA_DIR: fileSandboxDataDir(),
        AGENT_GREETING: GREETING,
        AGENT_TOOLS_DEADLINE_MS: '60000',
        MCP_ALLOW_PRIVATE_NETWORKS: 'true',
      }),
      logger: silentLogger(),
      openDatabase: async () => ({ ...database, close: async () => {} }),
      createModel: () => model,
    });
    const advertised = () => Object.keys(running.agent.toolCtx.functionTools).sort();
    try {
      await running.greeting.waitForPlayout();
      // First sight: the session pinned the server's one tool, and offers it.
      expect(advertised()).toEqual(['drifty__echo']);
      const pins = await database.db
        .select()
        .from(toolPins)
        .where(eq(toolPins.serverId, server.id));
      expect(pins.map((pin) => pin.toolName)).toEqual(['echo']);
      const first = await running.session.run({ userInput: 'echo hi' }).wait();
      first.expect.nextEvent().isFunctionCall({ name: 'drifty__echo' });
      first.expect.nextEvent().isFunctionCallOutput({ output: '"Echo: hi"', isError: false });
      const toolset = running.tools.current()[0]!;
      const mcpSession = mcp.calls.at(-1)!.sessionId;
      expect(mcpSession).toBeDefined();

      // Mid-session the server rewrites echo and adds shout (notifications/tools/list_changed).
      // Each change comes with its own list_changed: wait until the session has seen both.
      mcp.change();
      await vi.waitFor(
        () =>
          expect(toolset.withheldTools.map((tool) => [tool.name, tool.state])).toEqual([
            ['drifty__echo', 'changed'],
            ['drifty__shout', 'new'],
          ]),
        { timeout: 20_000, interval: 20 },
      );
      await vi.waitFor(() => expect(advertised()).toEqual([WITHHELD]), {
        timeout: 20_000,
        interval: 20,
      });
      const description = running.agent.toolCtx.functionTools[WITHHELD]!.description;
      expect(description).toContain('drifty__echo, drifty__shout');
      expect(description).toContain('approval in the Switchboard dashboard');

      // Asked for a withheld tool's work, the model learns why it cannot do it.
      const asked = await running.session.run({ userInput: 'shout please' }).wait();
      asked.expect.nextEvent().isFunctionCall({ name: WITHHELD });
      const answer = asked.expect.nextEvent().isFunctionCallOutput({ isError: false }).event()
        .item.output;
      expect(answer).toContain(
        'drifty__echo changed since it was approved (its description and its inputs (1 added) changed)',
      );
      expect(answer).toContain('drifty__shout is new on Drifty');
      expect(answer).toContain('must approve them in the Switchboard dashboard');
      // The server's new text never reaches the model.
      expect(answer).not.toContain('passwords');
      asked.expect.nextEvent().isMessage({ role: 'assistant' });

      // A withheld tool cannot be called either: the session has no such tool.
      const refused = await running.session.run({ userInput: 'shout now' }).wait();
      refused.expect.nextEvent().isFunctionCall({ name: 'drifty__shout' });
      refused.expect.nextEvent().isFunctionCallOutput({ isError: true });
      expect(mcp.calls.map((call) => call.tool)).toEqual(['echo']);

      // The owner approves both in the dashboard (its API); the same session offers them.
      const approved = await api.request('POST', `/api/mcp/servers/${server.id}/tools/approve`, {
        token,
        body: { tools: ['echo', 'shout'] },
      });
      expect(approved.status).toBe(200);
      await vi.waitFor(() => expect(advertised()).toEqual(['drifty__echo', 'drifty__shout']), {
        timeout: 20_000,
        interval: 20,
      });
      expect(running.tools.current()[0]).toBe(toolset);
      expect(toolset.withheldTools).toEqual([]);
      expect(running.agent.toolCtx.functionTools['drifty__echo']!.description).toContain(
        'passwords',
      );

      const shouted = await running.session.run({ userInput: 'shout now' }).wait();
      shouted.expect.nextEvent().isFunctionCall({ name: 'drifty__shout' });
      shouted.expect.nextEvent().isFunctionCallOutput({ output: '"NOW!"', isError: false });
      const loud = await running.session.run({ userInput: 'echo loudly' }).wait();
      loud.expect.nextEvent().isFunctionCall({ name: 'drifty__echo' });
      loud.expect.nextEvent().isFunctionCallOutput({ output: '"Echo: YO"', isError: false });
      // Over the MCP session the toolset had from the start: nothing reconnected.
      expect(mcp.calls.slice(-2)).toEqual([
        { tool: 'shout', sessionId: mcpSession },
        { tool: 'echo', sessionId: mcpSession },
      ]);
    } finally {
      await shutdown();
      await running.session.close();
    }
  });
});
