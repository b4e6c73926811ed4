/** The database: schema, opener and the queries both processes share. */
export * as schema from './schema.js';
export {
  DATA_DIR_LOCK_FILE,
  DataDirLockedError,
  acquireDataDirLock,
  type DataDirLock,
  type DataDirLockOptions,
} from './data-dir-lock.js';
export {
  MIGRATIONS_FOLDER,
  openDatabase,
  type Database,
  type DatabaseHandle,
  type OpenDatabaseOptions,
} from './open.js';
export {
  createServer,
  deleteServer,
  findServer,
  getServer,
  isUniqueViolation,
  listAllActiveServers,
  listServers,
  updateServer,
  updateServerStatus,
  type ListServersOptions,
  type ServerConfigPatch,
  type ServerStatusPatch,
  type ServerStore,
} from './servers.js';
export {
  openServerSecrets,
  sealServerSecrets,
  secretContext,
  serverSecretsNeedSealing,
  type ServerSecretColumns,
} from './server-secrets.js';
export {
  SERVERS_CHANNEL,
  notifyServerChange,
  parseServerChange,
  type ServerChange,
} from './notify.js';
export { listToolCalls, recordToolCall, type ToolCallRecord } from './tool-calls.js';
export { claimVoiceRoom, voiceRoomOwner } from './voice-rooms.js';
export type {
  ConnectionStatus,
  McpServerRow,
  NewMcpServerRow,
  ServerMetadata,
  ToolCallRow,
  ToolFilter,
  TransportKind,
  User,
  UserRole,
  VoiceRoomRow,
} from './schema.js';
