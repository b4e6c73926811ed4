// @ts-check
/**
 * Page helpers of the dashboard: finding and making elements, the message line, times and
 * status colours. Everything users typed goes on the page as text (`append` of strings makes
 * text nodes), never as HTML.
 */

/**
 * The element with this id.
 * @param {string} id
 * @throws {Error} when the page has no such element (a bug in the page)
 */
export function byId(id) {
  const found = document.getElementById(id);
  if (!found) throw new Error(`#${id} is missing`);
  return found;
}

/**
 * Makes an element. `children` are nodes or strings (added as text).
 * @param {string} tag
 * @param {Record<string, string | boolean | ((event: Event) => void)>} [attrs]
 * @param {(Node | string | null | undefined)[]} [children]
 */
export function h(tag, attrs = {}, children = []) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (typeof value === 'function') node.addEventListener(key.slice(2), value);
    else if (value === true) node.setAttribute(key, '');
    else if (value !== false) node.setAttribute(key, value);
  }
  for (const child of children) {
    if (child !== null && child !== undefined) node.append(child);
  }
  return node;
}

/**
 * Shows a line under the header; errors stay until the next message.
 * @param {string} text
 * @param {'info' | 'error'} [kind]
 */
export function say(text, kind = 'info') {
  const line = byId('message');
  line.textContent = text;
  line.className = `message ${kind}`;
  line.hidden = !text;
}

/**
 * Shows an error's message on the message line.
 * @param {unknown} error
 */
export function sayError(error) {
  say(error instanceof Error ? error.message : String(error), 'error');
}

/**
 * A time for people: `12 s ago`, `5 min ago`, then the local date and time; `never` for none.
 * @param {string | null | undefined} iso an ISO 8601 time from the API
 */
export function when(iso) {
  if (!iso) return 'never';
  const date = new Date(iso);
  const seconds = Math.round((Date.now() - date.getTime()) / 1000);
  if (seconds < 60) return `${Math.max(seconds, 0)} s ago`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  return date.toLocaleString();
}

/**
 * A status word's colour (DESIGN §5, after seed 004: green connected, yellow ready or
 * connecting, red error or disconnected).
 * @param {string} status
 */
export function tone(status) {
  if (status === 'connected' || status === 'ok') return 'good';
  if (status === 'ready' || status === 'connecting' || status === 'degraded') return 'wait';
  if (status === 'error' || status === 'disconnected') return 'bad';
  return 'idle';
}
