/** The OAuth authorization code flow for remote MCP servers: provider, storage and errors. */
export {
  AuthorizationCodeProvider,
  type AuthorizationCallback,
  type AuthorizationCodeProviderOptions,
  type PreRegisteredClient,
} from './authorization-code-provider.js';
export {
  InMemoryOAuthFlowStore,
  type OAuthFlowStore,
  type OAuthInvalidation,
  type PendingAuthorization,
} from './flow-store.js';
export {
  OAuthAuthorizationRequiredError,
  OAuthCallbackError,
  authorizationRequiredReason,
  type AuthorizationRequiredReason,
} from './oauth-errors.js';
