/**
 * {@link ConnectionGuards}: the process-wide limits every MCP connection of a process is made
 * under: where remote servers may be, which commands stdio servers may run, how large a message
 * may be, the sandbox stdio servers run in, and the cap on stdio processes. Each entry point
 * (`server/main.ts`, the agent's job process, `cli/probe`) builds one object from the settings
 * (`connectionGuards` in `shared/settings.ts`) and passes it down as it is, to the API, the
 * status monitor, the Test button, the agent's toolsets and the probe, so no layer re-declares
 * the guards one by one. `McpConnectionOptions` extends it: the connection is where each guard
 * is applied.
 *
 * Every field is optional; `{}` is the permissive set (any address a connection may reach,
 * any command, 4 MiB messages, no sandbox, no process cap) that tests and library callers get.
 * Values of one session or one server (a user's token, the server's id or owner) are not
 * guards: they are passed beside the guards.
 */
import type { StdioSandbox } from './sandbox/stdio-sandbox.js';
import type { StdioProcessLimiter } from './stdio-process-limiter.js';
import type { UrlPolicy } from './url-policy.js';

/** The guards of every MCP connection of a process; see the module doc. */
export interface ConnectionGuards {
  /**
   * Where a remote server may be (`MCP_ALLOW_PRIVATE_NETWORKS`, default false in the settings):
   * its URL, every HTTP request and redirect hop, and every address after DNS resolution
   * (`GuardedNetwork`); a saved server's URL and token endpoint are checked against it too.
   * Cloud metadata and link-local addresses are always refused. Default
   * `{ allowPrivateNetworks: true }`.
   */
  urlPolicy?: UrlPolicy;
  /**
   * Commands a stdio server may run (`MCP_STDIO_ALLOWED_COMMANDS`, default
   * `node,npx,uvx,python3` in the settings; see `command-guard.ts`), checked when a server is
   * saved and when it connects. Default: any command.
   */
  allowedCommands?: readonly string[];
  /**
   * Largest message a server may send, in bytes (`MCP_MAX_MESSAGE_BYTES`); default
   * `DEFAULT_MAX_MESSAGE_BYTES` (4 MiB). A larger one closes the connection (`message-limit.ts`).
   */
  maxMessageBytes?: number;
  /**
   * The bubblewrap sandbox stdio servers run in (`MCP_STDIO_SANDBOX=bwrap`, the settings'
   * default, with `MCP_SANDBOX_MEMORY_MB`, `MCP_SANDBOX_MAX_PROCESSES`,
   * `MCP_SANDBOX_MAX_OPEN_FILES`; built by `stdioSandbox(settings)`, one per process); a saved
   * server's `sandbox` mounts and `cwd` are checked against it too. Default none: stdio servers
   * run as plain child processes (`MCP_STDIO_SANDBOX=off`).
   */
  sandbox?: StdioSandbox;
  /**
   * The process's one cap on stdio server processes (`MCP_MAX_STDIO_PROCESSES`, and per user
   * `MCP_MAX_STDIO_PROCESSES_PER_USER` for a connection given its server's owner), whose process
   * groups it kills if the process exits without closing them. Default none: no cap.
   */
  stdioLimiter?: StdioProcessLimiter;
}
