/**
 * Save-time guards of a server config: stdio servers start processes on the worker's machine, so
 * only admins may register or change them, and only with an allowed command; remote URLs (the
 * server's and its OAuth token endpoint) must not point at cloud metadata, link-local or (unless
 * allowed) private addresses. The connection layer checks the same rules again when it connects.
 */
import type { Response } from 'express';
import type { McpServerRow } from '../../shared/db/schema.js';
import {
  CommandNotFoundError,
  CommandRefusedError,
  resolveStdioCommand,
} from '../../shared/mcp/command-guard.js';
import type { ConnectionGuards } from '../../shared/mcp/connection-guards.js';
import { UrlRefusedError, assertUrlAllowed } from '../../shared/mcp/url-policy.js';
import { SandboxConfigError } from '../../shared/mcp/sandbox/errors.js';
import { currentUser } from '../http/auth.js';
import { ForbiddenError, HttpError } from '../http/errors.js';
import type { CreateServerBody } from './input.js';

/**
 * 422 for a URL of a config the policy refuses; `errors` names the field, as validation errors do.
 */
export class UrlRefusedProblem extends HttpError {
  override readonly name = 'UrlRefusedProblem';
  /**
   * @param reason why, e.g. `169.254.169.254 is a cloud metadata address`.
   * @param path the refused field: `body.url` (default) or `body.auth.tokenUrl`.
   */
  constructor(reason: string, path = 'body.url') {
    super(422, 'url_refused', `${path}: ${reason}`, {
      errors: [{ path, message: reason }],
    });
  }
}

/** 422 for a `sandbox.mounts` entry that would expose what the sandbox hides, or a `cwd` outside it. */
export class SandboxRefusedProblem extends HttpError {
  override readonly name = 'SandboxRefusedProblem';
  /** @param error the refusal, whose `path` is inside the server config (`sandbox.mounts.N...`). */
  constructor(error: SandboxConfigError) {
    const path = `body.${error.path}`;
    super(422, 'sandbox_refused', `${path}: ${error.message}`, {
      errors: [{ path, message: error.message }],
    });
  }
}

/**
 * 422 for a stdio command that is an absolute path to no executable file; `errors` names
 * `body.command`.
 */
export class CommandProblem extends HttpError {
  override readonly name = 'CommandProblem';
  /** @param reason why, e.g. `command not found: /opt/x is not an executable file`. */
  constructor(reason: string) {
    super(
      422,
      'command_not_found',
      `body.command: ${reason}; give the absolute path of an installed program, or a program name found on Switchboard's PATH`,
      { errors: [{ path: 'body.command', message: reason }] },
    );
  }
}

/**
 * The stdio command rule at save time: the command is resolved as the connection will resolve it
 * (on Switchboard's fixed search path) and must be on the allow list. A program name not found on
 * this machine is accepted when the list allows that name (it shows `command not found` once the
 * monitor connects, and may exist where an agent runs); an absolute path must exist here.
 */
function assertCommandAllowed(command: string, allowed: readonly string[] | undefined): void {
  try {
    resolveStdioCommand(command, allowed);
  } catch (error) {
    if (error instanceof CommandRefusedError) throw new ForbiddenError(error.message);
    if (error instanceof CommandNotFoundError) {
      if (command.startsWith('/')) throw new CommandProblem(error.message);
      return;
    }
    throw error;
  }
}

/**
 * Checks a validated create body, or the merged result of an update, before anything is written.
 *
 * @param config the server as it would be stored.
 * @param res the response whose `locals.user` is the caller (see `requireAuth`).
 * @param guards the process's connection guards: `allowedCommands`, `sandbox` (its mount rules)
 *   and `urlPolicy` (default private networks allowed, as at connect time) apply.
 * @param stored the stored server, for an update: changing a stdio server needs an admin too.
 * @throws ForbiddenError (403) when a non-admin registers or changes a stdio server, or the
 *   command, resolved on Switchboard's fixed search path, is not on the allow list (the detail
 *   names the list).
 * @throws CommandProblem (422) when the command is an absolute path to no executable file.
 * @throws SandboxRefusedProblem (422) when a `sandbox.mounts` entry would expose `DATA_DIR`, the
 *   secret key or another server's directory, or `cwd` is not a folder inside the sandbox.
 * @throws UrlRefusedProblem (422) when the URL or `auth.tokenUrl`, or an address its host
 *   resolves to, is refused (the problem names the field).
 *   A host that does not resolve within 2 s is accepted here; the connection checks again.
 */
export async function assertServerAllowed(
  config: CreateServerBody,
  res: Response,
  guards: ConnectionGuards,
  stored?: Pick<McpServerRow, 'transport'>,
): Promise<void> {
  if (config.transport === 'stdio' || stored?.transport === 'stdio') {
    if (currentUser(res).role !== 'admin') {
      throw new ForbiddenError(
        "Only admins may register or change stdio servers: they start processes on the worker's machine.",
      );
    }
  }
  if (config.transport === 'stdio') {
    assertCommandAllowed(config.command, guards.allowedCommands);
    try {
      guards.sandbox?.assertConfigAllowed({ sandbox: config.sandbox, cwd: config.cwd });
    } catch (error) {
      if (error instanceof SandboxConfigError) throw new SandboxRefusedProblem(error);
      throw error;
    }
    return;
  }
  // Every URL a remote config sends something to: the server, and the token endpoint that gets
  // the client secret or assertion.
  const urls: [string, string][] = [['body.url', config.url]];
  const tokenUrl = config.auth && 'tokenUrl' in config.auth ? config.auth.tokenUrl : undefined;
  if (tokenUrl) urls.push(['body.auth.tokenUrl', tokenUrl]);
  for (const [path, url] of urls) {
    try {
      await assertUrlAllowed(url, guards.urlPolicy ?? { allowPrivateNetworks: true }, {
        ignoreResolveErrors: true,
        resolveTimeoutMs: 2_000,
      });
    } catch (error) {
      if (error instanceof UrlRefusedError) throw new UrlRefusedProblem(error.message, path);
      throw error;
    }
  }
}
