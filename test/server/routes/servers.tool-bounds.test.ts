/**
 * What a hostile MCP server lists cannot break the API: tools whose definitions hold NUL or
 * control characters, or names off the MCP rule, are skipped (the test answers 200 and the
 * status is stored), NUL in what the server says about itself is stored as U+FFFD, and the
 * `/test` and `/tools` answers list at most `MAX_TOOLS_SHOWN` tools.
 */
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DatabaseHandle } from '../../../shared/db/open.js';
import { mcpServers } from '../../../shared/db/schema.js';
import { createLogger } from '../../../shared/logger.js';
import { generateToken, storeToken } from '../../../server/http/auth.js';
import { MAX_TOOLS_SHOWN } from '../../../server/servers/test-server.js';
import { createTestUser, openTestDatabase } from '../../helpers/database.js';
import { startHostileMcpServer, type HostileMcpServer } from '../../helpers/hostile-mcp-server.js';
import { serve, type TestServer } from '../../helpers/http.js';
import { sandboxedApp } from '../../helpers/sandboxed.js';

const schema = { type: 'object', properties: { q: { type: 'string' } } };
const GOOD = {
  name: 'good.tool-1',
  description: 'Fine\twith tab\nand newline',
  inputSchema: schema,
};
const HOSTILE_TOOLS = [
  { name: 'nul\u0000name', inputSchema: schema },
  { name: 'nul-description', description: 'before\u0000after', inputSchema: schema },
  { name: 'nul-title', title: 'T\u0000', inputSchema: schema },
  {
    name: 'nul-schema-key',
    inputSchema: { type: 'object', properties: { 'a\u0000b': { type: 'string' } } },
  },
  {
    name: 'nul-schema-value',
    inputSchema: { type: 'object', properties: { a: { type: 'string', default: '\u0000' } } },
  },
  { name: 'bell\u0007', inputSchema: schema },
  { name: 'escape-description', description: 'red \u001b[31m text', inputSchema: schema },
  { name: 'x'.repeat(129), inputSchema: schema },
  GOOD,
];

let database: DatabaseHandle;
let api: TestServer;
let token: string;
const servers: HostileMcpServer[] = [];

beforeAll(async () => {
  database = await openTestDatabase();
  api = await serve(sandboxedApp({ database, logger: createLogger({ level: 'silent' }) }));
  const user = await createTestUser(database);
  token = generateToken();
  await storeToken(database.db, user.id, token);
});

afterAll(async () => {
  await Promise.all(servers.map((server) => server.close()));
  await api?.close();
  await database?.close();
});

/** A hostile server listing `tools`, registered for the user; its id. */
async function register(
  tools: unknown[],
  serverInfo?: { name: string; version: string },
): Promise<number> {
  const server = await startHostileMcpServer({ toolsList: { tools }, serverInfo });
  servers.push(server);
  const created = await api.request('POST', '/api/mcp/servers', {
    token,
    body: {
      name: `Hostile ${servers.length}`,
      transport: 'streamable-http',
      url: `${server.origin}/mcp`,
    },
  });
  expect(created.status).toBe(201);
  return created.body.id as number;
}

async function storedRow(id: number) {
  const [row] = await database.db.select().from(mcpServers).where(eq(mcpServers.id, id));
  return row!;
}

describe('tool definitions a server may not send', () => {
  it('are skipped: the test answers 200 with the usable tools and the status is stored', async () => {
    const id = await register(HOSTILE_TOOLS);
    const res = await api.request('POST', `/api/mcp/servers/${id}/test`, { token });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'connected', toolCount: 1, truncated: false });
    expect(res.body.tools.map((tool: { originalName: string }) => tool.originalName)).toEqual([
      'good.tool-1',
    ]);
    const row = await storedRow(id);
    expect(row.connectionStatus).toBe('connected');
    expect(row.metadata.toolNames).toEqual(['good.tool-1']);

    const tools = await api.request('GET', `/api/mcp/servers/${id}/tools`, { token });
    expect(tools.status).toBe(200);
    expect(tools.body).toHaveLength(1);
  });

  it('NUL in what the server says about itself is stored as U+FFFD, not a failed write', async () => {
    const id = await register([GOOD], { name: 'evil\u0000server', version: '1\u0000' });
    const res = await api.request('POST', `/api/mcp/servers/${id}/test`, { token });
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('connected');
    const row = await storedRow(id);
    expect(row.connectionStatus).toBe('connected');
    expect(row.metadata.serverInfo).toEqual({ name: 'evil\uFFFDserver', version: '1\uFFFD' });
  });
});

describe('a server listing more tools than an answer shows', () => {
  const many = Array.from({ length: MAX_TOOLS_SHOWN + 100 }, (_, i) => ({
    name: `tool-${i}`,
    inputSchema: schema,
  }));

  it(`lists the first ${MAX_TOOLS_SHOWN} in /test, with the total and a truncated flag`, async () => {
    const id = await register(many);
    const res = await api.request('POST', `/api/mcp/servers/${id}/test`, { token });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'connected', toolCount: 600, truncated: true });
    expect(res.body.tools).toHaveLength(MAX_TOOLS_SHOWN);
    expect(res.body.tools[0].originalName).toBe('tool-0');
    expect((await storedRow(id)).metadata.toolCount).toBe(600);
  });

  it(`lists the first ${MAX_TOOLS_SHOWN} in /tools, with the total in X-Total-Count`, async () => {
    const id = await register(many);
    const res = await api.request('GET', `/api/mcp/servers/${id}/tools`, { token });
    expect(res.status).toBe(200);
    expect(res.body).toHaveLength(MAX_TOOLS_SHOWN);
    expect(res.headers.get('x-total-count')).toBe('600');
  });
});
