/**
 * pino, the logger LiveKit's agents already use, with structured fields first and secrets
 * redacted in one place (DESIGN §7.8) rather than at each call site.
 */
import { pino, type DestinationStream, type Logger as PinoLogger } from 'pino';
import { Writable } from 'node:stream';
import { PinoPretty } from 'pino-pretty';

/** The logger type every module accepts as a dependency. */
export type Logger = PinoLogger;

/** Keys whose value is a secret wherever they appear: server config fields, tokens, passwords. */
const SECRET_KEYS = [
  'apiKey',
  'api_key',
  'headers',
  'env',
  'clientSecret',
  'client_secret',
  'privateKey',
  'private_key',
  'token',
  'userToken',
  'accessToken',
  'access_token',
  'refreshToken',
  'refresh_token',
  'tokenHash',
  'authorization',
  'cookie',
  'password',
  'secret',
  'secretKey',
];

/**
 * Field paths whose values are replaced with `[redacted]` in every log line: each of the secret
 * keys at the top level and up to four levels deep, which covers the shapes that get logged: a
 * server config or row (`{ config }`, `{ row }`: `env`, `headers`, `apiKey`, `auth.clientSecret`,
 * `auth.privateKey`), one nested twice more (`{ event: { change: { server } } }`), a request
 * (`{ req: { headers } }`), a body, an OAuth token response, an API token. A secret must never be
 * logged under another key (e.g. inside an error message).
 */
export const REDACTED_PATHS = SECRET_KEYS.flatMap((key) => [
  key,
  `*.${key}`,
  `*.*.${key}`,
  `*.*.*.${key}`,
  `*.*.*.*.${key}`,
]);

/** Options of {@link createLogger}. */
export interface CreateLoggerOptions {
  /** pino level name; default `info`. `silent` turns logging off (tests). */
  level?: string;
  /** Value of the `name` field on every line, e.g. `server` or `agent`. */
  name?: string;
  /** Where lines go; default standard output. */
  destination?: DestinationStream;
  /**
   * Human-readable lines (pino-pretty: time, level, message, then the fields) instead of JSON;
   * default true when the lines go to standard output and it is a terminal, so a person at a
   * console reads sentences while a log collector (a pipe, a file) still gets JSON.
   */
  pretty?: boolean;
}

/** A stream over a destination that only has `write` (pino-pretty needs a stream). */
function writableOf(destination: DestinationStream): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      destination.write(chunk.toString('utf8'));
      done();
    },
  });
}

/**
 * Creates a logger with Switchboard's redaction rules: JSON lines, or pino-pretty's readable
 * lines for a person at a terminal (see {@link CreateLoggerOptions.pretty}).
 */
export function createLogger(options: CreateLoggerOptions = {}): Logger {
  const pretty = options.pretty ?? (options.destination === undefined && process.stdout.isTTY);
  const destination = pretty
    ? PinoPretty({
        destination: options.destination ? writableOf(options.destination) : 1,
        colorize: options.destination === undefined,
        translateTime: 'SYS:HH:MM:ss.l',
        ignore: 'pid,hostname',
        sync: true,
      })
    : options.destination;
  return pino(
    {
      level: options.level ?? 'info',
      name: options.name,
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    },
    destination,
  );
}
