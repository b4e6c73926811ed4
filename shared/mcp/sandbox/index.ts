/** The bubblewrap sandbox of stdio MCP servers. */
export { SandboxAvailability, runningAsRoot, type BwrapRuntime } from './availability.js';
export {
  SANDBOX_HOME,
  bwrapCommand,
  type SandboxBind,
  type SandboxLimits,
  type SandboxPlan,
} from './bwrap-command.js';
export {
  SANDBOX_SETTING,
  SandboxConfigError,
  SandboxNetworkUnavailableError,
  SandboxUnavailableError,
} from './errors.js';
export { assertMountsAllowed, mountProblem, type MountPolicyOptions } from './mount-policy.js';
export type { OutboundNetwork, OutboundNetworkProvider } from './outbound-network.js';
export {
  DEFAULT_SANDBOX_LIMITS,
  StdioSandbox,
  sandboxUid,
  type SandboxLaunch,
  type SandboxedServer,
  type StdioSandboxOptions,
} from './stdio-sandbox.js';
