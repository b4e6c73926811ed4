/**
 * The Switchboard dashboard: a page for people, built only on the public REST API (README,
 * "REST API") and the status stream. It signs in with an API token (kept in `localStorage` until
 * signing out), shows the system status, and has three pages, chosen by the URL's hash:
 * `#/servers` (the MCP servers), `#/voice` (talk to the agent) and `#/access` (tokens, users,
 * status widget).
 */
import {
  lazy,
  Suspense,
  useCallback,
  useEffect,
  useMemo,
  useState,
  useSyncExternalStore,
} from 'react';
import { AccessPage } from './access/access-page.js';
import { api, ApiError, messageOf, serversPath, session } from './api.js';
import { NoticeContext, NoticeLine, type Notice } from './notice.js';
import { ServerStore } from './server-store.js';
import { ServersPage } from './servers/servers-page.js';
import { SignIn } from './sign-in.js';
import { StatusStream } from './status-stream.js';
import { StatusPills } from './status-pills.js';
import type { PartStatus, User } from './types.js';

// The Voice page brings the LiveKit client: it is loaded only when opened.
const VoicePage = lazy(() =>
  import('./voice/voice-page.js').then((module) => ({ default: module.VoicePage })),
);

const TOKEN_KEY = 'switchboard.token';
/** How often the list is read again for tool counts and latencies the stream does not carry. */
const LIST_REFRESH_MS = 30_000;

const PAGES = [
  { id: 'servers', label: 'Servers' },
  { id: 'voice', label: 'Voice' },
  { id: 'access', label: 'Access' },
] as const;
type PageId = (typeof PAGES)[number]['id'];

function pageFromHash(): PageId {
  const id = location.hash.replace(/^#\/?/, '').split(/[/?]/)[0];
  return PAGES.some((page) => page.id === id) ? (id as PageId) : 'servers';
}

/** The page from the URL's hash, following back and forward. */
function useHashPage(): PageId {
  const [page, setPage] = useState(pageFromHash);
  useEffect(() => {
    const follow = () => setPage(pageFromHash());
    addEventListener('hashchange', follow);
    return () => removeEventListener('hashchange', follow);
  }, []);
  return page;
}

/**
 * The outcome of an OAuth authorization the API's callback sent the browser back with
 * (`#/servers?oauth=connected&server=<id>&name=<name>`, or `oauth=<error code>&message=<words>`).
 */
function oauthOutcomeFromHash():
  { text: string; kind: 'info' | 'error'; serverId?: number } | undefined {
  const query = location.hash.split('?')[1];
  if (!query) return undefined;
  const params = new URLSearchParams(query);
  const code = params.get('oauth');
  if (!code) return undefined;
  const name = params.get('name') ?? 'the server';
  if (code === 'connected') {
    return {
      text: `Your account on ${name} is connected; testing it now…`,
      kind: 'info',
      serverId: Number(params.get('server')),
    };
  }
  return {
    text: `Connecting your account on ${name} failed: ${params.get('message') ?? code}`,
    kind: 'error',
  };
}

/** Tests a server whose account was just connected, so its status and tools show at once. */
async function testAfterConnect(store: ServerStore, serverId: number): Promise<void> {
  await api('POST', serversPath(`/${serverId}/test`), {}).catch(() => {});
  await store.load().catch(() => {});
}

/** The whole page. */
export function App() {
  const store = useMemo(() => new ServerStore(), []);
  const [signedIn, setSignedIn] = useState(false);
  const [checking, setChecking] = useState(() => Boolean(localStorage.getItem(TOKEN_KEY)));
  const [users, setUsers] = useState<User[] | null>(null);
  const [actingFor, setActingFor] = useState<number | null>(null);
  const [parts, setParts] = useState<Record<string, PartStatus>>({});
  const [live, setLive] = useState(false);
  const [notice, setNotice] = useState<Notice | null>(null);
  const page = useHashPage();
  const say = useCallback(
    (text: string, kind: Notice['kind'] = 'info') => setNotice(text ? { text, kind } : null),
    [],
  );

  const signOut = useCallback(
    (why?: string) => {
      session.token = '';
      session.actingFor = null;
      localStorage.removeItem(TOKEN_KEY);
      store.clear();
      setSignedIn(false);
      setChecking(false);
      setUsers(null);
      setActingFor(null);
      setParts({});
      setLive(false);
      setNotice(why ? { text: why, kind: 'error' } : null);
    },
    [store],
  );

  const loadUsers = useCallback(async () => {
    // Admins may list users; for anyone else the API answers 403 and the user parts stay hidden.
    try {
      setUsers(await api<User[]>('GET', '/api/users'));
    } catch {
      setUsers(null);
    }
  }, []);

  const signIn = useCallback(
    async (token: string) => {
      session.token = token;
      try {
        await store.load();
      } catch (error) {
        setChecking(false);
        // A refused token signs out by itself (see `session.onUnauthorized`).
        if (!(error instanceof ApiError && error.status === 401)) say(messageOf(error), 'error');
        return;
      }
      localStorage.setItem(TOKEN_KEY, token);
      setSignedIn(true);
      setChecking(false);
      setNotice(null);
      void loadUsers();
      const oauth = oauthOutcomeFromHash();
      if (oauth) {
        say(oauth.text, oauth.kind);
        // The outcome is said once: a reload does not say it again.
        history.replaceState(null, '', '#/servers');
        if (oauth.serverId !== undefined) void testAfterConnect(store, oauth.serverId);
      }
    },
    [store, say, loadUsers],
  );

  useEffect(() => {
    session.onUnauthorized = (detail) => signOut(`The API refused the token: ${detail}`);
    const stored = localStorage.getItem(TOKEN_KEY);
    if (stored) void signIn(stored);
  }, [signIn, signOut]);

  // The status stream and the list's refresh run while signed in.
  useEffect(() => {
    if (!signedIn) return;
    const stream = new StatusStream({
      onPart: (part, value) => setParts((now) => ({ ...now, [part]: value })),
      onSnapshot: (servers) => store.applySnapshot(servers),
      onServer: (message) => store.applyServerMessage(message),
      onLive: setLive,
    });
    stream.start();
    const timer = setInterval(() => void store.load().catch(() => {}), LIST_REFRESH_MS);
    return () => {
      stream.close();
      clearInterval(timer);
    };
  }, [signedIn, store]);

  const actFor = useCallback(
    (userId: number | null) => {
      session.actingFor = userId;
      setActingFor(userId);
      store.clear();
      void store.load().catch((error: unknown) => say(messageOf(error), 'error'));
    },
    [store, say],
  );

  const servers = useSyncExternalStore(store.subscribe, store.list);
  const actingForUser = users?.find((user) => user.id === actingFor) ?? null;

  return (
    <NoticeContext.Provider value={say}>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="top">
        <div className="brand">
          <span className="logo" aria-hidden="true" />
          <h1>Switchboard</h1>
        </div>
        {signedIn ? (
          <>
            <nav aria-label="Pages">
              {PAGES.map((item) => (
                <a
                  key={item.id}
                  href={`#/${item.id}`}
                  aria-current={page === item.id ? 'page' : undefined}
                >
                  {item.label}
                </a>
              ))}
            </nav>
            <button id="sign-out" type="button" className="quiet" onClick={() => signOut()}>
              Sign out
            </button>
            <StatusPills parts={parts} live={live} />
          </>
        ) : null}
      </header>
      <NoticeLine notice={notice} />
      <main id="main">
        {!signedIn ? (
          checking ? (
            <p className="hint">Signing in…</p>
          ) : (
            <SignIn onSubmit={(token) => void signIn(token)} />
          )
        ) : page === 'servers' ? (
          <ServersPage
            store={store}
            servers={servers}
            users={users}
            actingFor={actingFor}
            onActFor={actFor}
          />
        ) : page === 'voice' ? (
          <Suspense fallback={<p className="hint">Loading the voice client…</p>}>
            <VoicePage livekit={parts.livekit ?? null} actingFor={actingForUser} />
          </Suspense>
        ) : (
          <AccessPage users={users} onUsersChanged={loadUsers} />
        )}
      </main>
    </NoticeContext.Provider>
  );
}
