import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  openServerSecrets,
  sealServerSecrets,
  serverSecretsNeedSealing,
  type ServerSecretColumns,
} from '../../../shared/db/server-secrets.js';
import { SecretBox, SecretError } from '../../../shared/secrets.js';

const box = new SecretBox(randomBytes(32));

const plain: ServerSecretColumns & { id: number; userId: number; name: string } = {
  id: 7,
  userId: 3,
  name: 'visible',
  env: { API_TOKEN: 'env-value-123' },
  headers: { 'X-Tenant': 'header-value-456' },
  apiKey: 'api-key-789',
  auth: {
    type: 'oauth2-client-credentials',
    clientId: 'client-id',
    clientSecret: 'client-secret-000',
    tokenEndpointAuthMethod: 'client_secret_basic',
  },
};

describe('sealServerSecrets and openServerSecrets', () => {
  it('seals every secret, leaves the rest readable, and opens back to the same row', () => {
    const sealed = sealServerSecrets(plain, plain.userId, box);
    const text = JSON.stringify(sealed);
    for (const secret of [
      'env-value-123',
      'header-value-456',
      'api-key-789',
      'client-secret-000',
    ]) {
      expect(text).not.toContain(secret);
    }
    expect(sealed.env.API_TOKEN).toMatch(/^sb:v1:/);
    expect(sealed.apiKey).toMatch(/^sb:v1:/);
    expect(sealed).toMatchObject({ name: 'visible', auth: { clientId: 'client-id' } });
    expect(openServerSecrets({ ...sealed, id: 7 }, box)).toEqual(plain);
  });

  it('seals a private key and leaves absent columns of a partial update absent', () => {
    const patch = sealServerSecrets(
      {
        description: 'x',
        auth: {
          type: 'oauth2-private-key-jwt' as const,
          clientId: 'c',
          privateKey: 'pem',
          algorithm: 'ES256' as const,
        },
      },
      3,
      box,
    );
    expect(Object.keys(patch).sort()).toEqual(['auth', 'description']);
    expect(patch.auth.privateKey).toMatch(/^sb:v1:/);
    expect(sealServerSecrets({ apiKey: null }, 3, box)).toEqual({ apiKey: null });
  });

  it('reads values stored before sealing as plain text, and says they need sealing', () => {
    expect(openServerSecrets(plain, box)).toEqual(plain);
    expect(serverSecretsNeedSealing(plain, box)).toBe(true);
    expect(serverSecretsNeedSealing(sealServerSecrets(plain, 3, box), box)).toBe(false);
    const rotated = new SecretBox(randomBytes(32), [randomBytes(32)]);
    expect(serverSecretsNeedSealing(sealServerSecrets(plain, 3, box), rotated)).toBe(true);
  });

  it('refuses a sealed value moved to another field or another user, naming server and field', () => {
    const sealed = sealServerSecrets(plain, plain.userId, box);
    const moved = { ...sealed, id: 7, headers: { 'X-Tenant': sealed.env.API_TOKEN! } };
    expect(() => openServerSecrets(moved, box)).toThrow(SecretError);
    expect(() => openServerSecrets(moved, box)).toThrow(/headers\.X-Tenant of MCP server 7/);
    expect(() => openServerSecrets({ ...sealed, id: 7, userId: 4 }, box)).toThrow(
      /failed authentication/,
    );
    expect(() => openServerSecrets({ ...sealed, id: 7 }, new SecretBox(randomBytes(32)))).toThrow(
      /unknown key/,
    );
  });
});
