import { describe, expect, it } from 'vitest';
import { createLogger } from '../../shared/logger.js';

const SECRETS = {
  env: 'env-secret-1111',
  header: 'header-secret-2222',
  apiKey: 'api-key-secret-3333',
  clientSecret: 'client-secret-4444',
  privateKey: '-----BEGIN PRIVATE KEY-----private-key-secret-5555',
  token: 'sb_token-secret-6666',
  access: 'access-token-secret-7777',
};

/** A server config or row as the code holds it, with every secret set. */
const server = {
  id: 1,
  name: 'Planted',
  env: { API_TOKEN: SECRETS.env },
  headers: { 'X-Api-Key': SECRETS.header },
  apiKey: SECRETS.apiKey,
  auth: { type: 'oauth2-client-credentials', clientId: 'c', clientSecret: SECRETS.clientSecret },
};

function capture(): { lines: string[]; text: () => string } {
  const lines: string[] = [];
  return { lines, text: () => lines.join('') };
}

describe('logger redaction', () => {
  it('never writes the secrets of the shapes the code logs, at any of their usual depths', () => {
    const out = capture();
    const logger = createLogger({
      level: 'trace',
      destination: { write: (l) => out.lines.push(l) },
    });
    const jwt = {
      ...server,
      auth: { type: 'oauth2-private-key-jwt', privateKey: SECRETS.privateKey },
    };

    logger.info(server, 'a row as the fields');
    logger.info({ row: server, config: jwt }, 'a row and a config');
    logger.info({ change: { server, previous: jwt } }, 'nested once more');
    logger.info({ event: { change: { server } } }, 'nested three deep');
    logger.info({ req: { headers: { authorization: `Bearer ${SECRETS.token}` } } }, 'request');
    logger.info({ body: { ...server, token: SECRETS.token } }, 'a body');
    logger.info({ response: { access_token: SECRETS.access, token_type: 'Bearer' } }, 'oauth');
    logger.child({ apiKey: SECRETS.apiKey }).info({ userToken: SECRETS.token }, 'child');

    const text = out.text();
    expect(out.lines).toHaveLength(8);
    for (const secret of Object.values(SECRETS)) expect(text).not.toContain(secret);
    expect(text).toContain('[redacted]');
    // What is not secret stays readable.
    expect(text).toContain('"name":"Planted"');
    expect(text).toContain('"clientId":"c"');
  });
});

describe('logger format', () => {
  it('writes readable lines when pretty, with the level, the message and the fields, redacted', () => {
    const out = capture();
    const logger = createLogger({
      pretty: true,
      name: 'switchboard',
      destination: { write: (l) => out.lines.push(l) },
    });
    logger.warn({ serverId: 3, apiKey: SECRETS.apiKey }, 'mcp connection lost');
    const text = out.text();
    expect(text).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] WARN \(switchboard\): mcp connection lost\n/);
    expect(text).toContain('serverId: 3');
    expect(text).not.toContain(SECRETS.apiKey);
    expect(() => JSON.parse(out.lines[0]!)).toThrow();
  });

  it('writes one JSON object a line otherwise', () => {
    const out = capture();
    const logger = createLogger({ destination: { write: (l) => out.lines.push(l) } });
    logger.info({ serverId: 3 }, 'mcp server connected');
    expect(JSON.parse(out.lines[0]!)).toMatchObject({ serverId: 3, msg: 'mcp server connected' });
  });
});
