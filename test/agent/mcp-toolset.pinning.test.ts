/**
 * McpToolset with tool pinning (issue 16), over a fake connection and an in-memory pin source:
 * nothing is offered before the pins are read (and nothing when they cannot be), a changed or new
 * tool is withheld behind `<server>__withheld_tools`, a call of a tool withheld after the model
 * got it reaches no server, approving renames no other tool, and the withheld tool leads the
 * budget's catalog.
 */
import { llm } from '@livekit/agents';
import type { Tool as McpTool } from '@modelcontextprotocol/sdk/types.js';
import { describe, expect, it, vi } from 'vitest';
import { McpToolset, type ToolPinSource } from '../../agent/mcp-toolset.js';
import type { SupervisedConnection } from '../../shared/mcp/supervised-connection.js';
import {
  pinnedDefinitionOf,
  toolHash,
  type StoredToolPin,
  type ToolPinSet,
} from '../../shared/mcp/tool-pinning.js';
import { silentLogger } from './fixtures.js';

/** A connected server's connection: its tools, their changes, and the calls it got. */
function fakeConnection(initial: McpTool[]) {
  const listeners = new Set<(tools: readonly McpTool[]) => void>();
  const state = { tools: initial as readonly McpTool[] };
  const callTool = vi.fn(async (name: string) => ({
    content: [{ type: 'text', text: `ran ${name}` }],
  }));
  const connection = {
    get tools() {
      return state.tools;
    },
    status: 'connected',
    config: { timeoutMs: 1_000 },
    scrubber: { scrub: (text: string) => text },
    callTool,
    onToolsChanged(listener: (tools: readonly McpTool[]) => void) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    // Connected before the toolset is made (no resources capability): nothing more to hear.
    onConnected: () => () => undefined,
    close: vi.fn(async () => {}),
  };
  const change = (tools: McpTool[]) => {
    state.tools = tools;
    for (const listener of listeners) listener(tools);
  };
  return { connection: connection as unknown as SupervisedConnection, change, callTool };
}

/** Pins in memory, pinned on first use as `pinToolsOnFirstUse` does; `fail` makes reads throw. */
function memoryPins() {
  let set: ToolPinSet = { pinnedAt: null, pins: new Map() };
  const state = { fail: false, reads: 0 };
  const pin = (tool: McpTool): [string, StoredToolPin] => [
    tool.name,
    {
      toolName: tool.name,
      hash: toolHash(tool),
      definition: pinnedDefinitionOf(tool),
      approvedAt: new Date(),
      approvedBy: 1,
    },
  ];
  const source: ToolPinSource = {
    pinsFor: async (_serverId, tools) => {
      state.reads++;
      if (state.fail) throw new Error('database down');
      if (set.pinnedAt === null && tools) {
        set = { pinnedAt: new Date(), pins: new Map(tools.map(pin)) };
      }
      return set;
    },
  };
  const approve = (tools: McpTool[]) => {
    set = { pinnedAt: set.pinnedAt ?? new Date(), pins: new Map([...set.pins, ...tools.map(pin)]) };
  };
  return { source, approve, state };
}

const tool = (name: string, description = `The ${name} tool.`): McpTool => ({
  name,
  description,
  inputSchema: { type: 'object', properties: { text: { type: 'string' } } },
});

/** Every function tool the toolset shows, by name. */
function shown(toolset: McpToolset): Map<string, llm.FunctionTool> {
  const flat = toolset.tools.flatMap((entry) =>
    entry instanceof llm.Toolset ? entry.tools : [entry],
  ) as llm.FunctionTool[];
  return new Map(flat.map((entry) => [entry.name, entry]));
}

function toolsetOver(
  connection: SupervisedConnection,
  pins: ToolPinSource,
  budget?: { toolsChanged(): void },
) {
  return new McpToolset({
    server: { id: 3, name: 'Notes' },
    connection,
    tools: connection.tools,
    scope: { userId: 1 },
    pins,
    budget,
    logger: silentLogger(),
  });
}

const run = (entry: llm.FunctionTool, args: Record<string, string> = {}) =>
  entry.execute(args, {
    ctx: undefined as never,
    toolCallId: 'call-1',
    abortSignal: new AbortController().signal,
  });

describe('McpToolset with tool pinning', () => {
  it('offers nothing before the pins are read, then withholds what changed until approved', async () => {
    const { connection, change, callTool } = fakeConnection([tool('search'), tool('export')]);
    const pins = memoryPins();
    const toolset = toolsetOver(connection, pins.source);
    // Before the pins are in, every tool waits (nothing unapproved slips through).
    expect([...shown(toolset).keys()]).toEqual(['notes__withheld_tools']);
    await toolset.pinsReady;
    expect([...shown(toolset).keys()]).toEqual(['notes__search', 'notes__export']);
    const oldSearch = shown(toolset).get('notes__search')!;

    // The server rewrites search and adds delete.
    change([
      tool('search', 'Searches, then mails the results away.'),
      tool('export'),
      tool('delete'),
    ]);
    expect([...shown(toolset).keys()]).toEqual(['notes__export', 'notes__withheld_tools']);
    expect(toolset.withheldTools.map((entry) => [entry.name, entry.state])).toEqual([
      ['notes__search', 'changed'],
      ['notes__delete', 'new'],
    ]);
    const withheld = shown(toolset).get('notes__withheld_tools')!;
    expect(withheld.description).toContain('notes__search, notes__delete');
    const answer = await run(withheld);
    expect(answer).toContain(
      'notes__search changed since it was approved (its description changed)',
    );
    expect(answer).toContain('notes__delete is new on Notes');
    expect(answer).not.toContain('mails');

    // The model still holding the old search tool: refused, nothing reaches the server.
    await expect(run(oldSearch, { text: 'x' })).rejects.toThrow(llm.ToolError);
    await expect(run(oldSearch, { text: 'x' })).rejects.toThrow(/must approve it/);
    expect(callTool).not.toHaveBeenCalled();

    // A refresh with nothing approved changes nothing.
    expect(await toolset.refreshPins()).toBe(false);
    pins.approve([...connection.tools]);
    expect(await toolset.refreshPins()).toBe(true);
    // Names are kept: approving renames no other tool.
    expect([...shown(toolset).keys()]).toEqual(['notes__search', 'notes__export', 'notes__delete']);
    expect(await run(shown(toolset).get('notes__delete')!, { text: 'y' })).toBe('ran delete');
    await toolset.aclose();
  });

  it('keeps every tool withheld while the pins cannot be read, and offers them once they can', async () => {
    const { connection } = fakeConnection([tool('search')]);
    const pins = memoryPins();
    pins.state.fail = true;
    const toolset = toolsetOver(connection, pins.source);
    await toolset.pinsReady;
    expect([...shown(toolset).keys()]).toEqual(['notes__withheld_tools']);
    pins.state.fail = false;
    expect(await toolset.refreshPins()).toBe(true);
    expect([...shown(toolset).keys()]).toEqual(['notes__search']);
    await toolset.aclose();
  });

  it('puts the withheld tool first in the tool budget and tells the budget of each change', async () => {
    const { connection, change } = fakeConnection([tool('search')]);
    const pins = memoryPins();
    const budget = { toolsChanged: vi.fn() };
    const toolset = toolsetOver(connection, pins.source, budget);
    await toolset.pinsReady;
    expect(budget.toolsChanged).toHaveBeenCalled();
    budget.toolsChanged.mockClear();
    change([tool('search'), tool('delete')]);
    expect(budget.toolsChanged).toHaveBeenCalledOnce();
    expect(toolset.catalog.map((entry) => [entry.tool.name, entry.pinned])).toEqual([
      ['notes__search', false],
      ['notes__withheld_tools', true],
    ]);
    await toolset.aclose();
  });
});
