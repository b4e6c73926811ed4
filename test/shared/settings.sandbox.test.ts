import { describe, expect, it } from 'vitest';
import { StdioSandbox } from '../../shared/mcp/sandbox/stdio-sandbox.js';
import { SettingsError, loadSettings, stdioSandbox } from '../../shared/settings.js';

// Allowed to say MCP_STDIO_SANDBOX=off (suite-coverage.test.ts): it tests that setting itself.
describe('MCP_STDIO_SANDBOX', () => {
  it('sandboxes stdio servers unless it is set to off explicitly', () => {
    expect(loadSettings({}).MCP_STDIO_SANDBOX).toBe('bwrap');
    expect(stdioSandbox(loadSettings({}))).toBeInstanceOf(StdioSandbox);
    expect(stdioSandbox(loadSettings({ MCP_STDIO_SANDBOX: 'off' }))).toBeUndefined();
  });

  it('refuses unknown values and limits too small to run a server', () => {
    expect(() => loadSettings({ MCP_STDIO_SANDBOX: 'none' })).toThrow(SettingsError);
    expect(() => loadSettings({ MCP_SANDBOX_MEMORY_MB: '10' })).toThrow(/MCP_SANDBOX_MEMORY_MB/);
    expect(() => loadSettings({ MCP_SANDBOX_MAX_PROCESSES: '0' })).toThrow(
      /MCP_SANDBOX_MAX_PROCESSES/,
    );
  });
});
