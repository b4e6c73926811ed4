/**
 * Secrets sealed at rest (DESIGN §3): AES-256-GCM from node:crypto, in a versioned text format
 * that names the key that sealed it, so the key can be rotated.
 *
 * Format: `sb:v1:<key id>:<base64url(iv ‖ ciphertext ‖ tag)>`, where the key id is the first 8
 * hex digits of SHA-256 of the key, the IV is 12 random bytes (NIST SP 800-38D §8.2.2) and the tag
 * is 16 bytes. Hand-written only in the sense of choosing this layout: the cipher is node's.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const PREFIX = 'sb:v1:';
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** Length of an AES-256 key in bytes. */
export const SECRET_KEY_BYTES = 32;

/** Raised when a sealed value cannot be opened (wrong or unknown key, or tampered data). */
export class SecretError extends Error {
  override readonly name = 'SecretError';
}

/** The id a key is known by in sealed values: 8 hex digits of its SHA-256. */
export function keyId(key: Buffer): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 8);
}

/** True when `value` is in the sealed format (it may still fail to open). */
export function isSealed(value: string): boolean {
  return value.startsWith(PREFIX);
}

/** Seals and opens secrets with a current key, and opens values sealed by older keys. */
export class SecretBox {
  readonly #current: Buffer;
  readonly #currentId: string;
  readonly #keys = new Map<string, Buffer>();

  /**
   * @param current the 32-byte key new values are sealed with.
   * @param previous older keys still accepted when opening (during a rotation).
   * @throws SecretError when a key is not 32 bytes.
   */
  constructor(current: Buffer, previous: readonly Buffer[] = []) {
    for (const key of [current, ...previous]) {
      if (key.length !== SECRET_KEY_BYTES) {
        throw new SecretError(`a secret key must be ${SECRET_KEY_BYTES} bytes, not ${key.length}`);
      }
      this.#keys.set(keyId(key), key);
    }
    this.#current = current;
    this.#currentId = keyId(current);
  }

  /** Id of the key new values are sealed with. */
  get currentKeyId(): string {
    return this.#currentId;
  }

  /**
   * Seals a secret. Each call uses a fresh random IV, so equal secrets seal differently.
   *
   * @param context optional associated data (e.g. `mcp_servers.api_key`): opening with another
   *   context fails, so a sealed value cannot be moved to another field.
   */
  seal(plain: string, context = ''): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#current, iv);
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final(), cipher.getAuthTag()]);
    return `${PREFIX}${this.#currentId}:${Buffer.concat([iv, body]).toString('base64url')}`;
  }

  /**
   * Opens a sealed secret.
   *
   * @throws SecretError when the value is not sealed, was sealed by an unknown key, was sealed
   *   with another context, or was altered.
   */
  open(sealed: string, context = ''): string {
    if (!isSealed(sealed)) throw new SecretError('the value is not a sealed secret');
    const [id, data] = sealed.slice(PREFIX.length).split(':');
    const key = id ? this.#keys.get(id) : undefined;
    if (!key || !data) throw new SecretError(`the secret was sealed with an unknown key (${id})`);
    const raw = Buffer.from(data, 'base64url');
    if (raw.length < IV_BYTES + TAG_BYTES) throw new SecretError('the sealed secret is truncated');
    const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, IV_BYTES));
    decipher.setAAD(Buffer.from(context, 'utf8'));
    decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
    try {
      return Buffer.concat([
        decipher.update(raw.subarray(IV_BYTES, raw.length - TAG_BYTES)),
        decipher.final(),
      ]).toString('utf8');
    } catch {
      throw new SecretError('the sealed secret failed authentication (altered or wrong context)');
    }
  }

  /** True when the value was sealed with a key other than the current one (rotation pending). */
  needsResealing(sealed: string): boolean {
    return isSealed(sealed) && !sealed.startsWith(`${PREFIX}${this.#currentId}:`);
  }
}

/**
 * Decodes a base64 key from the environment (`SWITCHBOARD_SECRET_KEY`).
 *
 * @throws SecretError when it does not decode to exactly 32 bytes.
 */
export function decodeSecretKey(base64: string, name = 'SWITCHBOARD_SECRET_KEY'): Buffer {
  const key = Buffer.from(base64.trim(), 'base64');
  if (key.length !== SECRET_KEY_BYTES) {
    throw new SecretError(
      `${name} must be ${SECRET_KEY_BYTES} bytes in base64 (e.g. \`openssl rand -base64 32\`); ` +
        `it decodes to ${key.length} bytes`,
    );
  }
  return key;
}

/** Where the embedded default keeps its generated key. */
export function keyFilePath(dataDir: string): string {
  return path.join(dataDir, 'secret.key');
}

/** Options of {@link loadSecretKey}. */
export interface LoadSecretKeyOptions {
  /** `SWITCHBOARD_SECRET_KEY` (base64), when set. */
  base64Key?: string;
  /** `DATA_DIR`: without a key in the environment, the key lives in `<dataDir>/secret.key`. */
  dataDir: string;
  /** Told once when a key file is created. */
  onGenerated?: (file: string) => void;
  /**
   * Create the key file when there is none; default true. The agent worker passes false: a key
   * of its own would not open what the API sealed.
   */
  generate?: boolean;
}

/**
 * The key to seal secrets with: `SWITCHBOARD_SECRET_KEY` when set; otherwise the key in
 * `<dataDir>/secret.key`, generated on first use with permissions 0600.
 *
 * @throws SecretError for a malformed key in the environment or in the key file, or when there
 *   is neither and `generate` is false.
 */
export function loadSecretKey(options: LoadSecretKeyOptions): Buffer {
  if (options.base64Key) return decodeSecretKey(options.base64Key);
  const file = keyFilePath(options.dataDir);
  if (existsSync(file)) return decodeSecretKey(readFileSync(file, 'utf8'), file);
  if (options.generate === false) {
    throw new SecretError(
      `SWITCHBOARD_SECRET_KEY is not set and there is no key file at ${file}: set ` +
        'SWITCHBOARD_SECRET_KEY to the key the API seals secrets with',
    );
  }
  mkdirSync(options.dataDir, { recursive: true });
  const key = randomBytes(SECRET_KEY_BYTES);
  writeFileSync(file, `${key.toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
  chmodSync(file, 0o600);
  options.onGenerated?.(file);
  return key;
}

/** The settings {@link secretBoxFromSettings} reads (a `Settings` object fits). */
export interface SecretKeySettings {
  /** `SWITCHBOARD_SECRET_KEY`: the current key, base64 of 32 bytes. */
  SWITCHBOARD_SECRET_KEY?: string;
  /** `SWITCHBOARD_PREVIOUS_SECRET_KEYS`, split on commas: older keys still accepted. */
  SWITCHBOARD_PREVIOUS_SECRET_KEYS: readonly string[];
  /** Absolute `DATA_DIR`, home of the generated key file. */
  dataDir: string;
}

/**
 * The {@link SecretBox} of a process: current key from {@link loadSecretKey}, plus the previous
 * keys of a rotation.
 *
 * @param options.generate create `<dataDir>/secret.key` when no key is set; default true (the
 *   API); the worker passes false.
 * @param options.onGenerated told once when the key file is created (the API logs it).
 * @throws SecretError for a malformed key, or no key when `generate` is false.
 */
export function secretBoxFromSettings(
  settings: SecretKeySettings,
  options: Pick<LoadSecretKeyOptions, 'generate' | 'onGenerated'> = {},
): SecretBox {
  const current = loadSecretKey({
    base64Key: settings.SWITCHBOARD_SECRET_KEY,
    dataDir: settings.dataDir,
    ...options,
  });
  const previous = settings.SWITCHBOARD_PREVIOUS_SECRET_KEYS.map((key) =>
    decodeSecretKey(key, 'SWITCHBOARD_PREVIOUS_SECRET_KEYS'),
  );
  return new SecretBox(current, previous);
}
