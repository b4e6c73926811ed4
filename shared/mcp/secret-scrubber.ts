/**
 * Removes a server's secrets from text that came back from it (DESIGN §9.2): an error a failing
 * server answered with may quote the request it got, headers and all, so every message derived
 * from a connection attempt is scrubbed before it is stored, returned, logged or streamed.
 *
 * Each secret is searched for in the forms a server or an HTTP library is likely to echo it in:
 *
 * - as is, and JSON-escaped (an echoed header inside a JSON string);
 * - percent-encoded (RFC 3986, `encodeURIComponent`) and form-encoded (`+` for space,
 *   `application/x-www-form-urlencoded`, how `client_secret_post` sends it);
 * - base64 and base64url (RFC 4648 §4, §5) of any of the above, wherever it sits in a longer
 *   encoded text: HTTP Basic credentials (RFC 7617, base64 of `id:secret`) or a base64 of a
 *   whole JSON body hold the secret at one of three byte alignments, and the characters that
 *   depend only on the secret's bytes are searched for at each of them.
 *
 * Every match becomes {@link SECRET_PLACEHOLDER}. Values shorter than
 * {@link MIN_SCRUBBED_LENGTH} characters are not searched for: an env value like `1` or `on` is
 * stored sealed like any other, but replacing every `1` in a message would make it unreadable
 * while hiding nothing worth hiding. Encoded needles shorter than that are skipped for the same
 * reason (a short secret's base64 may then go unmatched inside a longer base64 text).
 */
import { stdSerializers } from 'pino';
import type { Logger } from '../logger.js';
import type { McpServerConfig } from './server-config.js';

/** What a scrubbed secret is replaced with. */
export const SECRET_PLACEHOLDER = '[secret]';

/** Secrets shorter than this many characters are not scrubbed (see the module doc). */
export const MIN_SCRUBBED_LENGTH = 4;

/** Deepest nesting {@link SecretScrubber.scrubValue} walks into. */
const MAX_DEPTH = 8;

/**
 * Replaces the secrets it was given, in every form listed in the module doc, with `[secret]`.
 * One instance per connection (or per server and user): {@link SecretScrubber.add} takes secrets
 * learned later, such as an OAuth access token the connection obtained.
 */
export class SecretScrubber {
  /** Every needle, longest first so a longer form is replaced before a shorter one inside it. */
  #needles: string[] = [];
  readonly #secrets = new Set<string>();

  /** @param secrets plain secret values; empty and short ones are ignored. */
  constructor(secrets: Iterable<string | undefined | null> = []) {
    for (const secret of secrets) this.add(secret);
  }

  /** How many distinct secrets it scrubs. */
  get size(): number {
    return this.#secrets.size;
  }

  /**
   * Adds a secret (and its encoded forms). Values under {@link MIN_SCRUBBED_LENGTH} characters,
   * `undefined` and `null` are ignored; adding one twice is a no-op.
   */
  add(secret: string | undefined | null): void {
    if (typeof secret !== 'string' || secret.length < MIN_SCRUBBED_LENGTH) return;
    if (this.#secrets.has(secret)) return;
    this.#secrets.add(secret);
    const needles = new Set(this.#needles);
    for (const needle of encodedForms(secret)) {
      if (needle.length >= MIN_SCRUBBED_LENGTH) needles.add(needle);
    }
    this.#needles = [...needles].sort((a, b) => b.length - a.length);
  }

  /**
   * The text with every form of every secret replaced by `[secret]`.
   *
   * @param text any text, e.g. an error message; returned unchanged when it holds no secret.
   */
  scrub(text: string): string {
    let out = text;
    for (const needle of this.#needles) {
      if (out.includes(needle)) out = out.split(needle).join(SECRET_PLACEHOLDER);
    }
    return out;
  }

  /**
   * A copy of a JSON-like value with every string in it (keys included) scrubbed, for log
   * fields and serialized errors. Nesting deeper than 8 levels is replaced by `[truncated]`.
   */
  scrubValue(value: unknown, depth = 0): unknown {
    if (typeof value === 'string') return this.scrub(value);
    if (value === null || typeof value !== 'object') return value;
    if (depth >= MAX_DEPTH) return '[truncated]';
    if (Array.isArray(value)) return value.map((item) => this.scrubValue(item, depth + 1));
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      out[this.scrub(key)] = this.scrubValue(item, depth + 1);
    }
    return out;
  }

  /**
   * An Error whose message is scrubbed, with the same `name`, `code` and (scrubbed) cause
   * chain, for logging an error from the wire. A value that is not an Error becomes one.
   */
  scrubError(error: unknown, depth = 0): Error {
    if (!(error instanceof Error)) return new Error(this.scrub(String(error)));
    const cause =
      error.cause !== undefined && depth < MAX_DEPTH
        ? this.scrubError(error.cause, depth + 1)
        : undefined;
    const copy = new Error(this.scrub(error.message), cause ? { cause } : undefined);
    copy.name = error.name;
    copy.stack = error.stack && this.scrub(error.stack);
    const code = (error as { code?: unknown }).code;
    if (code !== undefined) (copy as { code?: unknown }).code = code;
    return copy;
  }
}

/** Every form of one secret the scrubber searches for (see the module doc). */
function encodedForms(secret: string): string[] {
  const textForms = new Set([
    secret,
    JSON.stringify(secret).slice(1, -1),
    encodeURIComponent(secret),
    new URLSearchParams({ s: secret }).toString().slice(2),
  ]);
  const forms = new Set(textForms);
  for (const text of textForms) {
    for (const needle of base64Needles(Buffer.from(text, 'utf8'))) {
      forms.add(needle);
      forms.add(needle.replace(/\+/g, '-').replace(/\//g, '_'));
    }
  }
  // A PEM's base64 lines may be quoted one at a time.
  if (secret.includes('-----BEGIN')) {
    for (const line of secret.split(/\r?\n/)) {
      if (/^[A-Za-z0-9+/=]{16,}$/.test(line.trim())) forms.add(line.trim());
    }
  }
  return [...forms];
}

/**
 * The base64 characters that encode `bytes` at each of the three alignments it can have inside a
 * longer base64 text: for an offset k, `base64(k filler bytes + bytes)` without the first group
 * (which mixes in the filler) and without a last, partial group (which mixes in what follows).
 */
function base64Needles(bytes: Buffer): string[] {
  const needles: string[] = [];
  for (let offset = 0; offset < 3; offset++) {
    const padded = Buffer.concat([Buffer.alloc(offset), bytes]);
    const fullGroups = Math.floor(padded.length / 3);
    const encoded = padded.subarray(0, fullGroups * 3).toString('base64');
    const needle = encoded.slice(offset === 0 ? 0 : 4);
    if (needle) needles.push(needle);
  }
  // The whole value encoded on its own, padding included (e.g. a base64 header value).
  needles.push(bytes.toString('base64'));
  return needles;
}

/**
 * The secrets of a server config: its API key, header values, env values, and the OAuth client
 * secret or private key. Each is scrubbed as a whole value (its parts, such as a PEM's lines,
 * are derived by the scrubber).
 *
 * @param config a validated server config.
 */
export function configSecrets(config: McpServerConfig): string[] {
  if (config.transport === 'stdio') return Object.values(config.env);
  const secrets = [...Object.values(config.headers)];
  if (config.apiKey) secrets.push(config.apiKey);
  if (config.auth?.type === 'oauth2-client-credentials') secrets.push(config.auth.clientSecret);
  if (config.auth?.type === 'oauth' && config.auth.clientSecret) {
    secrets.push(config.auth.clientSecret);
  }
  if (config.auth?.type === 'oauth2-private-key-jwt') secrets.push(config.auth.privateKey);
  return secrets;
}

/** The secret-bearing columns of a stored server, as {@link secretsOfColumns} reads them. */
export interface SecretColumns {
  env: Record<string, string>;
  headers: Record<string, string>;
  apiKey: string | null;
  auth: { type: string; clientSecret?: string; privateKey?: string } | undefined;
}

/**
 * The secrets of a stored server row (plain, as the queries return it), for scrubbing where the
 * row is at hand but its config may not validate.
 */
export function secretsOfColumns(row: SecretColumns): string[] {
  const secrets = [...Object.values(row.env), ...Object.values(row.headers)];
  if (row.apiKey) secrets.push(row.apiKey);
  if (row.auth?.clientSecret) secrets.push(row.auth.clientSecret);
  if (row.auth?.privateKey) secrets.push(row.auth.privateKey);
  return secrets;
}

/**
 * A child of `logger` whose `err` field (an Error, a message string, anything) is serialized
 * with pino's error serializer, causes included, and then scrubbed, so an error from the wire
 * logged as `{ err }` never carries a secret. Other fields are not touched: log server-supplied
 * text only under `err`, or scrub it first.
 */
export function scrubbingLogger(logger: Logger, scrubber: SecretScrubber): Logger {
  return logger.child(
    {},
    {
      serializers: {
        err: (value: unknown) =>
          scrubber.scrubValue(value instanceof Error ? { ...stdSerializers.err(value) } : value),
      },
    },
  );
}
