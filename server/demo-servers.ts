/**
 * The demo MCP servers a fresh install starts with: the reference servers
 * `server-everything`, `server-memory` and `server-filesystem`, run from the installed npm
 * packages over stdio, so they work with no network.
 */
import { mkdirSync, writeFileSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { NewMcpServerRow } from '../shared/db/schema.js';

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
 * server's root, with a short welcome note) and keeps the memory server's graph in
 * `<dataDir>/memory.jsonl`.
 *
 * @param userId owner of the servers.
 * @param dataDir absolute data folder (`DATA_DIR`).
 */
export function demoServers(userId: number, dataDir: string): NewMcpServerRow[] {
  const filesDir = path.join(dataDir, 'files');
  mkdirSync(filesDir, { recursive: true });
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
    },
    {
      userId,
      name: 'Memory',
      description: 'A knowledge graph the agent can remember facts in.',
      transport: 'stdio',
      command: 'node',
      args: [resolvePackageBin('@modelcontextprotocol/server-memory')],
      env: { MEMORY_FILE_PATH: path.join(dataDir, 'memory.jsonl') },
    },
    {
      userId,
      name: 'Files',
      description: `Read and write files under ${filesDir}.`,
      transport: 'stdio',
      command: 'node',
      args: [resolvePackageBin('@modelcontextprotocol/server-filesystem'), filesDir],
    },
  ];
}
