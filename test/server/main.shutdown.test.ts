/**
 * `npm start` and SIGTERM, for real: `tsx server/main.ts` with a temporary DATA_DIR (embedded
 * PGlite, the three demo stdio servers) on a random port.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { REPO_ROOT, descendantPids, freePort } from '../helpers/mcp-processes.js';

const ADMIN_TOKEN = 'admin-token-for-the-shutdown-test-0123';

/** Whether `pid` still runs: exists and is not a zombie waiting for init to reap it. */
function alive(pid: number): boolean {
  try {
    const state = execFileSync('ps', ['-o', 'stat=', '-p', String(pid)], { encoding: 'utf8' });
    return !state.trim().startsWith('Z');
  } catch {
    return false;
  }
}

describe('npm start and SIGTERM', () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'switchboard-shutdown-'));
  let child: ChildProcess | undefined;

  afterAll(() => {
    if (child?.exitCode === null) child.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('finishes in-flight requests, closes streams and MCP child processes, and exits 0', async () => {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      DATA_DIR: dataDir,
      PORT: String(port),
      HOST: '127.0.0.1',
      ADMIN_TOKEN,
      LOG_LEVEL: 'warn',
      MCP_ALLOW_PRIVATE_NETWORKS: 'true',
    };
    child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'server/main.ts')], {
      cwd: REPO_ROOT,
      env,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (chunk) => (stderr += String(chunk)));
    const exited = new Promise<number | null>((resolve) => child!.once('exit', resolve));
    const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };

    // Up, and the monitor has started the demo servers' child processes.
    let servers: { id: number; connectionStatus: string }[] = [];
    let lastAnswer = 'no answer';
    // Up to two minutes: starting the API and three servers takes long on a busy machine.
    for (let i = 0; i < 1_200 && child.exitCode === null; i++) {
      const res = await fetch(`${base}/api/mcp/servers`, { headers: auth }).catch(() => undefined);
      if (res) lastAnswer = `HTTP ${res.status}`;
      if (res?.ok) {
        servers = ((await res.json()) as { items: typeof servers }).items;
        if (servers.length > 0 && servers.every((s) => s.connectionStatus === 'connected')) break;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    // On failure, say what the API last answered and what it wrote to stderr.
    expect(
      servers.map((s) => s.connectionStatus),
      `last answer: ${lastAnswer}; exit code: ${child.exitCode}; stderr: ${stderr.slice(-2000)}`,
    ).toEqual(['connected', 'connected', 'connected']);
    const processes = descendantPids(child.pid!);
    expect(processes.length).toBeGreaterThanOrEqual(3);

    const ws = new WebSocket(`ws://127.0.0.1:${port}/api/status/stream`, { headers: auth });
    const wsClosed = new Promise<number>((resolve) => ws.once('close', resolve));
    await new Promise((resolve) => ws.once('message', resolve));

    // A request in flight when the signal arrives: the "test" button spawns a server process.
    const inFlight = fetch(`${base}/api/mcp/servers/${servers[0]!.id}/test`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: '{}',
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    child.kill('SIGTERM');

    const answer = await inFlight;
    expect(answer.status).toBe(200);
    expect(((await answer.json()) as { status: string }).status).toBe('connected');
    expect(await wsClosed).toBe(1001);
    expect(await exited).toBe(0);
    expect(stderr).not.toMatch(/"level":(50|60)/);
    await expect(fetch(`${base}/api/health`)).rejects.toThrow();
    // Closed before the exit; a sandboxed server's own processes die with their PID namespace's
    // init (bwrap), which the kernel finishes asynchronously, so they are given a moment. A leaked
    // process would still be alive after it.
    await vi.waitFor(() => expect(processes.filter(alive)).toEqual([]), {
      timeout: 10_000,
      interval: 100,
    });
  }, 180_000);
});
