/**
 * Every route the API serves, as {@link RouteSpec}s (DESIGN §4). The routers take their
 * validation schemas from here and `GET /api/openapi.json` is generated from this list; a test
 * checks that the routes mounted on the app and this list are the same.
 */
import { z } from 'zod';
import {
  approveToolsBody,
  sessionTool,
  callsQuery,
  serverPage,
  serversQuery,
  toolCallPage,
  createTokenBody,
  createUserBody,
  createdToken,
  createdWidgetToken,
  createWidgetTokenBody,
  createdUser,
  healthResource,
  idParams,
  livekitTokenBody,
  livekitTokenResource,
  oauthCallbackQuery,
  oauthConnectQuery,
  oauthDisconnectResource,
  oauthStartResource,
  roomCallsQuery,
  roomParams,
  roomToolCallResource,
  scopeQuery,
  serverResource,
  statusResource,
  testResult,
  tokenResource,
  userResource,
  widgetStatusResource,
  widgetTokenResource,
} from './schemas.js';
import { defineRoute, type RouteSpec } from './route-spec.js';
import { createServerBody, testServerBody, updateServerBody } from '../servers/input.js';

const SERVERS = '/api/mcp/servers';
const SCOPE = 'Scoped to the caller; an admin may act for a user with `?userId=`.';

/** The API's routes by operation id. */
export const API_ROUTES = {
  health: defineRoute({
    method: 'get',
    path: '/api/health',
    operationId: 'health',
    summary: 'Liveness: 200 while the process serves',
    tag: 'status',
    auth: 'none',
    responses: { 200: { description: 'The process serves.', schema: healthResource } },
  }),
  status: defineRoute({
    method: 'get',
    path: '/api/status',
    operationId: 'status',
    summary: "LiveKit, OpenAI, the caller's MCP servers and the database, each with a detail",
    description:
      '`latencyMs` is the time, in milliseconds, this server took to assemble the answer.',
    tag: 'status',
    auth: 'user',
    responses: { 200: { description: 'The status of each part.', schema: statusResource } },
  }),
  statusStream: defineRoute({
    method: 'get',
    path: '/api/status/stream',
    operationId: 'statusStream',
    summary: "WebSocket: a status snapshot, then each status change of the caller's servers",
    description:
      'Upgrade with `Authorization: Bearer <token>`, or from a browser with the subprotocols ' +
      '`switchboard.v1` and `bearer.<token>`. Messages are JSON: first `{ "type": "snapshot" }`, ' +
      'then `{ "type": "server" }` and `{ "type": "system" }` changes.',
    tag: 'status',
    auth: 'user',
    mount: 'upgrade',
    responses: { 101: { description: 'Switching Protocols: the WebSocket is open.' } },
  }),
  metrics: defineRoute({
    method: 'get',
    path: '/metrics',
    operationId: 'metrics',
    summary: 'Prometheus metrics (admins only)',
    description:
      'Tool calls, errors and durations per server and tool, connections by state, reconnects ' +
      'and HTTP request durations, in the Prometheus text format.',
    tag: 'status',
    auth: 'admin',
    responses: {
      200: { description: 'The metrics.', schema: z.string(), contentType: 'text/plain' },
    },
  }),
  openapi: defineRoute({
    method: 'get',
    path: '/api/openapi.json',
    operationId: 'openapi',
    summary: 'This OpenAPI 3.1 document, generated from the zod schemas',
    tag: 'meta',
    auth: 'none',
    responses: {
      200: { description: 'The OpenAPI document.', schema: z.record(z.string(), z.unknown()) },
    },
  }),
  listServers: defineRoute({
    method: 'get',
    path: SERVERS,
    operationId: 'listServers',
    summary: "The caller's MCP servers, oldest first, a page at a time",
    description:
      `${SCOPE} Paginated by cursor: \`limit\` servers at most (default 50, at most 200) and ` +
      '`nextCursor`, to pass as `cursor` for the next page (null on the last page). Pages follow ' +
      'the server id, so a server added meanwhile appears at the end and none is repeated or ' +
      'skipped. A malformed `limit` or `cursor` is a 400 naming it. Each page carries an ' +
      '`ETag`; a request whose `If-None-Match` names the current one is answered 304.',
    tag: 'servers',
    auth: 'user',
    query: serversQuery,
    errors: [403, 404],
    responses: {
      200: { description: 'One page of servers.', schema: serverPage },
      304: { description: 'Not modified: the page is the one the `If-None-Match` tag names.' },
    },
  }),
  createServer: defineRoute({
    method: 'post',
    path: SERVERS,
    operationId: 'createServer',
    summary: 'Add an MCP server',
    description:
      `${SCOPE} A user's server names are unique regardless of case: a name taken in any ` +
      'case (`Everything` next to `everything`) is a 409 naming the server that holds it.',
    tag: 'servers',
    auth: 'user',
    query: scopeQuery,
    body: createServerBody,
    errors: [403, 404, 409, 422],
    responses: { 201: { description: 'The new server.', schema: serverResource } },
  }),
  getServer: defineRoute({
    method: 'get',
    path: `${SERVERS}/:id`,
    operationId: 'getServer',
    summary: 'One server',
    description: `${SCOPE} Another user's server is a 404.`,
    tag: 'servers',
    auth: 'user',
    params: idParams,
    query: scopeQuery,
    errors: [403],
    responses: { 200: { description: 'The server.', schema: serverResource } },
  }),
  updateServer: defineRoute({
    method: 'put',
    path: `${SERVERS}/:id`,
    operationId: 'updateServer',
    summary: 'Partial update: any subset of the create fields',
    description:
      `${SCOPE} Omitted fields and secrets are kept; \`apiKey\`, \`cwd\` and \`auth\` ` +
      'set to null are cleared. The merged result is validated like a create body. An update ' +
      'that changes where the secrets go (the origin of `url` or `auth.tokenUrl`, `command`, ' +
      '`args`, `cwd`) must give them again or clear them (422 naming them). The owner of an ' +
      '`adminManaged` server may not change its connection, secrets, tool filter, tool ' +
      "policy or `pinTools` (403 naming them). Renaming to a name another of the user's servers holds, in " +
      'any case, is a 409 naming that server; changing the case of its own name is allowed.',
    tag: 'servers',
    auth: 'user',
    params: idParams,
    query: scopeQuery,
    body: updateServerBody.meta({
      description:
        'Any subset of the fields of a createServer body, each with the same type; the merged ' +
        'server must be a valid createServer body.',
    }),
    errors: [403, 409, 422],
    responses: { 200: { description: 'The updated server.', schema: serverResource } },
  }),
  deleteServer: defineRoute({
    method: 'delete',
    path: `${SERVERS}/:id`,
    operationId: 'deleteServer',
    summary: 'Remove a server',
    description: SCOPE,
    tag: 'servers',
    auth: 'user',
    params: idParams,
    query: scopeQuery,
    errors: [403],
    responses: { 204: { description: 'Deleted.' } },
  }),
  testServer: defineRoute({
    method: 'post',
    path: `${SERVERS}/:id/test`,
    operationId: 'testServer',
    summary: 'Connect for real: status, tools and latency, or the error',
    description:
      `${SCOPE} The optional body gives a user token for \`user-token\` servers. At most the ` +
      'first 500 tools are listed; `toolCount` counts them all and `truncated` says when some ' +
      'were left out.',
    tag: 'servers',
    auth: 'user',
    params: idParams,
    query: scopeQuery,
    body: testServerBody,
    bodyRequired: false,
    errors: [403],
    responses: { 200: { description: 'The outcome of the test.', schema: testResult } },
  }),
  listTools: defineRoute({
    method: 'get',
    path: `${SERVERS}/:id/tools`,
    operationId: 'listTools',
    summary: 'The tools exactly as the agent advertises them, with their pin states',
    description:
      `${SCOPE} Each says whether a call waits for the user's spoken yes (\`needsConfirmation\`) ` +
      'and how it stands against its pin (`pinState`: `pinned`, `changed` with `changes`, `new`, ' +
      "or `off` when the server's `pinTools` is false). `changed` and `new` tools are " +
      '`withheld`: sessions and the gateway do not offer them until approved. A server whose ' +
      'tools were never pinned is pinned by this listing (trust on first use). When any offered ' +
      "tool needs confirmation the server's confirm tool (`<server>__confirm_action`) follows, " +
      'and when any is withheld `<server>__withheld_tools`, as a session adds them. At most the ' +
      'first 500 tools are listed; the `X-Total-Count` header counts them all.',
    tag: 'servers',
    auth: 'user',
    params: idParams,
    query: scopeQuery,
    errors: [403, 422, 503],
    responses: { 200: { description: 'The tools.', schema: z.array(sessionTool) } },
  }),
  approveTools: defineRoute({
    method: 'post',
    path: `${SERVERS}/:id/tools/approve`,
    operationId: 'approveTools',
    summary: 'Approve changed or new tools: pin their definitions as they are now',
    description:
      `${SCOPE} Lists the server's tools now and pins each named one's current definition, ` +
      "recorded as approved by the caller (the owner, or an admin). The server's running voice " +
      'sessions and gateway sessions offer the approved tools right away, without reconnecting. ' +
      'A name that is not one of the tools the server lists now is a 422 naming it; a `{name, ' +
      'hash}` whose tool has another definition now is a 409 (look again, then approve); ' +
      'nothing is approved then. Answers with the tool list as `listTools` gives it.',
    tag: 'servers',
    auth: 'user',
    params: idParams,
    query: scopeQuery,
    body: approveToolsBody,
    errors: [403, 409, 422, 503],
    responses: {
      200: { description: 'The tools after the approval.', schema: z.array(sessionTool) },
    },
  }),
  listCalls: defineRoute({
    method: 'get',
    path: `${SERVERS}/:id/calls`,
    operationId: 'listCalls',
    summary: "The server's recent tool calls, newest first, a page at a time",
    description:
      `${SCOPE} Tool call arguments are never stored. Paginated by cursor: \`limit\` calls at ` +
      'most (default 50, at most 200) and `nextCursor`, to pass as `cursor` for older calls ' +
      '(null on the last page). Pages follow `(startedAt, id)`, so calls recorded meanwhile ' +
      'never shift a later page. A malformed `limit` or `cursor` is a 400 naming it.',
    tag: 'servers',
    auth: 'user',
    params: idParams,
    query: callsQuery,
    errors: [403],
    responses: { 200: { description: 'One page of calls.', schema: toolCallPage } },
  }),
  startOAuth: defineRoute({
    method: 'post',
    path: `${SERVERS}/:id/oauth/start`,
    operationId: 'startOAuth',
    summary: "Connect the owner's account on an `oauth` server: the authorization URL",
    description:
      `${SCOPE} Runs discovery and client registration and records the request (single use, ` +
      'valid 10 minutes, bound to the user, the server, the PKCE verifier and this browser by ' +
      'an HttpOnly cookie). Send the browser to `authorizationUrl`; it comes back to ' +
      '`GET /api/oauth/callback`. 409 for a server whose auth is not `oauth`; 502 when ' +
      'discovery, registration or the authorization server fails.',
    tag: 'oauth',
    auth: 'user',
    params: idParams,
    query: scopeQuery,
    // No fields yet; an empty JSON object (or no body) is the request.
    body: z.strictObject({}),
    bodyRequired: false,
    errors: [403, 409, 502],
    responses: { 200: { description: 'Where to send the browser.', schema: oauthStartResource } },
  }),
  disconnectOAuth: defineRoute({
    method: 'delete',
    path: `${SERVERS}/:id/oauth`,
    operationId: 'disconnectOAuth',
    summary: "Disconnect the owner's account: revoke, then delete the tokens",
    description:
      `${SCOPE} Revokes the tokens at the authorization server when it offers RFC 7009 ` +
      'revocation, deletes them, and leaves the server `needs_authorization`.',
    tag: 'oauth',
    auth: 'user',
    params: idParams,
    query: scopeQuery,
    errors: [403, 409],
    responses: { 200: { description: 'Disconnected.', schema: oauthDisconnectResource } },
  }),
  oauthCallback: defineRoute({
    method: 'get',
    path: '/api/oauth/callback',
    operationId: 'oauthCallback',
    summary: 'Where authorization servers send the browser back (redirect_uri)',
    description:
      'Finishes an authorization started by `startOAuth` in this browser: the `state` is used ' +
      'once, the `iss` must be the authorization server the request went to (RFC 9207), the ' +
      'code is exchanged and the tokens stored sealed. Answers 302 to the dashboard with the ' +
      'outcome in its URL fragment (`#/servers?oauth=connected&server=<id>`, or ' +
      '`oauth=<error code>&message=<words>`).',
    tag: 'oauth',
    auth: 'none',
    query: oauthCallbackQuery,
    responses: { 302: { description: 'Back to the dashboard.' } },
  }),
  oauthConnectLink: defineRoute({
    method: 'get',
    path: '/api/oauth/connect',
    operationId: 'oauthConnectLink',
    summary: 'The link the agent sends to the screen to connect an account',
    description:
      'Opened from a `switchboard.link` data message: binds this browser to the authorization ' +
      'the agent started (the link holds its nonce) and answers 302 to the authorization ' +
      "server (`to`, which must carry that authorization's state). An expired or used link " +
      'answers 302 to the dashboard with the reason.',
    tag: 'oauth',
    auth: 'none',
    query: oauthConnectQuery,
    responses: { 302: { description: 'To the authorization server, or back to the dashboard.' } },
  }),
  clientMetadata: defineRoute({
    method: 'get',
    path: '/oauth/client-metadata.json',
    operationId: 'clientMetadata',
    summary: "Switchboard's OAuth Client ID Metadata Document",
    description:
      'The document authorization servers that support Client ID Metadata Documents fetch to ' +
      'learn about Switchboard (its URL is the `client_id`). Served only when `PUBLIC_URL` is ' +
      'HTTPS; 404 otherwise.',
    tag: 'oauth',
    auth: 'none',
    errors: [404],
    responses: { 200: { description: 'The document.', schema: z.record(z.string(), z.unknown()) } },
  }),
  listUsers: defineRoute({
    method: 'get',
    path: '/api/users',
    operationId: 'listUsers',
    summary: 'Every user (admins only)',
    tag: 'users',
    auth: 'admin',
    responses: { 200: { description: 'The users.', schema: z.array(userResource) } },
  }),
  createUser: defineRoute({
    method: 'post',
    path: '/api/users',
    operationId: 'createUser',
    summary: 'Create a user and their first API token, shown once (admins only)',
    tag: 'users',
    auth: 'admin',
    body: createUserBody,
    errors: [409],
    responses: { 201: { description: 'The user and their token.', schema: createdUser } },
  }),
  listTokens: defineRoute({
    method: 'get',
    path: '/api/tokens',
    operationId: 'listTokens',
    summary: "The caller's API tokens, without the tokens themselves",
    tag: 'tokens',
    auth: 'user',
    responses: { 200: { description: 'The tokens.', schema: z.array(tokenResource) } },
  }),
  createToken: defineRoute({
    method: 'post',
    path: '/api/tokens',
    operationId: 'createToken',
    summary: 'Create another API token for the caller, shown once',
    description:
      'Without `scopes` the token opens everything (the REST API and the MCP gateway). ' +
      '`scopes: ["gateway"]` makes a token for MCP clients only: the REST API, the status ' +
      'endpoints and stream and `/metrics` refuse it (403). Adding `server:<id>` entries limits ' +
      'the gateway to those of your servers; a server that is not yours (missing or another ' +
      "user's) is a 422. An unknown scope, an empty list, server scopes without `gateway` or " +
      'with `api` are a 400.',
    tag: 'tokens',
    auth: 'user',
    body: createTokenBody,
    bodyRequired: false,
    errors: [422],
    responses: { 201: { description: 'The new token.', schema: createdToken } },
  }),
  revokeToken: defineRoute({
    method: 'delete',
    path: '/api/tokens/:id',
    operationId: 'revokeToken',
    summary: "Revoke one of the caller's tokens",
    description: "Another user's token is a 404. Revoking a revoked token is a no-op.",
    tag: 'tokens',
    auth: 'user',
    params: idParams,
    responses: { 204: { description: 'Revoked.' } },
  }),
  listWidgetTokens: defineRoute({
    method: 'get',
    path: '/api/widget-tokens',
    operationId: 'listWidgetTokens',
    summary: "The caller's read-only status widget tokens, without the tokens themselves",
    tag: 'widget',
    auth: 'user',
    responses: { 200: { description: 'The widget tokens.', schema: z.array(widgetTokenResource) } },
  }),
  createWidgetToken: defineRoute({
    method: 'post',
    path: '/api/widget-tokens',
    operationId: 'createWidgetToken',
    summary: 'Create a read-only status widget token (`sbw_…`) for the caller, shown once',
    description:
      'A widget token opens `GET /api/widget/status` and the page `/widget/status#token=…` for ' +
      'the caller, and every other route refuses it (401).',
    tag: 'widget',
    auth: 'user',
    body: createWidgetTokenBody,
    bodyRequired: false,
    responses: { 201: { description: 'The new widget token.', schema: createdWidgetToken } },
  }),
  revokeWidgetToken: defineRoute({
    method: 'delete',
    path: '/api/widget-tokens/:id',
    operationId: 'revokeWidgetToken',
    summary: "Revoke one of the caller's widget tokens",
    description: "Another user's widget token is a 404. Revoking a revoked one is a no-op.",
    tag: 'widget',
    auth: 'user',
    params: idParams,
    responses: { 204: { description: 'Revoked.' } },
  }),
  widgetStatus: defineRoute({
    method: 'get',
    path: '/api/widget/status',
    operationId: 'widgetStatus',
    summary: "System health and the token owner's servers, for status widgets and uptime pollers",
    description:
      'Send `Authorization: Bearer <token>` with a widget token (`sbw_…`) or an API token; ' +
      'either only reads. The answer is 200 when `status` is `ok` or `degraded` and 503 when ' +
      'it is `down` (same body), so pollers can alert on the status code. It names no URL, ' +
      'command, header, secret or error text. `Cache-Control: no-store`; any origin may call it ' +
      '(`Access-Control-Allow-Origin: *`, no cookies).',
    tag: 'widget',
    auth: 'user',
    responses: {
      200: { description: '`ok` or `degraded`.', schema: widgetStatusResource },
      503: {
        description:
          '`down` (this body); a problem document instead when the token cannot be checked ' +
          'because the database is unreachable.',
        schema: widgetStatusResource,
      },
    },
  }),
  widgetPage: defineRoute({
    method: 'get',
    path: '/widget/status',
    operationId: 'widgetPage',
    summary: 'The embeddable status widget page (HTML), for an iframe',
    description:
      'Give the widget token in the fragment, `/widget/status#token=sbw_…`, so it is never ' +
      'sent to the server, logged or passed on as a Referer. Framing is allowed from ' +
      '`WIDGET_FRAME_ANCESTORS` (default any origin). The page polls ' +
      '`GET /api/widget/status` every 15 seconds.',
    tag: 'widget',
    auth: 'none',
    responses: { 200: { description: 'The page.', schema: z.string(), contentType: 'text/html' } },
  }),
  createLivekitToken: defineRoute({
    method: 'post',
    path: '/api/livekit/token',
    operationId: 'createLivekitToken',
    summary: 'A LiveKit token to talk to the agent, dispatched for the caller',
    description:
      'Mints a LiveKit access token for the caller (identity `user-<id>`) to join `room` (or a ' +
      'fresh one), with an explicit dispatch of the agent (`AGENT_NAME`) whose metadata is ' +
      '`{"userId": <caller id>}`, so the session uses the caller\'s MCP servers. LiveKit applies ' +
      'the dispatch when the join creates the room. A room belongs to the user it was first ' +
      "minted for: another user's room is a 404. An admin sending `?userId=` gets the token " +
      'for that user (their identity, agent and rooms). 503 when LiveKit is not configured.',
    tag: 'livekit',
    auth: 'user',
    query: scopeQuery,
    errors: [403, 404],
    body: livekitTokenBody,
    bodyRequired: false,
    responses: {
      200: { description: 'The token, the server URL and the room.', schema: livekitTokenResource },
    },
  }),
  listRoomCalls: defineRoute({
    method: 'get',
    path: '/api/livekit/rooms/:room/calls',
    operationId: 'listRoomCalls',
    summary: "The tool calls of the caller's agent in one of their rooms, oldest first",
    description:
      'What the Voice page polls to show tool calls as they finish: the calls after `after` ' +
      "(the last id seen). A room that is not the caller's (or the acted-for user's) is a 404, " +
      'as on `POST /api/livekit/token`. Tool call arguments are never stored.',
    tag: 'livekit',
    auth: 'user',
    params: roomParams,
    query: roomCallsQuery,
    errors: [403, 404],
    responses: { 200: { description: 'The calls.', schema: z.array(roomToolCallResource) } },
  }),
};

/** Every route, in the order the document lists them. */
export const ALL_ROUTES: readonly RouteSpec[] = Object.values(API_ROUTES);
