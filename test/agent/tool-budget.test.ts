import { initializeLogger, llm } from '@livekit/agents';
import type { Tool as McpTool } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, it } from 'vitest';
import { McpToolset } from '../../agent/mcp-toolset.js';
import {
  FIND_TOOLS_NAME,
  ToolBudget,
  findToolsResult,
  type BudgetedToolset,
  type CatalogTool,
} from '../../agent/tool-budget.js';
import type { ToolPolicy } from '../../shared/mcp/server-config.js';
import { mcpServerConfigSchema } from '../../shared/mcp/server-config.js';
import { sandboxedSupervisedConnection } from '../helpers/sandboxed.js';
import { silentLogger } from './fixtures.js';

initializeLogger({ pretty: false, level: 'silent' });

const toolsets: McpToolset[] = [];
afterEach(async () => {
  await Promise.all(toolsets.splice(0).map((toolset) => toolset.aclose()));
});

/** A toolset of `names` (never connected: its tools are the list given) under `budget`. */
function toolset(
  id: number,
  name: string,
  names: string[],
  budget: ToolBudget,
  toolPolicy: ToolPolicy = {},
  taken = new Set<string>(),
): McpToolset {
  const tools: McpTool[] = names.map((tool) => ({
    name: tool,
    description: `The ${tool.replace(/_/g, ' ')} tool.`,
    inputSchema: { type: 'object' },
  }));
  const made = new McpToolset({
    server: { id, name, toolPolicy },
    connection: sandboxedSupervisedConnection(
      mcpServerConfigSchema.parse({ transport: 'streamable-http', url: 'http://127.0.0.1:9/mcp' }),
      { logger: silentLogger(), label: name },
    ),
    tools,
    taken,
    scope: { userId: 1 },
    budget,
    logger: silentLogger(),
  });
  toolsets.push(made);
  return made;
}

/** The function tools the agent would get from `entries`, sorted. */
const names = (entries: llm.ToolContextEntry[]) =>
  Object.keys(new llm.ToolContext(entries).functionTools).sort();

const budgetOf = (maxTools: number) => new ToolBudget({ maxTools, logger: silentLogger() });

describe('ToolBudget', () => {
  it('refuses a budget outside 1..128', () => {
    expect(() => budgetOf(0)).toThrow(RangeError);
    expect(() => budgetOf(129)).toThrow('maxTools must be an integer from 1 to 128');
    expect(() => budgetOf(2.5)).toThrow(RangeError);
  });

  it('advertises pinned tools first, whatever their server, and drops them last', async () => {
    const budget = budgetOf(4);
    const taken = new Set<string>();
    const notes = toolset(1, 'Notes', ['read', 'list', 'search', 'tag'], budget, {}, taken);
    const crm = toolset(
      2,
      'Crm',
      ['lookup', 'update', 'export'],
      budget,
      {
        pinned: ['lookup', 'no_such_tool'],
      },
      taken,
    );
    // 3 places and find_tools: the pinned tool of the second server comes before the first's.
    expect(names(budget.entries([notes, crm]))).toEqual([
      'crm__lookup',
      FIND_TOOLS_NAME,
      'notes__list',
      'notes__read',
    ]);
    // Finding two tools makes room by dropping unpinned tools, even ones used more recently.
    budget.touch(['notes__read', 'notes__list']);
    const found = await budget.find('export tag', 2);
    expect(found.evicted.sort()).toEqual(['notes__list', 'notes__read']);
    expect(budget.advertisedNames()).toContain('crm__lookup');
  });

  it('advertises a tool that needs confirmation only with its confirm tool, and keeps that while needed', async () => {
    const budget = budgetOf(4);
    const taken = new Set<string>();
    const plain = toolset(1, 'Notes', ['read', 'list', 'search'], budget, {}, taken);
    const guarded = toolset(2, 'Bank', ['pay', 'refund'], budget, { confirm: 'always' }, taken);
    const entries = budget.entries([plain, guarded]);
    expect(names(entries)).toEqual([
      FIND_TOOLS_NAME,
      'notes__list',
      'notes__read',
      'notes__search',
    ]);

    const found = await budget.find('pay', 1);
    expect(found.names).toEqual(['bank__pay']);
    const shown = names(budget.entries([plain, guarded]));
    expect(shown).toHaveLength(4);
    expect(shown).toEqual(
      [FIND_TOOLS_NAME, 'bank__confirm_action', 'bank__pay', 'notes__read'].sort(),
    );
    // The confirm tool is found through the tools it confirms, never by itself.
    expect(budget.search('confirm action').map((entry) => entry.tool.name)).not.toContain(
      'bank__confirm_action',
    );
    // Another tool of the bank: the pay tool (used before) goes, its confirm tool stays.
    budget.touch(['notes__read']);
    expect((await budget.find('refund', 1)).evicted).toEqual(['bank__pay']);
    expect(names(budget.entries([plain, guarded]))).toEqual(
      [FIND_TOOLS_NAME, 'bank__confirm_action', 'bank__refund', 'notes__read'].sort(),
    );
  });

  it("counts agents-js's two task tools while a long-running tool is shown", async () => {
    const budget = budgetOf(6);
    const taken = new Set<string>();
    const quick = toolset(1, 'Quick', ['a', 'b', 'c', 'd', 'e'], budget, {}, taken);
    const slow = toolset(2, 'Slow', ['render'], budget, { longRunning: 'all' }, taken);
    // 6 tools, no task tools needed for the 5 quick ones alone: find_tools + 5.
    expect(names(budget.entries([quick, slow]))).toHaveLength(6);
    const found = await budget.find('render', 1);
    expect(found.added).toEqual(['slow__render']);
    // The long-running tool brings lk_agents_cancel_task and lk_agents_get_running_tasks.
    const shown = names(budget.entries([quick, slow]));
    expect(shown).toContain('slow__render');
    expect(shown.length + 2).toBe(budget.advertisedCount());
    expect(budget.advertisedCount()).toBeLessThanOrEqual(6);
  });

  it('says so when the budget is too small for a found tool', async () => {
    const budget = budgetOf(1);
    const only = toolset(1, 'Notes', ['read', 'list'], budget);
    expect(names(budget.entries([only]))).toEqual([FIND_TOOLS_NAME]);
    const found = await budget.find('read', 1);
    expect(found).toMatchObject({ names: [], added: [], unloadable: ['notes__read'] });
    expect(findToolsResult('read', found)).toContain('too small');
    expect(findToolsResult('nothing', { ...found, unloadable: [] })).toBe(
      'No tool matches "nothing". Try other words, or tell the user no tool does this.',
    );
  });

  it('re-advertises once per find, never two at a time', async () => {
    const budget = budgetOf(3);
    const only = toolset(1, 'Notes', ['read', 'list', 'search', 'write'], budget);
    let running = 0;
    let most = 0;
    let calls = 0;
    budget.attach(async () => {
      running += 1;
      most = Math.max(most, running);
      calls += 1;
      budget.entries([only]);
      await new Promise<void>((resolve) => setImmediate(resolve));
      running -= 1;
    });
    budget.entries([only]);
    await Promise.all([budget.find('write', 1), budget.find('search', 1)]);
    expect(calls).toBe(2);
    expect(most).toBe(1);
    expect(budget.advertisedCount()).toBeLessThanOrEqual(3);
  });

  it("always advertises a required tool (a waiting question's answer tool) and never finds it", async () => {
    const budget = budgetOf(3);
    const tool = (name: string) =>
      llm.tool({
        name,
        description: `The ${name} tool.`,
        parameters: { type: 'object', properties: {} },
        execute: async () => name,
      }) as llm.FunctionTool;
    /** A member whose catalog is set by hand, as a toolset's is while a question waits. */
    class Member extends llm.Toolset implements BudgetedToolset {
      catalog: CatalogTool[] = ['a', 'b', 'c', 'd'].map((name) => ({
        tool: tool(`x__${name}`),
        serverName: 'X',
      }));
      constructor() {
        super({ id: 'member', tools: [] });
      }
      show(shown: ReadonlySet<string>): void {
        this._setTools(this.catalog.filter((e) => shown.has(e.tool.name)).map((e) => e.tool));
      }
    }
    const member = new Member();
    expect(names(budget.entries([member]))).toEqual([FIND_TOOLS_NAME, 'x__a', 'x__b']);

    member.catalog.push({ tool: tool('x__answer_question'), serverName: 'X', required: true });
    budget.toolsChanged();
    expect(names(budget.entries([member]))).toEqual([
      FIND_TOOLS_NAME,
      'x__a',
      'x__answer_question',
    ]);
    expect(budget.search('answer question').map((e) => e.tool.name)).not.toContain(
      'x__answer_question',
    );
    const found = await budget.find('c');
    expect(found.names).toEqual(['x__c']);
    expect(budget.advertisedNames()).toEqual([FIND_TOOLS_NAME, 'x__answer_question', 'x__c']);
  });
});
