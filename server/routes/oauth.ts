/**
 * The OAuth routes that are not under a server (issue 13): the redirect back from authorization
 * servers (`GET /api/oauth/callback`, public: the browser arrives without the API token, and the
 * `state` plus this browser's cookie identify the authorization) and Switchboard's Client ID
 * Metadata Document (`GET /oauth/client-metadata.json`). Starting and disconnecting are in the
 * servers router (`/api/mcp/servers/:id/oauth…`).
 */
import { Router, type Request, type Response } from 'express';
import { API_ROUTES } from '../api/routes.js';
import { parseRequest } from '../api/route-spec.js';
import { findOAuthConnection, flowServerOfBrowser } from '../../shared/db/oauth.js';
import { NotFoundError } from '../http/errors.js';
import {
  clientMetadataDocument,
  finishAuthorization,
  type OAuthDeps,
} from '../oauth/authorization.js';

/** The cookie binding an authorization to the browser that started it. */
export const OAUTH_BROWSER_COOKIE = 'sb_oauth_browser';

/**
 * The value of one cookie of a request. Express 5 parses no cookies by itself, and this one
 * cookie is all the API reads, so the `Cookie` header (RFC 6265 §4.2.1: `name=value` pairs
 * separated by `; `) is split here rather than adding a parser for it.
 */
export function cookieOf(req: Request, name: string): string | undefined {
  for (const pair of (req.headers.cookie ?? '').split(';')) {
    const at = pair.indexOf('=');
    if (at > 0 && pair.slice(0, at).trim() === name) return pair.slice(at + 1).trim();
  }
  return undefined;
}

/**
 * Keeps the browser's nonce in an HttpOnly cookie for the callback: `SameSite=Lax` (the
 * authorization server's redirect back is a top-level GET, which Lax cookies go with), limited
 * to `/api/oauth`, 10 minutes, `Secure` when the API is reached over HTTPS.
 */
export function setBrowserCookie(res: Response, nonce: string, publicUrl: string): void {
  res.cookie(OAUTH_BROWSER_COOKIE, nonce, {
    httpOnly: true,
    sameSite: 'lax',
    path: '/api/oauth',
    maxAge: 10 * 60_000,
    secure: publicUrl.startsWith('https://'),
  });
}

/** The `authorization_endpoint` of a stored discovery state, if it has one. */
function authorizationEndpointOf(discovery: unknown): URL | undefined {
  const endpoint = (
    discovery as { authorizationServerMetadata?: { authorization_endpoint?: unknown } }
  )?.authorizationServerMetadata?.authorization_endpoint;
  return typeof endpoint === 'string' && URL.canParse(endpoint) ? new URL(endpoint) : undefined;
}

/** The routes; mount at the app's root. */
export function oauthRouter(deps: OAuthDeps): Router {
  const router = Router();

  router.get('/api/oauth/callback', async (req, res) => {
    const { query } = parseRequest(API_ROUTES.oauthCallback, req);
    const outcome = await finishAuthorization(deps, query, cookieOf(req, OAUTH_BROWSER_COOKIE));
    const fragment = new URLSearchParams({ oauth: outcome.code });
    if (outcome.serverId !== undefined) fragment.set('server', String(outcome.serverId));
    if (outcome.serverName) fragment.set('name', outcome.serverName);
    if (outcome.error) fragment.set('message', outcome.error);
    // The code and state are spent; nothing of them goes further, not even as a Referer.
    res.set('Cache-Control', 'no-store').set('Referrer-Policy', 'no-referrer');
    res.redirect(302, `/dashboard/#/servers?${fragment}`);
  });

  router.get('/api/oauth/connect', async (req, res) => {
    const { query } = parseRequest(API_ROUTES.oauthConnectLink, req);
    // `to` is followed only when it carries the state of an authorization this link's nonce was
    // bound to, and goes to the authorization endpoint discovered for that server: the link
    // cannot send anyone anywhere else.
    const target = URL.canParse(query.to) ? new URL(query.to) : undefined;
    const state = target?.searchParams.get('state');
    const serverId = state ? await flowServerOfBrowser(deps.db, state, query.link) : undefined;
    const endpoint =
      serverId === undefined
        ? undefined
        : authorizationEndpointOf(
            (await findOAuthConnection(deps.db, deps.secrets, serverId))?.discovery,
          );
    const valid =
      target !== undefined &&
      endpoint !== undefined &&
      `${target.origin}${target.pathname}` === `${endpoint.origin}${endpoint.pathname}`;
    res.set('Cache-Control', 'no-store').set('Referrer-Policy', 'no-referrer');
    if (!valid) {
      const fragment = new URLSearchParams({
        oauth: 'unknown_link',
        message:
          'This link has expired (10 minutes) or was used already: ask the agent for a new one, or press Connect account on the dashboard.',
      });
      res.redirect(302, `/dashboard/#/servers?${fragment}`);
      return;
    }
    setBrowserCookie(res, query.link, deps.publicUrl);
    res.redirect(302, target!.href);
  });

  router.get('/oauth/client-metadata.json', (req, res) => {
    parseRequest(API_ROUTES.clientMetadata, req);
    const document = clientMetadataDocument(deps.publicUrl);
    if (!document) {
      throw new NotFoundError(
        'Switchboard serves its Client ID Metadata Document only when PUBLIC_URL is an https URL.',
      );
    }
    res.set('Cache-Control', 'public, max-age=3600').json(document);
  });

  return router;
}
