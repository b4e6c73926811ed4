/** The MCP connection layer shared by the agent and the API. */
export {
  advertiseTools,
  cleanInputSchema,
  toolPassesFilter,
  type AdvertisedTool,
  type AdvertiseToolsOptions,
  type ToolParametersSchema,
} from './advertised-tools.js';
export {
  USER_TOKEN_HEADER,
  authHeaders,
  createOAuthProvider,
  isOAuth,
  userTokenHeaders,
} from './auth.js';
export {
  CLIENT_INFO,
  McpConnection,
  type CallToolOptions,
  type ConnectionInfo,
  type McpConnectionOptions,
} from './connection.js';
export type { ConnectionGuards } from './connection-guards.js';
export { McpConnectionError, type McpErrorCode } from './errors.js';
/** Lives in `shared/errors.ts` (every layer uses it); offered here with the errors it describes. */
export { describeError } from '../errors.js';
export {
  DEFAULT_TIMEOUT_MS,
  JWT_ALGORITHMS,
  configFromColumns,
  mcpServerConfigSchema,
  serverAuthSchema,
  type JwtAlgorithm,
  type McpServerConfig,
  type McpServerConfigInput,
  type OAuthServerAuth,
  type RemoteServerConfig,
  type ServerAuth,
  type ServerConfigColumns,
  type StdioServerConfig,
} from './server-config.js';
export {
  DEFAULT_STDERR_LIMITS,
  StderrLog,
  type StderrLimits,
  type StderrLogOptions,
} from './stderr-log.js';
export {
  EnvRefusedError,
  SYSTEM_PATH_DIRECTORIES,
  envNameRefusal,
  fixedSearchPath,
  stdioEnvironment,
  type StdioEnvironmentInput,
} from './stdio-environment.js';
export {
  DEFAULT_MAX_STDIO_PROCESSES,
  DEFAULT_MAX_STDIO_PROCESSES_PER_USER,
  StdioProcessLimitError,
  StdioProcessLimiter,
  StdioUserProcessLimitError,
  type ExitEmitter,
  type StdioProcessAdmission,
  type StdioProcessLimiterOptions,
  type StdioProcessSlot,
} from './stdio-process-limiter.js';
export {
  DEFAULT_KILL_GRACE_MS,
  StdioProcessTransport,
  type StdioProcessTransportOptions,
} from './stdio-transport.js';
export {
  DEFAULT_HEALTH_POLICY,
  SupervisedConnection,
  backoffDelayMs,
  type HealthPolicy,
  type StatusChange,
  type SupervisedConnectionOptions,
} from './supervised-connection.js';
export { MAX_TOOL_NAME_LENGTH, advertisedToolNames, slugify } from './tool-names.js';
export {
  DEFAULT_MAX_RESULT_CHARS,
  plainResultText,
  toolResultToText,
  truncate,
  type ToolResultText,
  type ToolResultTextOptions,
} from './tool-result.js';
export { remoteHeaders } from './transports.js';
export { WebSocketClientTransport } from './websocket-transport.js';
