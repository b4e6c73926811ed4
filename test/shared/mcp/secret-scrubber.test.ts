import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../shared/logger.js';
import {
  SECRET_PLACEHOLDER,
  SecretScrubber,
  configSecrets,
  scrubbingLogger,
} from '../../../shared/mcp/secret-scrubber.js';

const SECRET = 'sk-Planted/Secret+42 ?&"=';
const CLIENT_ID = 'switchboard-client';

function b64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}

describe('SecretScrubber', () => {
  const scrubber = new SecretScrubber([SECRET]);

  it('replaces the secret as is, JSON-escaped, percent-encoded and form-encoded', () => {
    const forms = [
      SECRET,
      JSON.stringify(SECRET).slice(1, -1),
      encodeURIComponent(SECRET),
      new URLSearchParams({ s: SECRET }).toString().slice(2),
    ];
    expect(new Set(forms).size).toBe(4);
    for (const form of forms) {
      const out = scrubber.scrub(`server said: <${form}> and more`);
      expect(out, form).toBe(`server said: <${SECRET_PLACEHOLDER}> and more`);
    }
  });

  it('replaces a JSON-quoted echo of the request headers', () => {
    const echoed = JSON.stringify({ headers: { authorization: `Bearer ${SECRET}` } });
    const out = scrubber.scrub(`HTTP 500: ${echoed}`);
    expect(out).not.toContain('Planted');
    expect(out).toContain(SECRET_PLACEHOLDER);
  });

  it('finds the secret inside HTTP Basic credentials, whatever the client id', () => {
    for (const id of [CLIENT_ID, 'a', 'ab', 'abc', 'x'.repeat(17)]) {
      for (const secret of [SECRET, encodeURIComponent(SECRET)]) {
        const basic = `Basic ${b64(`${id}:${secret}`)}`;
        const out = scrubber.scrub(`token endpoint saw authorization: ${basic}`);
        // What is left of the base64 is at most a few characters around the placeholder.
        expect(out, `${id}:${secret}`).toContain(SECRET_PLACEHOLDER);
        const left = out.slice(out.indexOf('Basic ') + 6);
        expect(left.replace(SECRET_PLACEHOLDER, '').length).toBeLessThanOrEqual(
          Math.ceil(((id.length + 1) * 4) / 3) + 8,
        );
      }
    }
  });

  it('finds the base64 and base64url of the secret inside a longer base64 text, at every alignment', () => {
    for (const prefix of ['', 'p', 'pp', 'ppp']) {
      const encoded = b64(`${prefix}{"key":"${SECRET}"}`);
      const url = encoded.replace(/\+/g, '-').replace(/\//g, '_');
      expect(scrubber.scrub(encoded), prefix).toContain(SECRET_PLACEHOLDER);
      expect(scrubber.scrub(url), prefix).toContain(SECRET_PLACEHOLDER);
      // Decoding what is left never gives the secret back.
      const left = scrubber.scrub(encoded).split(SECRET_PLACEHOLDER).join('');
      expect(Buffer.from(left, 'base64').toString('utf8')).not.toContain(SECRET);
    }
  });

  it('replaces every line of a PEM private key quoted on its own', () => {
    const line = 'MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg';
    const pem = `-----BEGIN PRIVATE KEY-----\n${line}\nabcdEFGHijklMNOP\n-----END PRIVATE KEY-----\n`;
    const pemScrubber = new SecretScrubber([pem]);
    expect(pemScrubber.scrub(`bad key: ${line}`)).toBe(`bad key: ${SECRET_PLACEHOLDER}`);
  });

  it('leaves values under 4 characters alone and text without secrets unchanged', () => {
    const short = new SecretScrubber(['1', 'on', 'yes']);
    expect(short.size).toBe(0);
    expect(short.scrub('DEBUG=1 on yes')).toBe('DEBUG=1 on yes');
    expect(scrubber.scrub('nothing to see')).toBe('nothing to see');
  });

  it('scrubs secrets added later, such as an OAuth access token', () => {
    const later = new SecretScrubber();
    later.add('access-token-obtained-9f');
    expect(later.scrub('401 for Bearer access-token-obtained-9f')).toBe(
      `401 for Bearer ${SECRET_PLACEHOLDER}`,
    );
  });

  it('scrubs every string of a value and an error with its causes', () => {
    expect(scrubber.scrubValue({ a: [SECRET], [SECRET]: 1, n: 2 })).toEqual({
      a: [SECRET_PLACEHOLDER],
      [SECRET_PLACEHOLDER]: 1,
      n: 2,
    });
    const error = new TypeError(`outer ${SECRET}`, { cause: new Error(`inner ${SECRET}`) });
    (error as { code?: string }).code = 'E_X';
    const scrubbed = scrubber.scrubError(error);
    expect(scrubbed.name).toBe('TypeError');
    expect((scrubbed as { code?: string }).code).toBe('E_X');
    expect(scrubbed.message).toBe(`outer ${SECRET_PLACEHOLDER}`);
    expect((scrubbed.cause as Error).message).toBe(`inner ${SECRET_PLACEHOLDER}`);
    expect(scrubbed.stack).not.toContain(SECRET);
  });
});

describe('configSecrets', () => {
  it('names the API key, header values, env values, client secret and private key', () => {
    expect(
      configSecrets({
        transport: 'streamable-http',
        url: 'https://x.test/mcp',
        headers: { 'X-A': 'header-value' },
        apiKey: 'api-key-value',
        timeoutMs: 1000,
        auth: {
          type: 'oauth2-client-credentials',
          clientId: 'c',
          clientSecret: 'client-secret-value',
          tokenEndpointAuthMethod: 'client_secret_basic',
        },
      }).sort(),
    ).toEqual(['api-key-value', 'client-secret-value', 'header-value']);
    expect(
      configSecrets({
        transport: 'stdio',
        command: 'node',
        args: [],
        env: { A: 'env-value' },
        timeoutMs: 1000,
      }),
    ).toEqual(['env-value']);
  });
});

describe('scrubbingLogger', () => {
  it('scrubs an error logged as err, its cause included, and an err string', () => {
    const lines: string[] = [];
    const logger = scrubbingLogger(
      createLogger({ level: 'trace', destination: { write: (l) => lines.push(l) } }),
      new SecretScrubber([SECRET]),
    );
    logger.warn({ err: new Error('failed', { cause: new Error(`echo ${SECRET}`) }) }, 'x');
    logger.warn({ err: `plain ${SECRET}` }, 'y');
    const text = lines.join('');
    expect(text).toContain(SECRET_PLACEHOLDER);
    expect(text).toContain('failed');
    expect(text).not.toContain('Planted');
  });
});
