/**
 * `scale.sessions`: many voice sessions on one Postgres database, with the API running.
 *
 * On a fresh database of the Postgres at `DATABASE_URL` (default the local
 * `postgres://postgres@127.0.0.1:5432/test`): N users with one server each, the real API
 * (`server/main.ts`, its own pool and LISTEN), one worker hub process started as `agent/main.ts`
 * starts it, and N simulated sessions spread over a few processes
 * (`fixtures/scale-job-host.ts`: the session's real pool, hub client, live configuration and
 * batched audit; no LiveKit, model or MCP call). Sessions start over about 10 s, each records one
 * audited tool call a second; once all run, every user's server is edited through the API
 * (`PUT /api/mcp/servers/:id` with a new timeout, 50 a second), and the time until the session applied the change
 * is measured. `pg_stat_activity` is sampled every 50 ms for the database's connections.
 * Errors: sessions that did not start, warnings of the sessions (a lost audit batch, a change not
 * applied), failed PUTs, changes that never arrived within 20 s, and audit rows missing after
 * the clean stop.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import { hashToken } from '../shared/db/api-tokens.js';
import { openDatabase } from '../shared/db/open.js';
import { apiTokens, mcpServers, users } from '../shared/db/schema.js';
import { describeError } from '../shared/errors.js';
import { SecretBox } from '../shared/secrets.js';
import type { HostCommand, HostReport } from './fixtures/scale-job-host.js';
import { freePort } from '../test/helpers/mcp-processes.js';
import { round, sleep } from './stats.js';

/** What `scale.sessions` reports. */
export interface ScaleSessions {
  sessions: number;
  /** Most connections to the benchmark's database at once (`pg_stat_activity`), all processes. */
  peakConnections: number;
  /** The server's `max_connections`. */
  maxConnections: number;
  /** Median connections while every session runs and makes its calls, before the changes. */
  steadyConnections: number;
  configChangeP50Ms: number;
  configChangeP95Ms: number;
  configChanges: number;
  /** Median time the API took to answer the edit (part of the change latency). */
  putP50Ms: number;
  /** Audit rows found after the stop; equals `toolCalls` when none was lost. */
  auditRows: number;
  toolCalls: number;
  errors: number;
  /** The first few errors, to read. */
  firstErrors: string[];
}

/** Options of {@link measureScaleSessions}. */
export interface ScaleSessionsOptions {
  /** Simulated sessions (one user each); default 500. */
  sessions?: number;
  /** Processes hosting them; default 4. */
  hosts?: number;
  /** Progress lines. */
  log(message: string): void;
}

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const HOST_SCRIPT = fileURLToPath(new URL('./fixtures/scale-job-host.ts', import.meta.url));
const WORKER_SCRIPT = fileURLToPath(new URL('./fixtures/scale-worker.ts', import.meta.url));
const START_SPREAD_MS = 10_000;
const CHANGES_PER_SECOND = 50;
const CHANGE_WAIT_MS = 20_000;

function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

function forkTs(script: string, env: NodeJS.ProcessEnv): ChildProcess {
  return fork(script, [], {
    cwd: REPO_ROOT,
    env,
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
}

async function waitFor(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
  return true;
}

/**
 * Runs the scenario above and cleans up after itself (processes stopped, database dropped).
 *
 * @throws when Postgres cannot be reached or the API does not start within 60 s.
 */
export async function measureScaleSessions(options: ScaleSessionsOptions): Promise<ScaleSessions> {
  const count = options.sessions ?? 500;
  const hostCount = options.hosts ?? 4;
  const baseUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  const admin = postgres(baseUrl, { max: 1, onnotice: () => {} });
  const name = `switchboard_bench_${randomBytes(5).toString('hex')}`;
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'switchboard-bench-'));
  const children: ChildProcess[] = [];
  const errors: string[] = [];
  const error = (message: string): void => {
    errors.push(message);
  };
  await admin.unsafe(`create database ${name}`);
  try {
    const [settingRow] = await admin<{ max_connections: string }[]>`show max_connections`;
    const maxConnections = Number(settingRow!.max_connections);
    const url = new URL(baseUrl);
    url.pathname = `/${name}`;
    const databaseUrl = url.toString();
    const key = randomBytes(32).toString('base64');

    options.log(`scale.sessions: seeding ${count} users, servers and tokens`);
    const seed = await openDatabase({
      databaseUrl,
      maxConnections: 2,
      secretBox: new SecretBox(Buffer.from(key, 'base64')),
    });
    const tokens: string[] = [];
    let userIds: number[];
    let serverIds: number[];
    try {
      userIds = (
        await seed.db
          .insert(users)
          .values(
            Array.from({ length: count }, (_, i) => ({ name: `U${i}`, email: `u${i}@bench.test` })),
          )
          .returning({ id: users.id })
      ).map((row) => row.id);
      for (let i = 0; i < count; i += 1) tokens.push(`sb_${randomBytes(24).toString('base64url')}`);
      await seed.db
        .insert(apiTokens)
        .values(userIds.map((userId, i) => ({ userId, tokenHash: hashToken(tokens[i]!) })));
      // `user-token` servers: the API's monitor leaves them to the sessions, so the run measures
      // the sessions' side, not 500 health checks.
      serverIds = (
        await seed.db
          .insert(mcpServers)
          .values(
            userIds.map((userId) => ({
              userId,
              name: 'Notes',
              transport: 'streamable-http' as const,
              url: 'http://127.0.0.1:9/mcp',
              auth: { type: 'user-token' as const },
            })),
          )
          .returning({ id: mcpServers.id })
      ).map((row) => row.id);
    } finally {
      await seed.close();
    }

    const port = await freePort();
    const baseEnv: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      DATABASE_URL: databaseUrl,
      SWITCHBOARD_SECRET_KEY: key,
      DATA_DIR: dataDir,
      LOG_LEVEL: 'warn',
    };
    options.log('scale.sessions: starting the API and the worker hub');
    const api = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
      cwd: REPO_ROOT,
      env: {
        ...baseEnv,
        HOST: '127.0.0.1',
        PORT: String(port),
        SEED_DEMO_SERVERS: 'false',
        MCP_ALLOW_PRIVATE_NETWORKS: 'true',
        API_RATE_LIMIT_PER_MINUTE: '100000',
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    children.push(api);
    const apiUrl = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 60_000;
    for (;;) {
      const ok = await fetch(`${apiUrl}/api/health`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) break;
      if (Date.now() > deadline || api.exitCode !== null) {
        throw new Error('the API did not start within 60 s');
      }
      await sleep(100);
    }

    const worker = forkTs(WORKER_SCRIPT, baseEnv);
    children.push(worker);
    const hubAddress = await new Promise<string>((resolve, reject) => {
      worker.once('message', (message: { address: string }) => resolve(message.address));
      worker.once('exit', (code) => reject(new Error(`the worker hub exited with ${code}`)));
    });

    // Connections to the benchmark's database, sampled for the whole run.
    const samples: { at: number; n: number }[] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const [row] = await admin<{ n: number }[]>`
          select count(*)::int as n from pg_stat_activity where datname = ${name}`;
        samples.push({ at: Date.now(), n: row!.n });
        await sleep(50);
      }
    })();

    const ready = new Set<number>();
    const applied = new Map<number, number>();
    let calls = 0;
    let stopped = 0;
    const hosts = Array.from({ length: hostCount }, () => {
      const host = forkTs(HOST_SCRIPT, { ...baseEnv, SWITCHBOARD_WORKER_HUB: hubAddress });
      children.push(host);
      host.on('message', (report: HostReport) => {
        if (report.type === 'ready') ready.add(report.userId);
        else if (report.type === 'applied') applied.set(report.serverId, report.at);
        else if (report.type === 'failure') error(report.message);
        else {
          calls += report.calls;
          stopped += 1;
        }
      });
      return host;
    });
    options.log(`scale.sessions: starting ${count} sessions in ${hostCount} processes`);
    hosts.forEach((host, h) => {
      const mine = userIds.filter((_, i) => i % hostCount === h);
      const command: HostCommand = {
        type: 'start',
        userIds: mine,
        startIntervalMs: START_SPREAD_MS / Math.max(1, mine.length),
        callIntervalMs: 1000,
      };
      host.send(command);
    });
    const everyoneReady = await waitFor(
      () => ready.size + errors.length >= count,
      START_SPREAD_MS + 60_000,
    );
    if (!everyoneReady) error(`only ${ready.size} of ${count} sessions started`);

    options.log('scale.sessions: steady state, 5 s');
    const steadyFrom = Date.now();
    await sleep(5_000);
    const steady = samples.filter((s) => s.at >= steadyFrom).map((s) => s.n);

    options.log(`scale.sessions: ${count} configuration changes through the API`);
    const sentAt = new Map<number, number>();
    const putMs: number[] = [];
    const patches: Promise<void>[] = [];
    for (let i = 0; i < count; i += 1) {
      const serverId = serverIds[i]!;
      sentAt.set(serverId, Date.now());
      patches.push(
        fetch(`${apiUrl}/api/mcp/servers/${serverId}`, {
          method: 'PUT',
          headers: { authorization: `Bearer ${tokens[i]}`, 'content-type': 'application/json' },
          body: JSON.stringify({ timeoutMs: 20_000 + i }),
        }).then(
          async (response) => {
            putMs.push(Date.now() - sentAt.get(serverId)!);
            if (!response.ok) errors.push(`PUT ${response.status}: ${await response.text()}`);
          },
          (failure: unknown) => {
            errors.push(`PUT failed: ${describeError(failure)}`);
          },
        ),
      );
      await sleep(1000 / CHANGES_PER_SECOND);
    }
    await Promise.all(patches);
    const started = [...ready].length;
    const allApplied = await waitFor(
      () => [...sentAt.keys()].every((id) => applied.has(id)),
      CHANGE_WAIT_MS,
    );
    const latencies = [...sentAt]
      .filter(([id]) => applied.has(id))
      .map(([id, at]) => applied.get(id)! - at);
    if (!allApplied) {
      error(`${sentAt.size - latencies.length} configuration changes never reached their session`);
    }

    options.log('scale.sessions: stopping the sessions (their audit batches are flushed)');
    for (const host of hosts) host.send({ type: 'stop' } satisfies HostCommand);
    await waitFor(() => stopped === hosts.length, 60_000);
    sampling = false;
    await sampler;
    const counter = postgres(databaseUrl, { max: 1, onnotice: () => {} });
    const [countRow] = await counter<{ n: number }[]>`
      select count(*)::int as n from tool_calls`.finally(() => counter.end());
    const auditRows = countRow!.n;
    if (auditRows !== calls) error(`${calls - auditRows} audited tool calls were not written`);

    return {
      sessions: started,
      peakConnections: Math.max(...samples.map((s) => s.n)),
      maxConnections,
      steadyConnections: percentile(steady, 50),
      configChangeP50Ms: round(percentile(latencies, 50), 1),
      configChangeP95Ms: round(percentile(latencies, 95), 1),
      configChanges: latencies.length,
      putP50Ms: round(percentile(putMs, 50), 1),
      auditRows,
      toolCalls: calls,
      errors: errors.length,
      firstErrors: errors.slice(0, 5),
    };
  } finally {
    for (const child of children) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    }
    await Promise.all(
      children.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            const timer = setTimeout(() => {
              child.kill('SIGKILL');
              resolve();
            }, 10_000);
            child.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
          }),
      ),
    );
    await admin.unsafe(`drop database if exists ${name} with (force)`).catch(() => {});
    await admin.end();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
