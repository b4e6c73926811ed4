import { describe, expect, it } from 'vitest';
import { SettingsError, connectionGuards, loadSettings } from '../../shared/settings.js';

describe('safety settings', () => {
  it('default to refusing private networks, the four stdio commands, 4 MiB messages, 600 a minute, no CORS', () => {
    const settings = loadSettings({});
    expect(connectionGuards(settings)).toEqual({
      urlPolicy: { allowPrivateNetworks: false },
      allowedCommands: ['node', 'npx', 'uvx', 'python3'],
      maxMessageBytes: 4_194_304,
    });
    expect(settings.API_RATE_LIMIT_PER_MINUTE).toBe(600);
    expect(settings.API_BODY_LIMIT).toBe('100kb');
    expect(settings.CORS_ORIGINS).toEqual([]);
  });

  it('read lists and flags from the environment', () => {
    const settings = loadSettings({
      MCP_ALLOW_PRIVATE_NETWORKS: 'true',
      MCP_STDIO_ALLOWED_COMMANDS: ' node , /opt/mcp/bin/server ,,',
      MCP_MAX_MESSAGE_BYTES: '65536',
      API_RATE_LIMIT_PER_MINUTE: '0',
      API_BODY_LIMIT: '1mb',
      CORS_ORIGINS: 'https://admin.example.com, http://localhost:5173',
    });
    expect(connectionGuards(settings)).toEqual({
      urlPolicy: { allowPrivateNetworks: true },
      allowedCommands: ['node', '/opt/mcp/bin/server'],
      maxMessageBytes: 65_536,
    });
    expect(settings.API_RATE_LIMIT_PER_MINUTE).toBe(0);
    expect(settings.API_BODY_LIMIT).toBe('1mb');
    expect(settings.CORS_ORIGINS).toEqual(['https://admin.example.com', 'http://localhost:5173']);
  });

  it.each([
    ['MCP_ALLOW_PRIVATE_NETWORKS', 'sometimes'],
    ['API_RATE_LIMIT_PER_MINUTE', '-5'],
    ['MCP_MAX_MESSAGE_BYTES', '0'],
    ['API_BODY_LIMIT', 'lots'],
    ['CORS_ORIGINS', 'admin.example.com/path'],
  ])('name %s when it is invalid', (name, value) => {
    expect(() => loadSettings({ [name]: value })).toThrow(SettingsError);
    expect(() => loadSettings({ [name]: value })).toThrow(name);
  });
});
