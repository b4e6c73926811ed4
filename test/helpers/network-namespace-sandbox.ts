/**
 * A process in its own user, PID and network namespaces, made by bwrap the way the stdio sandbox
 * makes them (no capabilities, a non-root uid) and held on `--block-fd` until released, for
 * tests of what a sandboxed process can reach.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';

/**
 * One thing the probe does inside: a TCP connection, a command run to completion, or a name
 * looked up (`dns.lookup`, IPv4, all addresses).
 */
export type ProbeStep =
  { connect: { host: string; port: number } } | { exec: string[] } | { lookup: string };

/**
 * What a step gave: `connected`, the connection's error code, the command's exit status, or the
 * lookup's addresses (`resolved 1.2.3.4,5.6.7.8`) or error code.
 */
export type ProbeResult = string | { status: number | null; stderr: string };

/** Runs the steps in order and writes their results as one JSON array on stdout. */
const PROBE = `
const net = require('node:net');
const { spawnSync } = require('node:child_process');
const steps = JSON.parse(process.argv[1]);
(async () => {
  const results = [];
  for (const step of steps) {
    if (step.exec) {
      const run = spawnSync(step.exec[0], step.exec.slice(1), { encoding: 'utf8' });
      results.push({ status: run.status, stderr: String(run.stderr || run.error || '') });
      continue;
    }
    if (step.lookup) {
      results.push(await require('node:dns').promises.lookup(step.lookup, { all: true, family: 4 }).then(
        (answers) => 'resolved ' + answers.map((answer) => answer.address).join(','),
        (error) => error.code || error.message,
      ));
      continue;
    }
    results.push(await new Promise((resolve) => {
      const socket = net.connect(step.connect);
      socket.once('connect', () => { socket.destroy(); resolve('connected'); });
      socket.once('error', (error) => resolve(error.code || error.message));
    }));
  }
  process.stdout.write(JSON.stringify(results));
})();
`;

/** A blocked sandbox: `pid` is its namespaces' first process (bwrap's `child-pid`). */
export interface BlockedSandbox {
  pid: number;
  bwrap: ChildProcess;
  /** Lets the probe run; resolves with its results once bwrap has exited. */
  run(): Promise<ProbeResult[]>;
}

/**
 * Starts bwrap with `--unshare-user --unshare-pid --unshare-net --cap-drop ALL --uid 65534` and
 * the probe, and resolves with the sandbox's PID once bwrap reports it on `--info-fd`; the probe
 * waits on `--block-fd` until {@link BlockedSandbox.run}.
 *
 * @param options.unsharePid give the sandbox its own PID namespace; default true.
 * @param options.hostsFile a host file bound read-only over the sandbox's `/etc/hosts`.
 */
export async function startBlockedSandbox(
  steps: ProbeStep[],
  options: { unsharePid?: boolean; hostsFile?: string } = {},
): Promise<BlockedSandbox> {
  const bwrap = spawn(
    'bwrap',
    [
      '--unshare-user',
      ...(options.unsharePid === false ? [] : ['--unshare-pid']),
      '--unshare-ipc',
      '--unshare-net',
      '--die-with-parent',
      '--cap-drop',
      'ALL',
      '--uid',
      '65534',
      '--gid',
      '65534',
      '--ro-bind',
      '/',
      '/',
      ...(options.hostsFile ? ['--ro-bind', options.hostsFile, '/etc/hosts'] : []),
      '--dev',
      '/dev',
      '--proc',
      '/proc',
      '--info-fd',
      '3',
      '--block-fd',
      '4',
      '--',
      process.execPath,
      '-e',
      PROBE,
      JSON.stringify(steps),
    ],
    { stdio: ['ignore', 'pipe', 'pipe', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  bwrap.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  bwrap.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => bwrap.once('close', resolve));
  const pid = await new Promise<number>((resolve, reject) => {
    let info = '';
    (bwrap.stdio[3] as Readable).setEncoding('utf8').on('data', (chunk: string) => {
      info += chunk;
      const match = /"child-pid":\s*(\d+)/.exec(info);
      if (match) resolve(Number(match[1]));
    });
    void exited.then((code) => reject(new Error(`bwrap exited (${code}): ${stderr}`)));
  });
  return {
    pid,
    bwrap,
    async run() {
      (bwrap.stdio[4] as Writable).end('x');
      const code = await exited;
      if (code !== 0) throw new Error(`probe failed (${code}): ${stderr}`);
      return JSON.parse(stdout) as ProbeResult[];
    },
  };
}
