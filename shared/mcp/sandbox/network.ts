/**
 * The contract between the sandbox and whatever connects a sandboxed server's own network
 * namespace to the internet (`network: 'outbound'`). The sandbox starts bubblewrap with
 * `--unshare-net --info-fd --block-fd`, reads the namespace's process id from the info fd, asks
 * the provider to route it, and only then lets bubblewrap run the server's command.
 */

/** Connects a sandbox's network namespace to the outside world. */
export interface OutboundNetworkProvider {
  /** Connects the network namespace of process `pid` (unshared by bwrap --unshare-net, the server not yet running: bwrap waits on --block-fd) to the outside; resolves when routed. */
  attach(options: { pid: number; allowDomains?: readonly string[] }): Promise<OutboundNetwork>;
}

/** One attached namespace; `close()` undoes the routing when the server ends. */
export interface OutboundNetwork {
  close(): Promise<void>;
}
