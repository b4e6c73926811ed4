/**
 * The environment a stdio MCP server process starts with, and the `env` names a server may not
 * set. The worker's own environment holds the LiveKit and OpenAI secrets, the database URL and the
 * sealing key, and a stdio server is a program an admin configured: it gets Switchboard's fixed
 * minimal environment (a fixed `PATH`, `HOME`, a UTF-8 locale, `TMPDIR`, and the host's `TZ` when
 * set), in the spirit of sudo's `env_reset`, plus the `env` its configuration sets. Nothing else
 * of the parent's environment reaches it, and the parent's `PATH` in particular never decides
 * which program runs.
 *
 * A configured `env` may not set a name that changes how programs are found or loaded (the
 * dynamic linker's `LD_*`, `NODE_OPTIONS`, `PYTHONPATH`, a shell's `BASH_ENV`, npm's config, …):
 * with one, "run `node` with this package" becomes "run any code", which the command allow list
 * exists to prevent. See {@link envNameRefusal} for the list and the reasons.
 */
import { realpathSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** The system directories of the fixed `PATH`, after the running node's own directory. */
export const SYSTEM_PATH_DIRECTORIES: readonly string[] = [
  '/usr/local/sbin',
  '/usr/local/bin',
  '/usr/sbin',
  '/usr/bin',
  '/sbin',
  '/bin',
];

/**
 * The directories Switchboard looks stdio commands up in, in order: the directory of the running
 * node binary (its real path, so `node`, `npx` and `npm` are the ones Switchboard itself runs
 * with), then {@link SYSTEM_PATH_DIRECTORIES}. Never the parent's `PATH`, which whoever started
 * Switchboard (or a `.env` file) chose.
 *
 * @param execPath the running node binary; default `process.execPath`.
 * @returns absolute directories, without repeats.
 */
export function fixedSearchPath(execPath: string = process.execPath): string[] {
  let real = execPath;
  try {
    real = realpathSync(execPath);
  } catch {
    // A vanished binary still names the directory it ran from.
  }
  return [...new Set([path.dirname(real), ...SYSTEM_PATH_DIRECTORIES])];
}

/** What {@link stdioEnvironment} builds an environment from. */
export interface StdioEnvironmentInput {
  /** The server's configured `env`; default none. Checked with {@link envNameRefusal}. */
  env?: Readonly<Record<string, string>>;
  /**
   * The server's `HOME`; default the home directory of the user Switchboard runs as
   * (`os.homedir()`), so `npx` and `uvx` find their caches. A sandbox passes the server's private
   * directory.
   */
  home?: string;
  /** The server's `TMPDIR`; default `os.tmpdir()`. */
  tmpdir?: string;
  /** The directories of `PATH`; default {@link fixedSearchPath}. */
  searchPath?: readonly string[];
  /** Where `TZ` is taken from (only `TZ`); default `process.env`. */
  parentEnv?: NodeJS.ProcessEnv;
}

/** A configured `env` name the stdio environment refuses; `message` names it and why. */
export class EnvRefusedError extends Error {
  override readonly name = 'EnvRefusedError';
}

/**
 * Builds a stdio server's environment: `PATH` (the fixed search path), `HOME`, `TMPDIR`,
 * `LANG=C.UTF-8` and `LC_ALL=C.UTF-8` (so text is UTF-8 whatever the host's locale), `TZ` when
 * the parent sets it (otherwise the system's `/etc/localtime` applies, as for the host), then the
 * configured `env` on top (it may set `LANG`, `LC_*`, `TZ` and `TMPDIR`, but no refused name).
 *
 * @throws EnvRefusedError when `env` holds a name {@link envNameRefusal} refuses: the schema
 *   refuses them when a server is saved, so only a config built past it (or a stored row that does not pass it)
 *   gets here, and it must not start.
 * @returns a new object; the input is not changed.
 */
export function stdioEnvironment(input: StdioEnvironmentInput = {}): Record<string, string> {
  const configured = input.env ?? {};
  for (const name of Object.keys(configured)) {
    const reason = envNameRefusal(name);
    if (reason) throw new EnvRefusedError(`env ${name} is refused: ${reason}`);
  }
  const fixed: Record<string, string> = {
    PATH: (input.searchPath ?? fixedSearchPath()).join(':'),
    HOME: input.home ?? os.homedir(),
    TMPDIR: input.tmpdir ?? os.tmpdir(),
    LANG: 'C.UTF-8',
    LC_ALL: 'C.UTF-8',
  };
  const tz = (input.parentEnv ?? process.env).TZ;
  // A value starting with `()` is an exported shell function (the "Shellshock" class).
  if (tz && !tz.startsWith('()')) fixed.TZ = tz;
  return { ...fixed, ...configured };
}

/** Why each refused name is refused, by kind. */
const WHY = {
  search: 'it changes where programs and libraries are looked up',
  loader: 'it makes the dynamic linker or the C library load other code',
  node: 'it makes node load other code or change how modules are resolved, or write files',
  python: 'it makes python load other code or change how modules are resolved',
  shell: 'it makes a shell run other code',
  interpreter: 'it makes an interpreter load other code',
  npm: 'it changes npm and npx configuration (e.g. node-options, script-shell, prefix)',
  uv: 'it changes which python or tools uv and uvx run, or where they read configuration',
  git: 'it makes git run other programs or read other configuration',
  config: 'it changes where programs read their configuration',
  proxy: "it changes the server's network path, which Switchboard sets",
  fixed: 'it is set by Switchboard',
} as const;

/** Exact names, case-sensitive as the OS is. */
const REFUSED_NAMES: Readonly<Record<string, string>> = {
  PATH: WHY.search,
  HOME: WHY.fixed,
  CDPATH: WHY.search,
  GCONV_PATH: WHY.loader,
  LOCPATH: WHY.loader,
  NLSPATH: WHY.loader,
  GLIBC_TUNABLES: WHY.loader,
  HOSTALIASES: WHY.config,
  RESOLV_HOST_CONF: WHY.config,
  OPENSSL_CONF: WHY.loader,
  OPENSSL_ENGINES: WHY.loader,
  OPENSSL_MODULES: WHY.loader,
  BASH_ENV: WHY.shell,
  ENV: WHY.shell,
  SHELL: WHY.shell,
  SHELLOPTS: WHY.shell,
  BASHOPTS: WHY.shell,
  PS4: WHY.shell,
  IFS: WHY.shell,
  PROMPT_COMMAND: WHY.shell,
  GLOBIGNORE: WHY.shell,
  BROWSER: WHY.shell,
  PERL5LIB: WHY.interpreter,
  PERL5OPT: WHY.interpreter,
  PERLLIB: WHY.interpreter,
  PERL5DB: WHY.interpreter,
  RUBYOPT: WHY.interpreter,
  RUBYLIB: WHY.interpreter,
  RUBYSHELL: WHY.interpreter,
  GEM_HOME: WHY.interpreter,
  GEM_PATH: WHY.interpreter,
  BUNDLE_GEMFILE: WHY.interpreter,
  CLASSPATH: WHY.interpreter,
  JAVA_TOOL_OPTIONS: WHY.interpreter,
  _JAVA_OPTIONS: WHY.interpreter,
  JDK_JAVA_OPTIONS: WHY.interpreter,
  DOTNET_STARTUP_HOOKS: WHY.interpreter,
  LUA_INIT: WHY.interpreter,
  LUA_PATH: WHY.interpreter,
  LUA_CPATH: WHY.interpreter,
  SSH_ASKPASS: WHY.git,
  GIT_ASKPASS: WHY.git,
  GIT_SSH: WHY.git,
  GIT_SSH_COMMAND: WHY.git,
  GIT_EXEC_PATH: WHY.git,
  GIT_EDITOR: WHY.git,
  GIT_PAGER: WHY.git,
  GIT_EXTERNAL_DIFF: WHY.git,
  GIT_PROXY_COMMAND: WHY.git,
  GIT_TEMPLATE_DIR: WHY.git,
};

/**
 * Prefixes, case-sensitive, with the names under them that stay allowed because they change no
 * code: `NODE_ENV`, `PYTHONUNBUFFERED`, a private package index for uvx, and the like.
 * `NODE_EXTRA_CA_CERTS` is allowed: it adds trust anchors for the server's own TLS connections
 * from a file the server can read anyway, and loads no code.
 */
const REFUSED_PREFIXES: ReadonlyArray<{ prefix: string; why: string; except?: readonly string[] }> =
  [
    { prefix: 'LD_', why: WHY.loader },
    { prefix: 'DYLD_', why: WHY.loader },
    { prefix: 'MALLOC_', why: WHY.loader },
    {
      prefix: 'NODE_',
      why: WHY.node,
      except: [
        'NODE_ENV',
        'NODE_DEBUG',
        'NODE_NO_WARNINGS',
        'NODE_DISABLE_COLORS',
        'NODE_PENDING_DEPRECATION',
        'NODE_EXTRA_CA_CERTS',
        'NODE_TLS_REJECT_UNAUTHORIZED',
      ],
    },
    {
      prefix: 'PYTHON',
      why: WHY.python,
      except: ['PYTHONUNBUFFERED', 'PYTHONIOENCODING', 'PYTHONUTF8', 'PYTHONDONTWRITEBYTECODE'],
    },
    { prefix: 'PERL', why: WHY.interpreter },
    { prefix: 'RUBY', why: WHY.interpreter },
    { prefix: 'LUA_INIT_', why: WHY.interpreter },
    { prefix: 'LUA_PATH_', why: WHY.interpreter },
    { prefix: 'LUA_CPATH_', why: WHY.interpreter },
    { prefix: 'BASH_FUNC_', why: WHY.shell },
    { prefix: 'GIT_CONFIG', why: WHY.git },
    { prefix: 'XDG_', why: WHY.config },
    {
      prefix: 'UV_',
      why: WHY.uv,
      except: [
        'UV_INDEX',
        'UV_INDEX_URL',
        'UV_DEFAULT_INDEX',
        'UV_EXTRA_INDEX_URL',
        'UV_OFFLINE',
        'UV_NO_PROGRESS',
      ],
    },
    // npm sets lowercase `npm_*` names for the scripts it runs (npm_execpath, npm_node_execpath).
    { prefix: 'npm_', why: WHY.npm },
  ];

/**
 * Names read in any case: npm reads its config from `npm_config_*` and `NPM_CONFIG_*` alike, and
 * HTTP clients read proxies from `http_proxy` and `HTTP_PROXY` alike.
 */
const REFUSED_ANY_CASE: ReadonlyArray<{ pattern: RegExp; why: string }> = [
  { pattern: /^npm_config_/i, why: WHY.npm },
  { pattern: /^(http|https|ftp|all|no)_proxy$/i, why: WHY.proxy },
];

/**
 * Why a stdio server's `env` may not set `name`, or `undefined` when it may. Refused are names
 * that change how programs are found or loaded, or that Switchboard sets itself:
 *
 * - search and loading: `PATH`, `CDPATH`, `LD_*`, `DYLD_*`, `MALLOC_*`, `GLIBC_TUNABLES`,
 *   `GCONV_PATH`, `LOCPATH`, `NLSPATH`, `OPENSSL_CONF`, `OPENSSL_ENGINES`, `OPENSSL_MODULES`,
 *   `HOSTALIASES`, `RESOLV_HOST_CONF`;
 * - node: every `NODE_*` (`NODE_OPTIONS`, `NODE_PATH`, `NODE_REPL_EXTERNAL_MODULE`,
 *   `NODE_V8_COVERAGE`, …) except `NODE_ENV`, `NODE_DEBUG`, `NODE_NO_WARNINGS`,
 *   `NODE_DISABLE_COLORS`, `NODE_PENDING_DEPRECATION`, `NODE_EXTRA_CA_CERTS`,
 *   `NODE_TLS_REJECT_UNAUTHORIZED`; npm's `npm_config_*` in any case and npm's own `npm_*`;
 * - python and uv: every `PYTHON*` (`PYTHONPATH`, `PYTHONSTARTUP`, `PYTHONHOME`,
 *   `PYTHONWARNINGS`, …) except `PYTHONUNBUFFERED`, `PYTHONIOENCODING`, `PYTHONUTF8`,
 *   `PYTHONDONTWRITEBYTECODE`; every `UV_*` (`UV_PYTHON`, `UV_CONFIG_FILE`, `UV_TOOL_DIR`, …)
 *   except the package index ones (`UV_INDEX`, `UV_INDEX_URL`, `UV_DEFAULT_INDEX`,
 *   `UV_EXTRA_INDEX_URL`) and `UV_OFFLINE`, `UV_NO_PROGRESS`;
 * - shells: `BASH_ENV`, `ENV`, `SHELL`, `SHELLOPTS`, `BASHOPTS`, `PS4`, `IFS`, `PROMPT_COMMAND`,
 *   `GLOBIGNORE`, `BASH_FUNC_*`, `BROWSER`;
 * - other interpreters: `PERL*`, `RUBY*`, `GEM_HOME`, `GEM_PATH`, `BUNDLE_GEMFILE`, `CLASSPATH`,
 *   `JAVA_TOOL_OPTIONS`, `_JAVA_OPTIONS`, `JDK_JAVA_OPTIONS`, `DOTNET_STARTUP_HOOKS`, `LUA_INIT*`,
 *   `LUA_PATH*`, `LUA_CPATH*`;
 * - git and ssh helpers: `GIT_CONFIG*`, `GIT_SSH`, `GIT_SSH_COMMAND`, `GIT_ASKPASS`,
 *   `SSH_ASKPASS`, `GIT_EXEC_PATH`, `GIT_EDITOR`, `GIT_PAGER`, `GIT_EXTERNAL_DIFF`,
 *   `GIT_PROXY_COMMAND`, `GIT_TEMPLATE_DIR`; configuration roots `XDG_*`;
 * - set by Switchboard: `HOME`, and the proxy variables (`HTTP_PROXY`, `HTTPS_PROXY`,
 *   `FTP_PROXY`, `ALL_PROXY`, `NO_PROXY`) in any case, which the sandbox's network relies on.
 *
 * Names are compared as the OS does, case-sensitively, except npm config and proxies (read in
 * either case by the programs that use them).
 *
 * @param name an environment variable name.
 * @returns a reason to show after the name, e.g. `it changes where programs and libraries are
 *   looked up`.
 */
export function envNameRefusal(name: string): string | undefined {
  if (Object.hasOwn(REFUSED_NAMES, name)) return REFUSED_NAMES[name];
  for (const { prefix, why, except } of REFUSED_PREFIXES) {
    if (name.startsWith(prefix) && !except?.includes(name)) return why;
  }
  return REFUSED_ANY_CASE.find(({ pattern }) => pattern.test(name))?.why;
}
