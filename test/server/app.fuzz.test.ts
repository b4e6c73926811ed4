/**
 * Generated malformed input against every write route of the running app with a real database:
 * wrong types, missing and extra fields, huge strings, deep nesting, unicode, prototype
 * pollution keys, nulls, arrays for objects, invalid JSON text, wrong content types, bad path
 * parameters and query strings. Every answer must be a 4xx problem document (or a success when
 * the generator happened to build valid input), never a 5xx, and a refused request must leave
 * the database exactly as it was.
 *
 * The routes come from the route registry (`API_ROUTES`), so new write routes are fuzzed too.
 * The generator is seeded: `FUZZ_SEED=<n>` replays a run; failures print the seed and request.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import type { DatabaseHandle } from '../../shared/db/open.js';
import { createLogger } from '../../shared/logger.js';
import { DEFAULT_STDIO_ALLOWED_COMMANDS } from '../../shared/mcp/command-guard.js';
import { ALL_ROUTES } from '../../server/api/routes.js';
import { generateToken, storeToken } from '../../server/http/auth.js';
import { createTestUser, openTestDatabase } from '../helpers/database.js';
import { serve, type TestServer } from '../helpers/http.js';
import { sandboxedApp } from '../helpers/sandboxed.js';

const SEED = Number(process.env.FUZZ_SEED ?? 0x5eed_2026);
/**
 * Generated bodies per write route (each body is new; the routes take turns): a fixed amount of
 * work, about 10 s on an idle 2-core machine and several times that on a loaded one, which the
 * test's generous timeout allows for. `FUZZ_BODIES_PER_ROUTE=<n>` runs shorter or longer.
 */
const BODIES_PER_ROUTE = Number(process.env.FUZZ_BODIES_PER_ROUTE ?? 500);
/** A safety net for a hung request, far above the time the work takes on a loaded machine. */
const FUZZ_TIMEOUT_MS = 600_000;
const STATUSES_ALLOWED = new Set([400, 401, 403, 404, 409, 413, 415, 422]);

/** mulberry32: a small, fast, seeded PRNG (public domain). */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const random = prng(SEED);
const int = (max: number) => Math.floor(random() * max);
const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;

const FIELDS = [
  'name', 'transport', 'url', 'command', 'args', 'env', 'cwd', 'headers', 'apiKey', 'auth',
  'timeoutMs', 'toolFilter', 'isActive', 'description', 'userToken', 'email', 'role', 'label',
  'type', 'clientId', 'clientSecret', 'privateKey', 'algorithm', 'tokenUrl', 'scopes', 'allow',
  'deny', 'userId', 'id',
] as const; // prettier-ignore
const EVIL_KEYS = [
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  'valueOf',
];
const STRINGS = [
  '',
  ' ',
  'stdio',
  'streamable-http',
  'sse',
  'websocket',
  'oauth2-client-credentials',
  'oauth2-private-key-jwt',
  'user-token',
  'none',
  'admin',
  'node',
  '/bin/sh',
  'http://169.254.169.254/latest/meta-data/',
  'http://[::ffff:a9fe:a9fe]/',
  'http://localhost:1/mcp',
  'https://user:pw@mcp.example.com/',
  'https://mcp.example.com/mcp',
  'ftp://x',
  'javascript:alert(1)',
  'not an email',
  'a@b.co',
  '𝕊𝕨𝕚𝕥𝕔𝕙 🎛️',
  'مرحبا‮',
  'zero​width',
  '\u0000',
  '\ud800',
  "'; drop table users; --",
  '${jndi:ldap://x}',
  '../../../etc/passwd',
  'X-Header\r\nInjected: yes',
  '-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----',
  '1e309',
  'NaN',
];
const NUMBERS = [0, -1, 1, 99, 100, 1.5, -0, 2 ** 31, 2 ** 53 + 1, 1e308, -1e308, 600_001];

function randomString(): string {
  switch (int(5)) {
    case 0:
      return 'x'.repeat(int(3) === 0 ? 60_000 : int(300));
    case 1:
      return Array.from({ length: int(40) }, () => String.fromCodePoint(int(0x2ffff))).join('');
    default:
      return pick(STRINGS);
  }
}

/** Any JSON value, up to `depth` levels of nesting. */
function randomValue(depth: number): unknown {
  const kind = depth <= 0 ? int(4) : int(7);
  switch (kind) {
    case 0:
      return null;
    case 1:
      return random() < 0.5;
    case 2:
      return pick(NUMBERS);
    case 3:
      return randomString();
    case 4:
      return Array.from({ length: int(4) }, () => randomValue(depth - 1));
    default:
      return randomObject(depth - 1);
  }
}

function randomObject(depth: number): Record<string, unknown> {
  const object: Record<string, unknown> = {};
  for (let i = int(5); i > 0; i--) {
    const key = int(5) === 0 ? pick(EVIL_KEYS) : pick(FIELDS);
    // defineProperty: `__proto__` must become an own key, as JSON.parse makes it.
    Object.defineProperty(object, key, {
      value: randomValue(depth),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return object;
}

/** Valid bodies of the write routes, to be broken by {@link mutate}. */
const TEMPLATES: Record<string, unknown>[] = [
  { name: 'fuzz', transport: 'streamable-http', url: 'https://mcp.example.com/mcp' },
  { name: 'fuzz', transport: 'stdio', command: 'node', args: ['x'], env: { A: 'b' } },
  {
    name: 'fuzz',
    transport: 'sse',
    url: 'https://mcp.example.com/sse',
    auth: { type: 'oauth2-client-credentials', clientId: 'c', clientSecret: 's' },
  },
  { description: 'changed', toolFilter: { allow: ['a'] } },
  { userToken: 'token' },
  { name: 'Fuzz User', email: 'fuzz@example.com', role: 'user' },
  { label: 'fuzz' },
];

function deepNesting(depth: number, asArray: boolean): string {
  return asArray
    ? '['.repeat(depth) + ']'.repeat(depth)
    : '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
}

/** A template with one field removed, retyped, nulled, replaced or added. */
function mutate(): unknown {
  const body: Record<string, unknown> = structuredClone(pick(TEMPLATES));
  const keys = Object.keys(body);
  const key = pick(keys);
  for (let i = 1 + int(2); i > 0; i--) {
    switch (int(7)) {
      case 0:
        delete body[key];
        break;
      case 1:
        body[key] = null;
        break;
      case 2:
        body[key] = [body[key]];
        break;
      case 3:
        body[key] = randomValue(2);
        break;
      case 4:
        Object.defineProperty(body, pick(EVIL_KEYS), {
          value: { isAdmin: true, role: 'admin' },
          enumerable: true,
          writable: true,
          configurable: true,
        });
        break;
      case 5:
        body[pick(FIELDS)] = randomValue(1);
        break;
      default:
        body[`extra${int(10)}`] = randomValue(1);
    }
  }
  return body;
}

interface FuzzBody {
  text: string;
  contentType: string;
}

const JSON_TYPE = 'application/json';
const INVALID_JSON = [
  '{',
  '{"name":}',
  "{'name':'x'}",
  '{"name":"x",}',
  'NaN',
  'undefined',
  '\u0000',
  '\ufeff{"name":"x"}',
  '{"name":"x"}{"name":"y"}',
  'null',
  '123',
  '"string"',
  'true',
  '[]',
  '[{"name":"x"}]',
  '{"a":"\\ud800"}',
  '{"a":1e999}',
  ' ',
];
const WRONG_TYPES = [
  'text/plain',
  'application/xml',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/json; charset=latin1',
  'application/json; charset=utf-16',
  'text/json',
  'application/jsonx',
];

function generateBody(): FuzzBody {
  const roll = int(20);
  if (roll < 8) return { text: JSON.stringify(mutate()), contentType: JSON_TYPE };
  if (roll < 12) return { text: JSON.stringify(randomObject(3)), contentType: JSON_TYPE };
  if (roll < 13) return { text: JSON.stringify(randomValue(4)), contentType: JSON_TYPE };
  if (roll < 14)
    return { text: deepNesting(1 + int(20_000), random() < 0.5), contentType: JSON_TYPE };
  if (roll < 16) return { text: pick(INVALID_JSON), contentType: JSON_TYPE };
  if (roll < 17) return { text: `{"name":"${'y'.repeat(150_000)}"}`, contentType: JSON_TYPE };
  return { text: JSON.stringify(mutate()), contentType: pick(WRONG_TYPES) };
}

const BAD_IDS = ['abc', '0', '-1', '1.5', '1e3', '99999999999', '9007199254740993', '%20', '%00', '0x10', '[]', '999999']; // prettier-ignore
const BAD_QUERIES = ['', '', '', '?userId=abc', '?userId=-1', '?userId=1&userId=2', '?userId[]=1', '?__proto__[x]=1', '?constructor=1', '?userId=999999', '?userId=%00', '?limit=1']; // prettier-ignore

let database: DatabaseHandle;
let api: TestServer;
let adminToken: string;
let userToken: string;
/** Ids of rows the routes' `:id` may point at: the admin's server, the user's, a token. */
let knownIds: string[];

/**
 * A digest of every table (only `api_tokens.last_used_at` is left out: authenticating writes it).
 * One query; PGlite answers `{ rows }`, postgres-js an array.
 */
async function databaseDigest(): Promise<string> {
  const result = (await database.db.execute(sql`
    select
      (select coalesce(md5(string_agg(t::text, '|' order by t.id)), '') from users t) ||
      (select coalesce(md5(string_agg(row(t.id, t.user_id, t.token_hash, t.label, t.created_at,
        t.revoked_at)::text, '|' order by t.id)), '') from api_tokens t) ||
      (select coalesce(md5(string_agg(t::text, '|' order by t.id)), '') from mcp_servers t) ||
      (select coalesce(md5(string_agg(t::text, '|' order by t.id)), '') from tool_calls t)
      as digest`)) as unknown as { rows: { digest: string }[] } | { digest: string }[];
  const rows = Array.isArray(result) ? result : result.rows;
  return rows[0]!.digest;
}

beforeAll(async () => {
  database = await openTestDatabase();
  const logger = createLogger({ level: 'silent' });
  const [admin, user] = [await createTestUser(database, 'admin'), await createTestUser(database)];
  adminToken = generateToken();
  userToken = generateToken();
  await storeToken(database.db, admin.id, adminToken);
  const tokenId = await storeToken(database.db, user.id, userToken);
  // Seeded through a permissive app (a developer setup); fuzzed through the strict one, where
  // testing either server is refused at once (loopback URL, command off the list).
  const seeder = await serve(sandboxedApp({ database, logger }));
  const remote = await seeder.request('POST', '/api/mcp/servers', {
    token: userToken,
    body: { name: 'Seed remote', transport: 'streamable-http', url: 'http://localhost:1/mcp' },
  });
  const stdio = await seeder.request('POST', '/api/mcp/servers', {
    token: adminToken,
    body: { name: 'Seed stdio', transport: 'stdio', command: 'switchboard-fuzz-missing' },
  });
  await seeder.close();
  expect([remote.status, stdio.status]).toEqual([201, 201]);
  knownIds = [String(remote.body.id), String(stdio.body.id), String(tokenId)];
  api = await serve(
    sandboxedApp({
      database,
      logger,
      rateLimitPerMinute: 0,
      livekit: { url: 'ws://localhost:7880', apiKey: 'devkey', apiSecret: 'secret' },
      guards: {
        urlPolicy: {
          allowPrivateNetworks: false,
          resolve: async () => [{ address: '93.184.216.34' }],
        },
        allowedCommands: DEFAULT_STDIO_ALLOWED_COMMANDS,
      },
    }),
  );
}, 120_000);

afterAll(async () => {
  await api?.close();
  await database?.close();
});

/** Express path with its `:params` filled from `ids`. */
function fill(path: string, ids: readonly string[]): string {
  return path.replace(/:[A-Za-z]+/g, () => pick(ids));
}

async function send(method: string, path: string, token: string | undefined, body?: FuzzBody) {
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body) headers['content-type'] = body.contentType;
  const response = await fetch(api.baseUrl + path, {
    method: method.toUpperCase(),
    headers,
    body: body?.text,
  });
  return {
    status: response.status,
    type: response.headers.get('content-type') ?? '',
    text: await response.text(),
  };
}

describe(`fuzzing every write route (seed ${SEED})`, () => {
  it(
    'answers malformed bodies, params and queries with 4xx problem+json and never writes',
    async () => {
      const writeRoutes = ALL_ROUTES.filter((route) => route.method !== 'get');
      expect(writeRoutes.map((r) => `${r.method} ${r.path}`)).toEqual(
        expect.arrayContaining([
          'post /api/mcp/servers',
          'put /api/mcp/servers/:id',
          'post /api/mcp/servers/:id/test',
        ]),
      );
      const failures: string[] = [];
      const statuses = new Map<number, number>();
      let requests = 0;
      let digest = await databaseDigest();

      const check = async (
        method: string,
        path: string,
        token: string | undefined,
        body?: FuzzBody,
      ) => {
        const answer = await send(method, path, token, body);
        requests += 1;
        statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
        const shown = `${method.toUpperCase()} ${path} ${body ? `[${body.contentType}] ${body.text.slice(0, 200)}` : ''}`;
        const after = await databaseDigest();
        if (answer.status < 300) {
          digest = after; // the generator built valid input: its write is legitimate
          return;
        }
        if (!STATUSES_ALLOWED.has(answer.status)) {
          failures.push(`${answer.status} for ${shown}: ${answer.text.slice(0, 300)}`);
        } else if (!answer.type.includes('application/problem+json')) {
          failures.push(`${answer.status} without problem+json for ${shown}`);
        }
        if (after !== digest) {
          failures.push(`database changed by a refused request (${answer.status}) ${shown}`);
          digest = after;
        }
      };

      // Deletes of real rows are legitimate writes: their params are fuzzed below instead.
      const bodyRoutes = writeRoutes.filter((route) => route.method !== 'delete');
      for (let i = 0; i < BODIES_PER_ROUTE * bodyRoutes.length; i++) {
        const route = bodyRoutes[i % bodyRoutes.length]!;
        const token = int(4) === 0 ? userToken : adminToken;
        const path = fill(route.path, int(5) === 0 ? BAD_IDS : knownIds) + pick(BAD_QUERIES);
        await check(route.method, path, token, generateBody());
      }
      for (const route of writeRoutes.filter((r) => r.path.includes(':'))) {
        for (const id of BAD_IDS) {
          for (const query of ['', '?userId=abc', '?userId=1&userId=2']) {
            await check(route.method, route.path.replace(/:[A-Za-z]+/g, id) + query, adminToken);
          }
        }
      }
      for (const token of [undefined, 'sb_forged', 'Bearer', 'x'.repeat(5000)]) {
        await check('post', '/api/mcp/servers', token, generateBody());
      }

      expect(failures, `seed ${SEED}; statuses ${JSON.stringify([...statuses])}`).toEqual([]);
      expect(requests).toBeGreaterThanOrEqual(BODIES_PER_ROUTE * bodyRoutes.length);
      // The generator must mostly produce refusals, of every kind the contract names.
      for (const status of [400, 403, 404, 413, 415])
        expect(statuses.get(status)).toBeGreaterThan(0);
    },
    FUZZ_TIMEOUT_MS,
  );
});
