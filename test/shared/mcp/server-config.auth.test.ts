/** The `auth` part of a remote server's config: what it accepts, rejects, and reads back. */
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  configFromColumns,
  mcpServerConfigSchema,
  type ServerConfigColumns,
} from '../../../shared/mcp/index.js';

const ecKey = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  .privateKey.export({ type: 'pkcs8', format: 'pem' })
  .toString();
const rsaKeyPair = generateKeyPairSync('rsa', { modulusLength: 2048 });
const rsaKey = rsaKeyPair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const rsaPkcs1Key = rsaKeyPair.privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();

const http = { transport: 'streamable-http', url: 'https://mcp.example.com/mcp' } as const;
const credentials = { type: 'oauth2-client-credentials', clientId: 'c', clientSecret: 's' };

/** The issues of a rejected config as `path: message` lines. */
function problems(input: unknown): string[] {
  const result = mcpServerConfigSchema.safeParse(input);
  expect(result.success).toBe(false);
  return (result.error?.issues ?? []).map((issue) => `${issue.path.join('.')}: ${issue.message}`);
}

describe('auth in a remote server config', () => {
  it('accepts client credentials and defaults the token endpoint auth method to client_secret_basic', () => {
    const config = mcpServerConfigSchema.parse({
      ...http,
      auth: { ...credentials, tokenUrl: 'https://auth.example.com/token', scopes: ['a:b', 'c'] },
    });

    expect(config.transport !== 'stdio' && config.auth).toEqual({
      ...credentials,
      tokenUrl: 'https://auth.example.com/token',
      scopes: ['a:b', 'c'],
      tokenEndpointAuthMethod: 'client_secret_basic',
    });
  });

  it.each([
    ['ES256', ecKey],
    ['RS256', rsaKey],
    ['PS384', rsaKey],
  ])('accepts a private_key_jwt config signing %s with a fitting key', (algorithm, privateKey) => {
    const auth = { type: 'oauth2-private-key-jwt', clientId: 'c', privateKey, algorithm };

    expect(mcpServerConfigSchema.safeParse({ ...http, auth }).success).toBe(true);
  });

  it('rejects an RSA key for ES256, naming the key it needs', () => {
    const auth = {
      type: 'oauth2-private-key-jwt',
      clientId: 'c',
      privateKey: rsaKey,
      algorithm: 'ES256',
    };

    expect(problems({ ...http, auth })).toEqual([
      'auth.privateKey: privateKey must be an EC key on curve prime256v1 to sign ES256',
    ]);
  });

  it.each([
    ['a PKCS#1 PEM', rsaPkcs1Key],
    ['text that is no key', 'not a key'],
  ])('rejects %s as privateKey, asking for PKCS#8', (_what, privateKey) => {
    const auth = { type: 'oauth2-private-key-jwt', clientId: 'c', privateKey, algorithm: 'RS256' };

    expect(problems({ ...http, auth })).toEqual([
      'auth.privateKey: privateKey must be an unencrypted PKCS#8 PEM (-----BEGIN PRIVATE KEY-----)',
    ]);
  });

  it('rejects an algorithm the SDK cannot sign with, listing the valid ones', () => {
    const auth = {
      type: 'oauth2-private-key-jwt',
      clientId: 'c',
      privateKey: ecKey,
      algorithm: 'HS256',
    };

    expect(problems({ ...http, auth })).toEqual([
      'auth.algorithm: algorithm must be one of RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512',
    ]);
  });

  it('rejects client credentials without a secret', () => {
    expect(
      problems({ ...http, auth: { type: 'oauth2-client-credentials', clientId: 'c' } }),
    ).toEqual(['auth.clientSecret: clientSecret is required for oauth2-client-credentials']);
  });

  it('rejects a scope holding a space', () => {
    const lines = problems({ ...http, auth: { ...credentials, scopes: ['read write'] } });

    expect(lines).toEqual([
      'auth.scopes.0: each scope must be one OAuth scope token (printable ASCII without spaces, quotes or backslashes)',
    ]);
  });

  it('rejects a tokenUrl that is not http or https', () => {
    expect(problems({ ...http, auth: { ...credentials, tokenUrl: 'ftp://x/token' } })).toEqual([
      'auth.tokenUrl: tokenUrl must use http or https',
    ]);
  });

  it.each(['oauth2-client-credentials', 'oauth2-private-key-jwt'])(
    'rejects %s over websocket, saying OAuth needs an HTTP transport',
    (type) => {
      const auth =
        type === 'oauth2-client-credentials'
          ? credentials
          : { type, clientId: 'c', privateKey: ecKey, algorithm: 'ES256' };

      expect(problems({ transport: 'websocket', url: 'wss://x/ws', auth })).toEqual([
        `auth.type: ${type} is not supported over websocket: the MCP SDK authorizes only HTTP transports; use streamable-http or sse, or user-token, headers or apiKey`,
      ]);
    },
  );

  it('accepts user-token over websocket', () => {
    const config = { transport: 'websocket', url: 'wss://x/ws', auth: { type: 'user-token' } };

    expect(mcpServerConfigSchema.safeParse(config).success).toBe(true);
  });

  it('rejects apiKey and an Authorization header next to an auth that sets Authorization', () => {
    const lines = problems({
      ...http,
      apiKey: 'k',
      headers: { authorization: 'Bearer x' },
      auth: { type: 'user-token' },
    });

    expect(lines).toEqual([
      'apiKey: apiKey cannot be combined with auth user-token: both set the Authorization header',
      'headers.authorization: an Authorization header cannot be combined with auth user-token, which sets it',
    ]);
  });

  it('rejects unknown fields inside auth', () => {
    const [line] = problems({ ...http, auth: { ...credentials, client_secret: 's' } });

    expect(line).toMatch(/^auth: .*client_secret/);
  });
});

describe('authorization code (oauth) in a remote server config', () => {
  it('accepts oauth with nothing else: the client is registered or described at connect time', () => {
    const config = mcpServerConfigSchema.parse({ ...http, auth: { type: 'oauth' } });
    expect(config.transport !== 'stdio' && config.auth).toEqual({ type: 'oauth' });
  });

  it('accepts a pre-registered client, confidential or public, and scopes', () => {
    const confidential = {
      type: 'oauth',
      clientId: 'switchboard',
      clientSecret: 'shh',
      tokenEndpointAuthMethod: 'client_secret_post',
      scopes: ['read', 'offline_access'],
    };
    const config = mcpServerConfigSchema.parse({ ...http, auth: confidential });
    expect(config.transport !== 'stdio' && config.auth).toEqual(confidential);
    const open = { type: 'oauth', clientId: 'public-app', tokenEndpointAuthMethod: 'none' };
    const parsed = mcpServerConfigSchema.parse({ ...http, auth: open });
    expect(parsed.transport !== 'stdio' && parsed.auth).toEqual(open);
  });

  it('rejects a client secret without its client id, and a secret method without a secret', () => {
    expect(problems({ ...http, auth: { type: 'oauth', clientSecret: 's' } })).toEqual([
      'auth.clientId: clientId is required with clientSecret: a client secret belongs to a pre-registered client',
    ]);
    expect(
      problems({
        ...http,
        auth: { type: 'oauth', clientId: 'c', tokenEndpointAuthMethod: 'client_secret_basic' },
      }),
    ).toEqual([
      'auth.clientSecret: clientSecret is required for tokenEndpointAuthMethod client_secret_basic',
    ]);
    expect(
      problems({ ...http, auth: { type: 'oauth', tokenEndpointAuthMethod: 'private_key_jwt' } }),
    ).toEqual([
      'auth.tokenEndpointAuthMethod: tokenEndpointAuthMethod must be client_secret_basic, client_secret_post or none',
    ]);
  });

  it('rejects oauth over websocket, which the SDK cannot authorize', () => {
    expect(
      problems({
        transport: 'websocket',
        url: 'wss://mcp.example.com/ws',
        auth: { type: 'oauth' },
      }),
    ).toEqual([
      'auth.type: oauth is not supported over websocket: the MCP SDK authorizes only HTTP transports; use streamable-http or sse, or user-token, headers or apiKey',
    ]);
  });
});

describe('configFromColumns with auth', () => {
  const row: ServerConfigColumns = {
    ...http,
    command: null,
    args: [],
    cwd: null,
    env: {},
    headers: {},
    apiKey: null,
    timeoutMs: 10_000,
  };

  it('reads the stored auth back into the config', () => {
    const auth = {
      type: 'oauth2-private-key-jwt' as const,
      clientId: 'c',
      privateKey: ecKey,
      algorithm: 'ES256' as const,
      scopes: ['mcp'],
    };

    const config = configFromColumns({ ...row, auth });

    expect(config.transport !== 'stdio' && config.auth).toEqual(auth);
  });
});
