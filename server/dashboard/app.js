// @ts-check
/**
 * The Switchboard dashboard: a page for people, built only on the public REST API (README,
 * "REST API") and the status stream (`GET /api/status/stream`). No build step and no framework:
 * the API server serves these modules as they are (`server/routes/dashboard.ts`). This module
 * signs in and out and wires the parts together.
 */
import { createToken, createUser, loadTokens, loadUsers } from './access.js';
import { ApiError, session } from './api.js';
import { byId, say, sayError } from './dom.js';
import { closeEditor, initServerForm, openEditor } from './server-form.js';
import {
  applyServerMessage,
  applySnapshot,
  clearServers,
  initServers,
  loadServers,
  upsertServer,
} from './servers.js';
import { closeStream, openStream, pollStatus } from './status.js';
import { startVoiceSession } from './voice.js';

/** @type {ReturnType<typeof setInterval> | undefined} */
let listTimer;

const TOKEN_KEY = 'switchboard.token';

/** How often the list is read again for tool counts and latencies the stream does not carry. */
const LIST_REFRESH_MS = 30_000;

/**
 * Signs in with an API token: it is kept in `localStorage` once the API accepts it.
 * @param {string} token
 */
async function signIn(token) {
  session.token = token;
  try {
    await loadServers();
  } catch (error) {
    // A refused token signs out by itself (see `api`); anything else leaves the form up too.
    if (!(error instanceof ApiError && error.status === 401)) {
      byId('sign-in').hidden = false;
      sayError(error);
    }
    return;
  }
  localStorage.setItem(TOKEN_KEY, token);
  byId('sign-in').hidden = true;
  byId('servers').hidden = false;
  byId('sign-out').hidden = false;
  say('');
  void pollStatus();
  openStream({ onSnapshot: applySnapshot, onServer: applyServerMessage });
  void loadUsers();
  byId('access').hidden = false;
  byId('voice').hidden = false;
  void loadTokens().catch(() => {});
  clearInterval(listTimer);
  listTimer = setInterval(() => void loadServers().catch(() => {}), LIST_REFRESH_MS);
}

/**
 * Forgets the token, closes the stream and empties the page.
 * @param {string} [why] shown on the sign-in form
 */
function signOut(why) {
  session.token = '';
  session.actingFor = null;
  localStorage.removeItem(TOKEN_KEY);
  closeStream();
  clearInterval(listTimer);
  clearServers();
  closeEditor();
  for (const id of [
    'servers',
    'editor',
    'detail',
    'sign-out',
    'system-status',
    'acting-for',
    'access',
    'voice',
    'voice-result',
    'users',
    'new-token',
    'new-user-token',
    'user-errors',
  ]) {
    byId(id).hidden = true;
  }
  // Secrets shown once and the voice session's token do not outlive the sign-in.
  for (const id of ['new-token', 'new-user-token', 'voice-result', 'system-status']) {
    byId(id).replaceChildren();
  }
  byId('user-select').replaceChildren();
  byId('sign-in').hidden = false;
  say(why ?? '', why ? 'error' : 'info');
  /** @type {HTMLInputElement} */ (byId('token')).value = '';
}

/** Wires the page and signs in with a kept token, if any. */
function start() {
  byId('sign-in-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const token = /** @type {HTMLInputElement} */ (byId('token')).value.trim();
    if (token) void signIn(token);
  });
  byId('sign-out').addEventListener('click', () => signOut());
  byId('start-voice').addEventListener('click', () => void startVoiceSession());
  initServers({ onEdit: openEditor });
  initServerForm({ onSaved: upsertServer });
  byId('token-form').addEventListener(
    'submit',
    (event) => void createToken(/** @type {SubmitEvent} */ (event)),
  );
  byId('user-form').addEventListener(
    'submit',
    (event) => void createUser(/** @type {SubmitEvent} */ (event)),
  );
  byId('user-select').addEventListener('change', (event) => {
    const value = /** @type {HTMLSelectElement} */ (event.target).value;
    session.actingFor = value ? Number(value) : null;
    closeEditor();
    clearServers();
    void loadServers().catch(sayError);
  });
  session.onUnauthorized = (detail) => signOut(`The API refused the token: ${detail}`);
  const stored = localStorage.getItem(TOKEN_KEY);
  if (stored) void signIn(stored);
  else signOut();
}
start();
