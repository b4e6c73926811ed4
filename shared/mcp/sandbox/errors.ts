/**
 * Why a stdio server could not be started in its sandbox. Each message names what to do next:
 * the package to install, the setting to change, or the mount to remove.
 */

/** The setting that turns the sandbox off, named in every error an admin may hit. */
export const SANDBOX_SETTING = 'MCP_STDIO_SANDBOX';

/**
 * bubblewrap is missing or cannot create namespaces here, so stdio servers cannot start: they are
 * never run unsandboxed instead.
 */
export class SandboxUnavailableError extends Error {
  override readonly name = 'SandboxUnavailableError';

  /** @param reason what the availability check saw (bwrap's own error, or "not installed"). */
  constructor(readonly reason: string) {
    super(
      `stdio servers run in a bubblewrap sandbox, which cannot start here (${reason}): ` +
        `install it with \`apt-get install -y bubblewrap\` (it must be able to create namespaces), ` +
        `or set ${SANDBOX_SETTING}=off to run stdio servers unsandboxed at your own risk`,
    );
  }
}

/** The server's `sandbox` config asks for something this process cannot give it. */
export class SandboxConfigError extends Error {
  override readonly name = 'SandboxConfigError';

  /**
   * @param path where in the server's config the problem is, e.g. `sandbox.mounts.0.hostPath`.
   * @param message what is wrong and what to do, one sentence.
   */
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(message);
  }
}

/** `network: 'outbound'` was asked for and this process has no way to give it. */
export class SandboxNetworkUnavailableError extends Error {
  override readonly name = 'SandboxNetworkUnavailableError';

  constructor() {
    super(
      'outbound network for sandboxed servers needs an outbound network provider, and none is ' +
        "configured in this process: set the server's sandbox.network to 'none' (no network) " +
        "or 'host' (the host's network, admins only)",
    );
  }
}
