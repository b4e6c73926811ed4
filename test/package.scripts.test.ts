/**
 * `npm start` and `npm run agent` as an operator runs them: the npm process is the one a service
 * manager or a terminal signals, so SIGTERM to npm must end the API and everything it started.
 * Also two API processes on one embedded-database `DATA_DIR`, and what `npm run agent` says about
 * missing settings, a LiveKit server it cannot reach, a URL that is not LiveKit and a refused
 * key and secret.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  REPO_ROOT,
  descendantPids,
  freePort,
  isProcessAlive,
  signalIfAlive,
} from './helpers/mcp-processes.js';
import { startFakeLivekitServer } from './helpers/fake-livekit-server.js';

const ADMIN_TOKEN = 'admin-token-for-the-npm-scripts-test-01';
const started: ChildProcess[] = [];
const dirs: string[] = [];
const closers: (() => Promise<void>)[] = [];

afterAll(async () => {
  for (const child of started) if (child.exitCode === null) child.kill('SIGKILL');
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  for (const close of closers) await close();
});

/** The key and secret the fake LiveKit servers of these tests accept. */
const LIVEKIT_KEY = { apiKey: 'devkey', apiSecret: 'secret-secret-secret-secret-secret' };

/**
 * A local HTTP server that passes the worker's start-up check (it answers HTTP and LiveKit's
 * ListRooms call with `LIVEKIT_KEY`) but refuses WebSocket upgrades: the worker then starts and
 * agents-js keeps retrying its connection.
 */
async function livekitWithoutWebSocket(): Promise<string> {
  const server = await startFakeLivekitServer(LIVEKIT_KEY);
  closers.push(server.close);
  return server.url;
}

/** The worker's settings apart from LiveKit, on a fresh DATA_DIR (no database is reached). */
function workerEnvironment(): NodeJS.ProcessEnv {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'switchboard-agent-'));
  dirs.push(dataDir);
  return {
    DATA_DIR: dataDir,
    DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none',
    OPENAI_API_KEY: 'sk-test',
    SWITCHBOARD_SECRET_KEY: Buffer.alloc(32, 7).toString('base64'),
  };
}

/** Polls the process table until none of `pids` runs (bounded); returns those still running. */
async function untilGone(pids: readonly number[]): Promise<number[]> {
  let left = pids.filter(isProcessAlive);
  for (let attempt = 0; attempt < 300 && left.length > 0; attempt++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    left = left.filter(isProcessAlive);
  }
  return left;
}

/** A process started with a minimal environment, its output collected, and its exit awaited. */
function run(command: string, args: string[], env: NodeJS.ProcessEnv) {
  const child = spawn(command, args, {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  started.push(child);
  // Both streams: the LiveKit CLI logs to stdout.
  let output = '';
  child.stdout!.on('data', (chunk) => (output += String(chunk)));
  child.stderr!.on('data', (chunk) => (output += String(chunk)));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  /** Resolves once the output holds `text`, or the process has exited (then check the output). */
  const outputs = (text: string) =>
    new Promise<void>((resolve) => {
      const check = () => {
        if (!output.includes(text)) return;
        child.stdout!.off('data', check);
        child.stderr!.off('data', check);
        resolve();
      };
      child.stdout!.on('data', check);
      child.stderr!.on('data', check);
      void exited.then(() => resolve());
      check();
    });
  return { child, exited, output: () => output, outputs };
}

/** An API environment on a fresh DATA_DIR (embedded PGlite, the demo stdio servers on). */
async function apiEnvironment(dataDir?: string) {
  const dir = dataDir ?? mkdtempSync(path.join(tmpdir(), 'switchboard-npm-'));
  if (!dataDir) dirs.push(dir);
  const port = await freePort();
  return {
    dataDir: dir,
    base: `http://127.0.0.1:${port}`,
    env: { DATA_DIR: dir, PORT: String(port), HOST: '127.0.0.1', ADMIN_TOKEN },
  };
}

/** Waits until the API answers its health check (bounded by attempts). */
async function untilHealthy(base: string): Promise<void> {
  for (let attempt = 0; attempt < 2000; attempt++) {
    const res = await fetch(`${base}/api/health`).catch(() => undefined);
    if (res?.ok) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`the API at ${base} did not come up`);
}

/**
 * Waits until the API answers and every demo server is connected (bounded by attempts, generous:
 * the machine may be busy with other test runs).
 */
async function untilServing(base: string): Promise<void> {
  for (let attempt = 0; attempt < 2000; attempt++) {
    const res = await fetch(`${base}/api/mcp/servers`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    }).catch(() => undefined);
    if (res?.ok) {
      const servers = ((await res.json()) as { items: { connectionStatus: string }[] }).items;
      if (servers.length > 0 && servers.every((s) => s.connectionStatus === 'connected')) return;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`the API at ${base} did not come up with its demo servers connected`);
}

describe('npm start and SIGTERM', () => {
  it('stops npm, the API process and every process it started', async () => {
    const { env, base, dataDir } = await apiEnvironment();
    const npm = run('npm', ['start', '--silent'], env);
    await untilServing(base);
    const tree = descendantPids(npm.child.pid!);
    // The API itself and its three demo stdio servers at least.
    expect(tree.length).toBeGreaterThanOrEqual(4);

    npm.child.kill('SIGTERM');
    await npm.exited;
    expect(await untilGone(tree)).toEqual([]);
    expect(npm.output()).not.toMatch(/"level":(50|60)/);
    // Stopped through its shutdown, which releases the data directory.
    expect(existsSync(path.join(dataDir, 'switchboard.lock'))).toBe(false);
  }, 400_000);
});

describe('two API processes on one DATA_DIR', () => {
  it('refuses the second with a message naming the first one’s PID', async () => {
    const first = await apiEnvironment();
    Object.assign(first.env, { SEED_DEMO_SERVERS: 'false' });
    const api = run(process.execPath, ['--import', 'tsx', 'server/main.ts'], first.env);
    await untilHealthy(first.base);

    const second = await apiEnvironment(first.dataDir);
    Object.assign(second.env, { SEED_DEMO_SERVERS: 'false' });
    const refused = run(process.execPath, ['--import', 'tsx', 'server/main.ts'], second.env);
    expect((await refused.exited).code).toBe(1);
    expect(refused.output()).toContain(`PID ${api.child.pid}`);
    expect(refused.output()).toContain('switchboard.lock');
    // The first one still serves.
    expect((await fetch(`${first.base}/api/health`)).status).toBe(200);

    api.child.kill('SIGTERM');
    expect((await api.exited).code).toBe(0);
    // Once it is gone the directory is free again.
    const third = run(process.execPath, ['--import', 'tsx', 'server/main.ts'], second.env);
    await untilHealthy(second.base);
    third.child.kill('SIGKILL');
    await third.exited;
    // A lock left by a killed process is stale: the next start takes it over.
    const fourth = run(process.execPath, ['--import', 'tsx', 'server/main.ts'], first.env);
    await untilHealthy(first.base);
    fourth.child.kill('SIGTERM');
    expect((await fourth.exited).code).toBe(0);
  }, 400_000);
});

describe('npm run agent', () => {
  it('exits at once with every missing setting named, LiveKit included', async () => {
    const npm = run('npm', ['run', 'agent', '--silent'], {});
    const { code } = await npm.exited;
    expect(code).not.toBe(0);
    for (const name of [
      'LIVEKIT_URL',
      'LIVEKIT_API_KEY',
      'LIVEKIT_API_SECRET',
      'OPENAI_API_KEY',
      'DATABASE_URL',
    ]) {
      expect(npm.output()).toContain(`  ${name}: required`);
    }
    expect(npm.output()).not.toContain('MissingCredentialsError');
  }, 60_000);

  it('names the three LiveKit settings together once OPENAI_API_KEY and DATABASE_URL are set (the issue)', async () => {
    const npm = run('npm', ['run', 'agent', '--silent'], workerEnvironment());
    const { code } = await npm.exited;
    expect(code).not.toBe(0);
    expect(npm.output()).toMatch(/^Invalid settings:$/m);
    expect(npm.output()).toMatch(/^ {2}LIVEKIT_URL: required/m);
    expect(npm.output()).toMatch(/^ {2}LIVEKIT_API_KEY: required/m);
    expect(npm.output()).toMatch(/^ {2}LIVEKIT_API_SECRET: required/m);
    expect(npm.output()).not.toContain('MissingCredentialsError');
    expect(npm.output()).not.toContain('failed to connect to LiveKit server');
  }, 60_000);

  it('fails at once naming LIVEKIT_URL when nothing listens there (the issue: 85 s of retries)', async () => {
    const url = `ws://127.0.0.1:${await freePort()}`;
    const npm = run('npm', ['run', 'agent', '--silent'], {
      ...workerEnvironment(),
      LIVEKIT_URL: url,
      LIVEKIT_API_KEY: 'devkey',
      LIVEKIT_API_SECRET: 'secret',
    });
    const { code } = await npm.exited;
    expect(code).not.toBe(0);
    expect(npm.output()).toContain(
      `LIVEKIT_URL: cannot reach the LiveKit server at ${url} (connection refused`,
    );
    expect(npm.output()).not.toContain('failed to connect to LiveKit server');
    expect(npm.output()).not.toContain('closing worker due to error');
  }, 120_000);

  it('takes --url in place of LIVEKIT_URL, and checks it the same way', async () => {
    const url = `ws://127.0.0.1:${await freePort()}`;
    const npm = run('npm', ['run', 'agent', '--silent', '--', '--url', url], {
      ...workerEnvironment(),
      LIVEKIT_API_KEY: 'devkey',
      LIVEKIT_API_SECRET: 'secret',
    });
    expect((await npm.exited).code).not.toBe(0);
    expect(npm.output()).toContain(`LIVEKIT_URL: cannot reach the LiveKit server at ${url}`);
  }, 120_000);

  it('fails within the check naming LIVEKIT_API_KEY and LIVEKIT_API_SECRET when LiveKit refuses the secret, never printing it', async () => {
    const livekit = await startFakeLivekitServer(LIVEKIT_KEY);
    closers.push(livekit.close);
    const wrongSecret = 'wrong-secret-wrong-secret-wrong-secret';
    const npm = run('npm', ['run', 'agent', '--silent'], {
      ...workerEnvironment(),
      LIVEKIT_URL: livekit.url,
      LIVEKIT_API_KEY: LIVEKIT_KEY.apiKey,
      LIVEKIT_API_SECRET: wrongSecret,
    });
    const { code } = await npm.exited;
    expect(code).toBe(1);
    expect(npm.output()).toMatch(
      new RegExp(
        `^LIVEKIT_API_KEY / LIVEKIT_API_SECRET: the LiveKit server at ${livekit.url} refused ` +
          'the API key devkey and its secret \\(POST /twirp/livekit\\.RoomService/ListRooms ' +
          'answered 401 Unauthorized: the secret does not match this key',
        'm',
      ),
    );
    expect(npm.output()).not.toContain(wrongSecret);
    expect(npm.output()).not.toContain('failed to connect to LiveKit server');
    expect(npm.output()).not.toContain('closing worker due to error');
  }, 120_000);

  it('fails within the check naming LIVEKIT_URL when it is a web server, not LiveKit', async () => {
    const web = await startFakeLivekitServer(LIVEKIT_KEY, () => ({
      status: 404,
      body: '404 page not found',
    }));
    closers.push(web.close);
    const npm = run('npm', ['run', 'agent', '--silent'], {
      ...workerEnvironment(),
      LIVEKIT_URL: web.url,
      LIVEKIT_API_KEY: LIVEKIT_KEY.apiKey,
      LIVEKIT_API_SECRET: LIVEKIT_KEY.apiSecret,
    });
    expect((await npm.exited).code).toBe(1);
    expect(npm.output()).toMatch(
      new RegExp(`^LIVEKIT_URL: ${web.url} answers HTTP but not as a LiveKit server \\(`, 'm'),
    );
    expect(npm.output()).toContain('answered 404 Not Found');
    expect(npm.output()).not.toContain('failed to connect to LiveKit server');
  }, 120_000);

  it('hands the SIGTERM npm gets to the worker process itself', async () => {
    const npm = run('npm', ['run', 'agent', '--silent', '--', '--log-level', 'debug'], {
      ...workerEnvironment(),
      LIVEKIT_URL: await livekitWithoutWebSocket(),
      LIVEKIT_API_KEY: LIVEKIT_KEY.apiKey,
      LIVEKIT_API_SECRET: LIVEKIT_KEY.apiSecret,
    });
    // Without LiveKit the worker keeps retrying its connection (agents-js: 10 attempts).
    await npm.outputs('failed to connect to LiveKit server');
    try {
      expect(npm.output()).toContain('failed to connect to LiveKit server');
      npm.child.kill('SIGTERM');
      await npm.outputs('SIGTERM received');
      expect(npm.output()).toContain('SIGTERM received');
    } finally {
      // agents-js then waits for its LiveKit retries to end before it exits: do not wait here.
      for (const pid of descendantPids(npm.child.pid!)) signalIfAlive(pid, 'SIGKILL');
    }
  }, 120_000);
});

describe('npm run agent:dev', () => {
  it('runs what `lk agent dev` runs (`start --log-level debug`), not the deprecated `dev` command', () => {
    const { scripts } = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
    };
    expect(scripts['agent:dev']).toBe(
      'exec node --import tsx agent/main.ts start --log-level debug',
    );
  });

  it('starts the worker with debug logs and no deprecation warning', async () => {
    const npm = run('npm', ['run', 'agent:dev', '--silent'], {
      ...workerEnvironment(),
      LIVEKIT_URL: await livekitWithoutWebSocket(),
      LIVEKIT_API_KEY: LIVEKIT_KEY.apiKey,
      LIVEKIT_API_SECRET: LIVEKIT_KEY.apiSecret,
    });
    await npm.outputs('failed to connect to LiveKit server');
    try {
      expect(npm.output()).toContain('failed to connect to LiveKit server');
      expect(npm.output()).toMatch(/"level":20\b/);
      expect(npm.output()).not.toContain('deprecated');
    } finally {
      for (const pid of descendantPids(npm.child.pid!)) signalIfAlive(pid, 'SIGKILL');
    }
  }, 120_000);
});
