import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import {
  SecretBox,
  SecretError,
  decodeSecretKey,
  isSealed,
  keyFilePath,
  loadSecretKey,
} from '../../shared/secrets.js';

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'switchboard-secrets-'));
  dirs.push(dir);
  return dir;
}
afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

describe('SecretBox', () => {
  const box = new SecretBox(randomBytes(32));

  it('seals to a versioned format that hides the secret, and opens it again', () => {
    const sealed = box.seal('sk-live-abcdef123456', 'mcp_servers.api_key');
    expect(sealed).toMatch(/^sb:v1:[0-9a-f]{8}:[A-Za-z0-9_-]+$/);
    expect(sealed).not.toContain('abcdef');
    expect(isSealed(sealed)).toBe(true);
    expect(box.open(sealed, 'mcp_servers.api_key')).toBe('sk-live-abcdef123456');
  });

  it('seals equal secrets differently (fresh IV each time)', () => {
    expect(box.seal('same')).not.toBe(box.seal('same'));
  });

  it('refuses a value moved to another context, altered, or sealed by an unknown key', () => {
    const sealed = box.seal('token', 'headers.Authorization');
    expect(() => box.open(sealed, 'env.HOME')).toThrow(SecretError);
    const tampered = sealed.slice(0, -3) + (sealed.endsWith('A') ? 'BBB' : 'AAA');
    expect(() => box.open(tampered, 'headers.Authorization')).toThrow(/authentication/);
    expect(() => new SecretBox(randomBytes(32)).open(sealed)).toThrow(/unknown key/);
    expect(() => box.open('plain text')).toThrow(/not a sealed secret/);
  });

  it('opens values sealed by a previous key during a rotation and says they need resealing', () => {
    const oldKey = randomBytes(32);
    const sealedOld = new SecretBox(oldKey).seal('rotate me');
    const rotated = new SecretBox(randomBytes(32), [oldKey]);
    expect(rotated.open(sealedOld)).toBe('rotate me');
    expect(rotated.needsResealing(sealedOld)).toBe(true);
    expect(rotated.needsResealing(rotated.seal('new'))).toBe(false);
  });

  it('accepts only 32-byte keys', () => {
    expect(() => new SecretBox(randomBytes(16))).toThrow(/32 bytes/);
    expect(() => decodeSecretKey(randomBytes(31).toString('base64'))).toThrow(/decodes to 31/);
  });
});

describe('loadSecretKey', () => {
  it('uses SWITCHBOARD_SECRET_KEY when set', () => {
    const key = randomBytes(32);
    expect(loadSecretKey({ base64Key: key.toString('base64'), dataDir: tempDir() })).toEqual(key);
  });

  it('generates a key file with permissions 0600 once, and reuses it', () => {
    const dataDir = tempDir();
    const told: string[] = [];
    const first = loadSecretKey({ dataDir, onGenerated: (file) => told.push(file) });
    const second = loadSecretKey({ dataDir, onGenerated: (file) => told.push(file) });
    expect(second).toEqual(first);
    expect(told).toEqual([keyFilePath(dataDir)]);
    expect(statSync(keyFilePath(dataDir)).mode & 0o777).toBe(0o600);
    expect(Buffer.from(readFileSync(keyFilePath(dataDir), 'utf8').trim(), 'base64')).toEqual(first);
  });

  it('refuses a malformed key file instead of replacing it', () => {
    const dataDir = tempDir();
    writeFileSync(keyFilePath(dataDir), 'not a key');
    expect(() => loadSecretKey({ dataDir })).toThrow(SecretError);
    expect(readFileSync(keyFilePath(dataDir), 'utf8')).toBe('not a key');
  });
});
