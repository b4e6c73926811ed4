/**
 * The demo MCP servers a fresh install starts with: the reference servers
 * `server-everything`, `server-memory` and `server-filesystem`, run from the installed npm
 * packages over stdio, sandboxed with no network (`sandbox.network: 'none'`). `Files` is granted
 * its root `DATA_DIR/files` and `Memory` its folder `DATA_DIR/memory` as writable mounts. Their
 * tools are not pinned (`pinTools: false`, issue 16): they come from packages installed with
 * Switchboard, which change only when Switchboard is upgraded.
 */
import { chownSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { McpServerRow, NewMcpServerRow } from '../../shared/db/schema.js';
import { runningAsRoot } from '../../shared/mcp/sandbox/availability.js';
import { sandboxUid } from '../../shared/mcp/sandbox/stdio-sandbox.js';

const require = createRequire(import.meta.url);

/**
 * Absolute path of an installed package's executable (its `bin` entry).
 *
 * @param packageName e.g. `@modelcontextprotocol/server-everything`.
 * @throws Error when the package is not installed or declares no `bin`.
 */
export function resolvePackageBin(packageName: string): string {
  const manifestPath = require.resolve(`${packageName}/package.json`);
  const manifest = require(manifestPath) as { bin?: string | Record<string, string> };
  const bin =
    typeof manifest.bin === 'string' ? manifest.bin : Object.values(manifest.bin ?? {})[0];
  if (!bin) throw new Error(`${packageName} declares no executable`);
  return path.join(path.dirname(manifestPath), bin);
}

/**
 * The demo servers for a user, ready to insert. Creates `<dataDir>/files` (the filesystem
 * server's root, with a short welcome note) and `<dataDir>/memory` (the memory server's graph,
 * `memory.jsonl`), granted to them as writable mounts; see {@link grantDemoFolders}.
 *
 * @param userId owner of the servers.
 * @param dataDir absolute data folder (`DATA_DIR`).
 */
export function demoServers(userId: number, dataDir: string): NewMcpServerRow[] {
  const filesDir = path.join(dataDir, 'files');
  const memoryDir = path.join(dataDir, 'memory');
  mkdirSync(filesDir, { recursive: true });
  mkdirSync(memoryDir, { recursive: true });
  const welcome = path.join(filesDir, 'welcome.txt');
  if (!existsSync(welcome)) {
    writeFileSync(
      welcome,
      'Welcome to Switchboard. The agent can read and write the files in this folder.\n',
    );
  }
  return [
    {
      userId,
      name: 'Everything',
      description: 'The MCP reference server: echo, sums, images, resources and more.',
      transport: 'stdio',
      command: 'node',
      args: [resolvePackageBin('@modelcontextprotocol/server-everything'), 'stdio'],
      sandbox: { network: 'none' },
      pinTools: false,
    },
    {
      userId,
      name: 'Memory',
      description: 'A knowledge graph the agent can remember facts in.',
      transport: 'stdio',
      command: 'node',
      args: [resolvePackageBin('@modelcontextprotocol/server-memory')],
      env: { MEMORY_FILE_PATH: path.join(memoryDir, 'memory.jsonl') },
      sandbox: { network: 'none', mounts: [{ hostPath: memoryDir, writable: true }] },
      pinTools: false,
    },
    {
      userId,
      name: 'Files',
      description: `Read and write files under ${filesDir}.`,
      transport: 'stdio',
      command: 'node',
      args: [resolvePackageBin('@modelcontextprotocol/server-filesystem'), filesDir],
      sandbox: { network: 'none', mounts: [{ hostPath: filesDir, writable: true }] },
      pinTools: false,
    },
  ];
}

/**
 * Gives each inserted demo server's writable folders (which Switchboard created in
 * {@link demoServers}) to the server's sandbox uid, so it can write there. Does nothing unless
 * this process runs as root: otherwise the servers run as this process's user, who owns them.
 *
 * @param rows the inserted demo servers, with their ids.
 */
export function grantDemoFolders(rows: readonly Pick<McpServerRow, 'id' | 'sandbox'>[]): void {
  if (!runningAsRoot()) return;
  for (const row of rows) {
    const uid = sandboxUid(row.id);
    for (const mount of row.sandbox.mounts ?? []) {
      if (!mount.writable) continue;
      chownSync(mount.hostPath, uid, uid);
      for (const name of readdirSync(mount.hostPath)) {
        chownSync(path.join(mount.hostPath, name), uid, uid);
      }
    }
  }
}
