/**
 * PostgreSQL cannot store NUL (`\u0000`) in `text` or `jsonb` (it fails the whole statement,
 * "invalid byte sequence" or "unsupported Unicode escape sequence"). What MCP servers tell us
 * (their `serverInfo`, capabilities, error texts) is written to such columns, so a server could
 * make every status write of its own row fail. {@link storable} makes such a value storable.
 */

/** What a NUL becomes: U+FFFD REPLACEMENT CHARACTER, so a reader sees something was there. */
const REPLACEMENT = '\uFFFD';

/** Nesting kept before a deeper value is replaced by {@link TOO_DEEP}. */
const MAX_DEPTH = 32;
const TOO_DEEP = '[nested too deeply]';

/**
 * A copy of `value` with every NUL in its strings and object keys replaced by U+FFFD, and any
 * part nested deeper than 32 levels replaced by a note; `value` itself when it holds neither.
 * Plain JSON values only (strings, numbers, booleans, null, arrays, plain objects); `Date`s and
 * other objects are returned as they are.
 *
 * @param value a value about to be written to a `text` or `jsonb` column.
 */
export function storable<T>(value: T): T {
  return clean(value, 0) as T;
}

function clean(value: unknown, depth: number): unknown {
  if (typeof value === 'string') {
    return value.includes('\0') ? value.replaceAll('\0', REPLACEMENT) : value;
  }
  if (value === null || typeof value !== 'object') return value;
  const isArray = Array.isArray(value);
  if (!isArray && Object.getPrototypeOf(value) !== Object.prototype) return value;
  if (depth >= MAX_DEPTH) return TOO_DEEP;
  if (isArray) {
    let changed = false;
    const copy = value.map((item) => {
      const cleaned = clean(item, depth + 1);
      changed ||= cleaned !== item;
      return cleaned;
    });
    return changed ? copy : value;
  }
  let changed = false;
  const copy: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    const cleanKey = clean(key, depth) as string;
    const cleaned = clean(item, depth + 1);
    changed ||= cleaned !== item || cleanKey !== key;
    Object.defineProperty(copy, cleanKey, {
      value: cleaned,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return changed ? copy : value;
}
