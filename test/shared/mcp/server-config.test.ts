import { describe, expect, it } from 'vitest';
import {
  DEFAULT_TIMEOUT_MS,
  configFromColumns,
  envNameRefusal,
  mcpServerConfigSchema,
  type ServerConfigColumns,
} from '../../../shared/mcp/index.js';

/** The issues of a rejected config as `path: message` lines, the way an admin reads them. */
function problems(input: unknown): string[] {
  const result = mcpServerConfigSchema.safeParse(input);
  expect(result.success).toBe(false);
  return (result.error?.issues ?? []).map((issue) => `${issue.path.join('.')}: ${issue.message}`);
}

describe('mcpServerConfigSchema', () => {
  it('accepts a stdio command and fills in args, env and the default timeout', () => {
    expect(mcpServerConfigSchema.parse({ transport: 'stdio', command: ' npx ' })).toEqual({
      transport: 'stdio',
      command: 'npx',
      args: [],
      env: {},
      timeoutMs: DEFAULT_TIMEOUT_MS,
    });
  });

  it('accepts a stdio command with args, env, cwd and a timeout', () => {
    const config = {
      transport: 'stdio',
      command: 'node',
      args: ['server.js', '--verbose'],
      env: { API_TOKEN: 'x', _PRIVATE2: 'y' },
      cwd: '/srv/mcp',
      timeoutMs: 5_000,
    };

    expect(mcpServerConfigSchema.parse(config)).toEqual(config);
  });

  it.each([
    ['streamable-http', 'https://mcp.example.com/mcp'],
    ['sse', 'http://localhost:3001/sse'],
    ['websocket', 'wss://mcp.example.com/ws'],
    ['websocket', 'ws://127.0.0.1:8080'],
  ])('accepts a %s server at %s with headers and an api key', (transport, url) => {
    const config = {
      transport,
      url,
      headers: { 'X-Tenant': 'blue' },
      apiKey: 'secret',
      timeoutMs: 600_000,
    };

    expect(mcpServerConfigSchema.parse(config)).toEqual(config);
  });

  it('fills in empty headers and the default timeout for a remote server', () => {
    expect(mcpServerConfigSchema.parse({ transport: 'sse', url: 'http://x/sse' })).toMatchObject({
      headers: {},
      timeoutMs: DEFAULT_TIMEOUT_MS,
    });
  });

  it('rejects a ws URL for a streamable-http server', () => {
    expect(problems({ transport: 'streamable-http', url: 'ws://mcp.example.com' })).toEqual([
      'url: url must use http or https',
    ]);
  });

  it('rejects an http URL for a websocket server', () => {
    expect(problems({ transport: 'websocket', url: 'https://mcp.example.com' })).toEqual([
      'url: url must use ws or wss',
    ]);
  });

  it('rejects a URL that is not absolute, without throwing, and gives the https:// form', () => {
    expect(problems({ transport: 'sse', url: 'mcp.example.com/sse' })).toEqual([
      'url: url must be an absolute URL with its scheme, such as "https://mcp.example.com/sse"',
    ]);
    expect(problems({ transport: 'sse', url: 'not a url' })).toEqual([
      'url: url must be an absolute URL, such as "https://mcp.example.com/mcp"',
    ]);
  });

  it('rejects a remote server without a URL', () => {
    expect(problems({ transport: 'streamable-http' })).toEqual([
      'url: url is required for a remote server',
    ]);
  });

  it.each([{}, { command: '' }, { command: '   ' }])(
    'rejects a stdio server without a command (%o)',
    (fields) => {
      expect(problems({ transport: 'stdio', ...fields })).toEqual([
        'command: command is required for a stdio server',
      ]);
    },
  );

  it.each(['BAD-NAME', '1ST', 'WITH SPACE', ''])('rejects the env name %j', (name) => {
    const lines = problems({ transport: 'stdio', command: 'node', env: { [name]: 'x' } });

    expect(lines).toEqual([
      `env.${name}: env names must be shell-safe (letters, digits and _, not starting with a digit): ${JSON.stringify(name)}`,
    ]);
  });

  it('rejects a header name that is not an HTTP token', () => {
    const lines = problems({ transport: 'sse', url: 'http://x/sse', headers: { 'X Tenant': 'a' } });

    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^headers\.X Tenant: header names must be HTTP tokens/);
  });

  it('rejects a header value with a line break', () => {
    expect(
      problems({ transport: 'sse', url: 'http://x/sse', headers: { 'X-A': 'a\r\nX-B: b' } }),
    ).toEqual([
      'headers.X-A: header values must not contain line breaks or other control characters (tab is allowed)',
    ]);
  });

  it.each([
    [99, 'timeoutMs: timeoutMs must be at least 100 ms'],
    [600_001, 'timeoutMs: timeoutMs must be at most 600000 ms (10 minutes)'],
  ])('rejects timeoutMs %i', (timeoutMs, line) => {
    expect(problems({ transport: 'stdio', command: 'node', timeoutMs })).toEqual([line]);
  });

  it('rejects a timeoutMs that is not a whole number of milliseconds', () => {
    const lines = problems({ transport: 'sse', url: 'http://x', timeoutMs: 1500.5 });

    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^timeoutMs: /);
  });

  it('rejects an unknown transport, naming the valid ones', () => {
    const [line] = problems({ transport: 'grpc', url: 'http://x' });

    expect(line).toMatch(/^transport: .*stdio.*streamable-http.*sse.*websocket/);
  });
});

describe('configFromColumns', () => {
  const row: ServerConfigColumns = {
    transport: 'stdio',
    url: null,
    command: 'node',
    args: ['server.js'],
    cwd: null,
    env: { TOKEN: 't' },
    headers: {},
    apiKey: null,
    timeoutMs: 10_000,
  };

  it('builds a stdio config from a stored row, leaving out remote fields', () => {
    expect(configFromColumns(row)).toEqual({
      transport: 'stdio',
      command: 'node',
      args: ['server.js'],
      env: { TOKEN: 't' },
      timeoutMs: 10_000,
    });
  });

  it('builds a remote config from a stored row, leaving out stdio fields', () => {
    const config = configFromColumns({
      ...row,
      transport: 'websocket',
      url: 'wss://x/ws',
      command: null,
      args: [],
      env: {},
      headers: { 'X-A': 'a' },
      apiKey: 'k',
    });

    expect(config).toEqual({
      transport: 'websocket',
      url: 'wss://x/ws',
      headers: { 'X-A': 'a' },
      apiKey: 'k',
      timeoutMs: 10_000,
    });
  });

  it('throws when a stored remote server has no URL', () => {
    expect(() => configFromColumns({ ...row, transport: 'sse' })).toThrow(/url/);
  });
});

describe('stdio env names and command forms', () => {
  it('refuses env names that change how programs are found or loaded, each at its own path', () => {
    expect(
      problems({
        transport: 'stdio',
        command: 'node',
        env: { API_TOKEN: 'ok', NODE_OPTIONS: '--require x', LD_PRELOAD: '/x.so' },
      }),
    ).toEqual([
      'env.NODE_OPTIONS: env NODE_OPTIONS is refused: it makes node load other code or change how modules are resolved, or write files; remove it (Switchboard sets PATH, HOME and the locale itself)',
      'env.LD_PRELOAD: env LD_PRELOAD is refused: it makes the dynamic linker or the C library load other code; remove it (Switchboard sets PATH, HOME and the locale itself)',
    ]);
  });

  it('reads npm config and proxies in any case, everything else as the OS does', () => {
    for (const name of [
      'npm_config_node_options',
      'NPM_CONFIG_PREFIX',
      'Npm_Config_Script_Shell',
    ]) {
      expect(envNameRefusal(name), name).toMatch(/npm/);
    }
    for (const name of ['http_proxy', 'HTTPS_PROXY', 'All_Proxy', 'no_proxy']) {
      expect(envNameRefusal(name), name).toMatch(/network path/);
    }
    // `path` is not `PATH` to a POSIX program; allowed exceptions of refused prefixes stay allowed.
    for (const name of [
      'path',
      'NODE_ENV',
      'NODE_EXTRA_CA_CERTS',
      'PYTHONUNBUFFERED',
      'UV_INDEX_URL',
      'NPM_TOKEN',
      'TZ',
      'LANG',
      'TMPDIR',
    ]) {
      expect(envNameRefusal(name), name).toBeUndefined();
    }
  });

  it('refuses a relative command path', () => {
    expect(problems({ transport: 'stdio', command: './server' })).toEqual([
      "command: command must be a program name found on Switchboard's PATH (e.g. node) or an absolute path (e.g. /usr/bin/node), not a relative path",
    ]);
  });

  it('does not build the config of a stored row that holds a refused name', () => {
    expect(() =>
      configFromColumns({
        transport: 'stdio',
        url: null,
        command: 'node',
        args: [],
        cwd: null,
        env: { PYTHONSTARTUP: '/tmp/x.py' },
        headers: {},
        apiKey: null,
        timeoutMs: 10_000,
      }),
    ).toThrow(/env PYTHONSTARTUP is refused/);
  });
});
