// @ts-check
/**
 * The signed-in user's API tokens (create, shown once; revoke) and, for admins, the users (create,
 * with their first token shown once) and the choice of user to act for (`?userId=`).
 */
import { api, ApiError } from './api.js';
import { byId, h, say, sayError, when } from './dom.js';

/**
 * Shows a secret the API returns once, with a line saying so.
 * @param {string} id the paragraph's id
 * @param {string} intro
 * @param {string} secret
 */
function showOnce(id, intro, secret) {
  byId(id).replaceChildren(
    `${intro} It is shown only now: copy it somewhere safe. `,
    h('code', { class: 'secret' }, [secret]),
  );
  byId(id).hidden = false;
}

/**
 * Lists the signed-in user's tokens (`GET /api/tokens`), each with a Revoke button.
 * @throws {ApiError} when the API refuses
 */
export async function loadTokens() {
  const tokens = await api('GET', '/api/tokens');
  const body = /** @type {HTMLTableSectionElement} */ (byId('token-table').querySelector('tbody'));
  body.replaceChildren(
    ...tokens.map((/** @type {any} */ token) =>
      h(
        'tr',
        { 'data-token-id': String(token.id), 'data-revoked': String(Boolean(token.revokedAt)) },
        [
          h('td', {}, [token.label || '(no label)']),
          h('td', {}, [when(token.createdAt)]),
          h('td', {}, [token.lastUsedAt ? when(token.lastUsedAt) : 'never']),
          h('td', {}, [token.revokedAt ? `revoked ${when(token.revokedAt)}` : 'active']),
          h('td', {}, [
            token.revokedAt
              ? null
              : h(
                  'button',
                  {
                    type: 'button',
                    class: 'danger',
                    'data-action': 'revoke',
                    onclick: () => void revokeToken(token),
                  },
                  ['Revoke'],
                ),
          ]),
        ],
      ),
    ),
  );
}

/** @param {any} token */
async function revokeToken(token) {
  const label = token.label || `token ${token.id}`;
  if (!confirm(`Revoke ${label}? Anything using it is refused from now on.`)) return;
  try {
    await api('DELETE', `/api/tokens/${token.id}`);
    say(`${label} is revoked.`);
    await loadTokens();
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 401)) sayError(error);
  }
}

/**
 * Creates a token with the form's label (`POST /api/tokens`) and shows it once.
 * @param {SubmitEvent} event the token form's submit
 */
export async function createToken(event) {
  event.preventDefault();
  const formElement = /** @type {HTMLFormElement} */ (event.target);
  const label = /** @type {HTMLInputElement} */ (formElement.elements.namedItem('label')).value;
  try {
    const created = await api('POST', '/api/tokens', { label: label.trim() });
    formElement.reset();
    showOnce('new-token', `New token${created.label ? ` "${created.label}"` : ''}:`, created.token);
    await loadTokens();
  } catch (error) {
    sayError(error);
  }
}

/**
 * Admins see the users, may create one, and may act for another user (`?userId=`); for anyone
 * else `GET /api/users` answers 403 and all of it stays hidden.
 */
export async function loadUsers() {
  const select = /** @type {HTMLSelectElement} */ (byId('user-select'));
  let users;
  try {
    users = await api('GET', '/api/users');
  } catch {
    byId('acting-for').hidden = true;
    byId('users').hidden = true;
    return;
  }
  const chosen = select.value;
  select.replaceChildren(
    h('option', { value: '' }, ['My servers']),
    ...users.map((/** @type {any} */ user) =>
      h('option', { value: String(user.id) }, [`${user.name} <${user.email}>`]),
    ),
  );
  select.value = chosen;
  byId('acting-for').hidden = false;
  const body = /** @type {HTMLTableSectionElement} */ (byId('user-table').querySelector('tbody'));
  body.replaceChildren(
    ...users.map((/** @type {any} */ user) =>
      h('tr', { 'data-user-id': String(user.id) }, [
        h('td', {}, [user.name]),
        h('td', {}, [user.email]),
        h('td', {}, [user.role]),
        h('td', {}, [when(user.createdAt)]),
      ]),
    ),
  );
  byId('users').hidden = false;
}

/**
 * Creates a user from the form (`POST /api/users`, admins) and shows their token once; what the
 * API refuses (a 400 per field, a 409 for a taken email) is listed under the form.
 * @param {SubmitEvent} event the user form's submit
 */
export async function createUser(event) {
  event.preventDefault();
  const formElement = /** @type {HTMLFormElement} */ (event.target);
  const value = (/** @type {string} */ name) =>
    /** @type {HTMLInputElement} */ (formElement.elements.namedItem(name)).value;
  byId('user-errors').hidden = true;
  try {
    const created = await api('POST', '/api/users', {
      name: value('name').trim(),
      email: value('email').trim(),
      role: value('role'),
    });
    formElement.reset();
    showOnce('new-user-token', `${created.user.name} is created. Their API token:`, created.token);
    await loadUsers();
  } catch (error) {
    const box = byId('user-errors');
    const lines =
      error instanceof ApiError
        ? error.lines()
        : [error instanceof Error ? error.message : String(error)];
    box.replaceChildren(...lines.map((line) => h('span', {}, [line])));
    box.hidden = false;
  }
}
