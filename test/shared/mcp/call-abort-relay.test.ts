/**
 * The relay hands the MCP SDK a stand-in signal (see `shared/mcp/call-abort-relay.ts`). These
 * tests pin the contract it relies on: the SDK version it was checked against, the only members
 * of a request's signal the SDK reads, and that an abort still reaches the server as
 * `notifications/cancelled`.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  CallAbortRelay,
  RELAY_TICK_MS,
  WATCH_AFTER_TICKS,
} from '../../../shared/mcp/call-abort-relay.js';

/** The SDK release whose `Protocol.request` the relay was checked against. */
const CHECKED_SDK_VERSION = '1.32.2';
/** What `Protocol.request` reads of `RequestOptions.signal` in that release. */
const MEMBERS_THE_RELAY_HAS = ['aborted', 'reason', 'throwIfAborted', 'addEventListener'];

const require = createRequire(import.meta.url);

async function connectedPair() {
  const server = new McpServer({ name: 'relay-contract', version: '1.0.0' });
  let cancelled!: () => void;
  const cancelledSeen = new Promise<void>((resolve) => (cancelled = resolve));
  let started!: () => void;
  const hangStarted = new Promise<void>((resolve) => (started = resolve));
  server.registerTool('quick', { description: 'Answers at once' }, async () => ({
    content: [{ type: 'text', text: 'done' }],
  }));
  server.registerTool('hang', { description: 'Answers when cancelled' }, async (extra) => {
    started();
    await new Promise<void>((resolve) => extra.signal.addEventListener('abort', () => resolve()));
    cancelled();
    return { content: [{ type: 'text', text: 'cancelled' }] };
  });
  const client = new Client({ name: 'relay-contract-client', version: '1.0.0' });
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await Promise.all([server.connect(serverSide), client.connect(clientSide)]);
  return { client, server, hangStarted, cancelledSeen };
}

/** A real signal whose member reads are recorded. */
function recordingSignal(source: AbortSignal, read: Set<string | symbol>): AbortSignal {
  return new Proxy(source, {
    get(target, property) {
      read.add(property);
      const value = Reflect.get(target, property, target) as unknown;
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

describe('CallAbortRelay contract with the MCP SDK', () => {
  const closing: (() => Promise<void>)[] = [];
  afterEach(async () => {
    await Promise.all(closing.splice(0).map((close) => close()));
  });

  it(`is checked against @modelcontextprotocol/sdk ${CHECKED_SDK_VERSION}`, () => {
    const entry = require.resolve('@modelcontextprotocol/sdk/client/index.js');
    const packageJson = path.join(entry.slice(0, entry.lastIndexOf('/dist/')), 'package.json');
    const { version } = JSON.parse(readFileSync(packageJson, 'utf8')) as { version: string };
    expect(
      version,
      'The SDK changed: re-read Protocol.request in shared/protocol.js for what it does with ' +
        'RequestOptions.signal, re-run this file, then update CHECKED_SDK_VERSION (or drop the relay if it no longer pays for itself in `npm run bench`)',
    ).toBe(CHECKED_SDK_VERSION);
  });

  it('the SDK reads only the members the relay implements, on a quick call and an aborted one', async () => {
    const { client, server, hangStarted, cancelledSeen } = await connectedPair();
    closing.push(
      () => client.close(),
      () => server.close(),
    );
    const read = new Set<string | symbol>();

    const quick = new AbortController();
    await client.callTool({ name: 'quick' }, undefined, {
      signal: recordingSignal(quick.signal, read),
    });
    const hanging = new AbortController();
    const call = client.callTool({ name: 'hang' }, undefined, {
      signal: recordingSignal(hanging.signal, read),
    });
    await hangStarted;
    hanging.abort(new Error('stop'));
    await expect(call).rejects.toThrow();
    await cancelledSeen;

    expect([...read].filter((member) => !MEMBERS_THE_RELAY_HAS.includes(member as string))).toEqual(
      [],
    );
  });

  it('relays an abort through the stand-in: the server hears notifications/cancelled', async () => {
    const { client, server, hangStarted, cancelledSeen } = await connectedPair();
    closing.push(
      () => client.close(),
      () => server.close(),
    );
    const controller = new AbortController();
    const relay = new CallAbortRelay(controller.signal);
    const call = client.callTool({ name: 'hang' }, undefined, { signal: relay.signal });
    // The call is at the server, and past the ticks it is polled at: the relay watches the real
    // signal with a listener by now.
    await hangStarted;
    await new Promise((resolve) => setTimeout(resolve, RELAY_TICK_MS * (WATCH_AFTER_TICKS + 2)));
    controller.abort(new Error('user hung up'));
    await expect(call).rejects.toThrow('user hung up');
    await cancelledSeen;
    relay.done();
    expect(relay.aborted).toBe(true);
  });
});

describe('CallAbortRelay', () => {
  it('refuses at once when the source is already aborted', () => {
    const controller = new AbortController();
    controller.abort(new Error('too late'));
    const relay = new CallAbortRelay(controller.signal);
    expect(() => relay.signal.throwIfAborted()).toThrow('too late');
  });

  it('relays an abort that happens before the first tick, at that tick', async () => {
    const controller = new AbortController();
    const relay = new CallAbortRelay(controller.signal);
    const heard = vi.fn();
    relay.signal.addEventListener('abort', heard);
    controller.abort();
    await vi.waitFor(() => expect(heard).toHaveBeenCalledOnce());
    expect(relay.signal.aborted).toBe(true);
    relay.done();
  });

  it('forgets its listeners once done: a later abort calls nothing', async () => {
    const controller = new AbortController();
    const relay = new CallAbortRelay(controller.signal);
    const heard = vi.fn();
    relay.signal.addEventListener('abort', heard);
    // Polled at a few ticks by now.
    await new Promise((resolve) => setTimeout(resolve, RELAY_TICK_MS * 3));
    relay.done();
    controller.abort();
    await new Promise((resolve) => setTimeout(resolve, RELAY_TICK_MS * 3));
    expect(heard).not.toHaveBeenCalled();
    expect(relay.signal.aborted).toBe(false);
  });

  it('polls a short call without touching the signal, then watches a long one with a listener', async () => {
    const controller = new AbortController();
    const added = vi.spyOn(controller.signal, 'addEventListener');
    const short = new CallAbortRelay(controller.signal);
    short.signal.addEventListener('abort', () => {});
    await new Promise((resolve) => setTimeout(resolve, RELAY_TICK_MS * 3));
    short.done();
    expect(added).not.toHaveBeenCalled();

    const long = new CallAbortRelay(controller.signal);
    const heard = vi.fn();
    long.signal.addEventListener('abort', heard);
    await vi.waitFor(() => expect(added).toHaveBeenCalledOnce(), { timeout: 5_000 });
    // Watching: the abort reaches the SDK's listener at once, not at a tick.
    controller.abort(new Error('gone'));
    expect(heard).toHaveBeenCalledOnce();
    expect(long.signal.aborted).toBe(true);
    expect(long.signal.reason).toEqual(new Error('gone'));
    long.done();
  });
});
