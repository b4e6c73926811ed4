/**
 * pino, the logger LiveKit's agents already use, with structured fields first and secrets
 * redacted in one place (DESIGN §7.8) rather than at each call site.
 */
import { pino, type DestinationStream, type Logger as PinoLogger } from 'pino';

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
}

/** Creates a JSON logger with Switchboard's redaction rules. */
export function createLogger(options: CreateLoggerOptions = {}): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      name: options.name,
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    },
    options.destination,
  );
}
