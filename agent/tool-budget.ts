/**
 * A tool budget for every session (issue 14): however many tools the user's MCP servers offer, a
 * session advertises at most `AGENT_MAX_TOOLS` function tools (OpenAI's chat completions refuse
 * more than 128, and every advertised schema rides in the realtime `session.update`).
 *
 * When the session's tools fit, all of them are advertised, as before. When they do not, the
 * session advertises a selection plus one `find_tools` tool:
 *
 * - The selection starts in a stable order: pinned tools first (`toolPolicy.pinned` of their
 *   server), then servers in id order (the order of
 *   `SessionToolsets.current()`), each server's tools in the server's own `tools/list` order
 *   (ordinary tools, then long-running ones, then its confirm tool), and a tool that needs the
 *   user's confirmation only with its server's `<server>__confirm_action`.
 * - `find_tools` searches every tool's name, server and description with MiniSearch (BM25 with
 *   prefix and fuzzy matches) and adds the best matches to the session through the agent's
 *   `updateTools`, making room by dropping the least recently used advertised tools (used: called,
 *   or added by `find_tools`; never-used tools go first, the last in the stable order first). Its
 *   result names the tools the model can now call, so any tool is two steps away.
 * - Servers added, edited or removed mid-session (`live-config.ts`) and tool lists that change
 *   go through the same selection, so the budget holds at every re-advertisement.
 *
 * What counts: every function tool the agent's tool context flattens — the MCP tools shown,
 * `find_tools`, the session's own tools (`connect_account`), and the two task tools agents-js adds
 * while any shown tool is cancellable (`lk_agents_cancel_task`, `lk_agents_get_running_tasks`).
 * A server's answer tool (`<server>__answer_question`, offered while one of its questions waits
 * for the user) is always advertised while offered, dropping others if need be.
 *
 * In the realtime model (the production path) the found tools are callable in the model's very
 * next response; the STT-LLM-TTS pipeline keeps the tool list a turn started with for the whole
 * turn (agents-js `pipelineReplyTask`), so there they are callable from the user's next turn.
 */
import { llm } from '@livekit/agents';
import MiniSearch from 'minisearch';
import type { Logger } from '../shared/logger.js';

/** The name of the search tool, as the model calls it. */
export const FIND_TOOLS_NAME = 'find_tools';

/** Default of `AGENT_MAX_TOOLS`. */
export const DEFAULT_MAX_TOOLS = 64;

/** The most tools OpenAI's chat completions accept in one request. */
export const OPENAI_MAX_TOOLS = 128;

/** Default and largest number of matches one `find_tools` call adds. */
export const FIND_TOOLS_DEFAULT_LIMIT = 5;
export const FIND_TOOLS_MAX_LIMIT = 10;

/** Tools agents-js adds by itself while any advertised tool is cancellable. */
const RUNTIME_TASK_TOOLS = 2;

/** One tool a member toolset offers, in the member's own order. */
export interface CatalogTool {
  tool: llm.FunctionTool;
  /** The server's display name (searched with the tool). */
  serverName: string;
  /** The confirm tool that must be advertised with this one (a tool that needs confirmation). */
  companion?: string;
  /**
   * Named in its server's `toolPolicy.pinned`: advertised before every unpinned tool and dropped
   * only when no unpinned tool is left to drop.
   */
  pinned?: boolean;
  /**
   * Always advertised while offered, never dropped and never found by `find_tools`: a server's
   * answer tool while one of its questions waits for the user (`elicitation.ts`).
   */
  required?: boolean;
}

/** A toolset whose tools the budget selects from (an `McpToolset` fits). */
export interface BudgetedToolset extends llm.Toolset {
  /** Every tool the toolset offers, in its own stable order. */
  readonly catalog: readonly CatalogTool[];
  /**
   * Shows only `names` of its tools (its `tools` then hold just those), without telling the
   * runtime: the budget re-advertises once for all toolsets.
   */
  show(names: ReadonlySet<string>): void;
}

/** Options of {@link ToolBudget}. */
export interface ToolBudgetOptions {
  /** Most function tools the session advertises (`AGENT_MAX_TOOLS`), 1..128. */
  maxTools: number;
  logger: Logger;
}

/** What one `find_tools` call did. */
export interface FoundTools {
  /** Matching tool names, best first, all callable now. */
  names: string[];
  /** The same tools with their descriptions. */
  tools: Array<{ name: string; description: string }>;
  /** Matches that could not be loaded: the budget is too small for them even alone. */
  unloadable: string[];
  /** Of those, the ones this call added. */
  added: string[];
  /** Tools dropped to make room. */
  evicted: string[];
}

/**
 * The session-level budgeted view of the session's toolsets: it decides which of their tools are
 * shown, adds `find_tools` when they do not all fit, and re-advertises through the function given
 * to {@link ToolBudget.attach} (the agent's `updateTools`).
 */
export class ToolBudget {
  readonly maxTools: number;
  /**
   * True when the session's model keeps a turn's tool list for the whole turn (the STT-LLM-TTS
   * pipeline), so found tools are callable from the user's next turn; `find_tools` then tells
   * the model to say what it found and let the user go on. Default false (the realtime model:
   * callable in its next response).
   */
  foundToolsWaitForNextTurn = false;
  readonly #logger: Logger;
  #members: BudgetedToolset[] = [];
  #extras: llm.ToolContextEntry[] = [];
  #extraCount = 0;
  /** Names shown now (without `find_tools`). */
  #selected = new Set<string>();
  /** Name → use stamp (higher is more recent); absent: never used. */
  readonly #lastUsed = new Map<string, number>();
  #clock = 0;
  #overBudget = false;
  #catalog: CatalogTool[] = [];
  /** Names of the confirm tools some tool of the catalog needs. */
  #companions = new Set<string>();
  /** Tool name → the confirm tool it needs. */
  #companionOf = new Map<string, string>();
  /** Tool name → place in the stable order. */
  #position = new Map<string, number>();
  /** Names of the cancellable (long-running) tools. */
  #cancellable = new Set<string>();
  /** Names of the pinned tools (and the confirm tools they need). */
  #pinned = new Set<string>();
  /** Names of the tools that are always advertised (see {@link CatalogTool.required}). */
  #required = new Set<string>();
  #index?: MiniSearch<{ id: number; name: string; server: string; description: string }>;
  #reapply?: () => Promise<void>;
  #applying: Promise<void> = Promise.resolve();
  readonly #findTool: llm.FunctionTool;

  /**
   * @param options.maxTools the budget, an integer 1..128 (`AGENT_MAX_TOOLS`, validated by the
   *   settings).
   * @throws RangeError when `maxTools` is not an integer from 1 to 128.
   */
  constructor(options: ToolBudgetOptions) {
    const { maxTools } = options;
    if (!Number.isInteger(maxTools) || maxTools < 1 || maxTools > OPENAI_MAX_TOOLS) {
      throw new RangeError(`maxTools must be an integer from 1 to ${OPENAI_MAX_TOOLS}`);
    }
    this.maxTools = options.maxTools;
    this.#logger = options.logger;
    this.#findTool = llm.tool({
      name: FIND_TOOLS_NAME,
      description: '',
      parameters: {
        type: 'object',
        properties: {
          query: {
            type: 'string',
            description: 'What the tool should do, e.g. "weather forecast".',
          },
          limit: {
            type: 'integer',
            minimum: 1,
            maximum: FIND_TOOLS_MAX_LIMIT,
            description: `Default ${FIND_TOOLS_DEFAULT_LIMIT}.`,
          },
        },
        required: ['query'],
        additionalProperties: false,
      },
      execute: async (args: { query?: unknown; limit?: unknown }) => {
        const query = typeof args.query === 'string' ? args.query : '';
        const limit = typeof args.limit === 'number' ? args.limit : undefined;
        return findToolsResult(query, await this.find(query, limit), {
          nextTurn: this.foundToolsWaitForNextTurn,
        });
      },
    });
  }

  /**
   * Sets how the budget re-advertises the session's tools after a change it makes by itself
   * (`find_tools`, a server's tool list changing): normally
   * `() => agent.updateTools(budget.entries(registry.current(), extras))`. Calls never overlap.
   */
  attach(reapply: () => Promise<void>): void {
    this.#reapply = reapply;
  }

  /**
   * The session's agent tools under the budget: `toolsets` (each showing its selected tools),
   * `find_tools` when their tools do not all fit, then `extras`. Call it for every list handed to
   * the agent (`new voice.Agent`, `Agent.updateTools`): it makes `toolsets` the budget's members.
   *
   * @param toolsets the session's MCP toolsets in server id order.
   * @param extras the session's own tools and toolsets (e.g. `connect_account`); always
   *   advertised, they count against the budget.
   */
  entries(
    toolsets: readonly BudgetedToolset[],
    extras: readonly llm.ToolContextEntry[] = [],
  ): llm.ToolContextEntry[] {
    this.#members = [...toolsets];
    this.#extras = [...extras];
    this.#extraCount = Object.keys(new llm.ToolContext([...extras]).functionTools).length;
    this.#recompute();
    return this.#list();
  }

  /**
   * A member's tool list changed (a reconnect, `tools/list_changed`): selects again and
   * re-advertises. Safe to call for a toolset that is not a member yet.
   */
  toolsChanged(): void {
    this.#recompute();
    void this.readvertise();
  }

  /**
   * Marks tools as used now (the agent calls them), so they are the last to be dropped.
   *
   * @param names advertised tool names; unknown ones are ignored.
   */
  touch(names: Iterable<string>): void {
    for (const name of names) this.#lastUsed.set(name, ++this.#clock);
  }

  /** The names advertised now, `find_tools` included when present, sorted. */
  advertisedNames(): string[] {
    const names = [...this.#selected];
    if (this.#overBudget) names.push(FIND_TOOLS_NAME);
    return names.sort();
  }

  /**
   * How many function tools the agent advertises now, counted as agents-js flattens them: the
   * shown MCP tools, `find_tools`, the extras, and agents-js's two task tools when any shown tool
   * is cancellable.
   */
  advertisedCount(): number {
    return this.#count(this.#selected);
  }

  /** Every tool of every member, in the stable order. */
  get totalTools(): number {
    return this.#catalog.length;
  }

  /**
   * Searches every tool (name, server name, description) and shows the best matches, dropping
   * the least recently used tools to make room, then re-advertises (awaited).
   *
   * @param query free text; an empty query finds nothing.
   * @param limit most matches to return, 1..10; default 5 (clamped).
   */
  async find(query: string, limit = FIND_TOOLS_DEFAULT_LIMIT): Promise<FoundTools> {
    const found = this.search(query, limit);
    const added: string[] = [];
    const evicted: string[] = [];
    const protectedNames = new Set<string>();
    const names: string[] = [];
    const unloadable: string[] = [];
    for (const entry of found) {
      const wanted = [entry.tool.name, ...(entry.companion ? [entry.companion] : [])];
      const missing = wanted.filter((name) => !this.#selected.has(name));
      const next = new Set([...this.#selected, ...missing]);
      const dropped: string[] = [];
      while (this.#count(next) > this.maxTools) {
        const victim = this.#leastRecentlyUsed(
          next,
          new Set([...protectedNames, ...wanted, ...this.#required]),
        );
        if (!victim) break;
        next.delete(victim);
        dropped.push(victim);
      }
      if (this.#count(next) > this.maxTools) {
        unloadable.push(entry.tool.name); // It does not fit even alone.
        continue;
      }
      this.#selected = next;
      for (const name of wanted) protectedNames.add(name);
      added.push(...missing.filter((name) => name === entry.tool.name));
      evicted.push(...dropped);
      names.push(entry.tool.name);
      this.touch(wanted);
    }
    this.#show();
    if (added.length > 0) {
      this.#logger.info({ query, added, evicted }, 'find_tools loaded tools');
      await this.readvertise();
    }
    const byName = new Map(found.map((entry) => [entry.tool.name, entry.tool.description]));
    return {
      names,
      tools: names.map((name) => ({ name, description: byName.get(name) ?? '' })),
      unloadable,
      added,
      evicted: evicted.filter((name) => !this.#selected.has(name)),
    };
  }

  /**
   * The best matches of `query` among every tool, without changing anything.
   *
   * @param limit most matches, clamped to 1..10; default 5.
   */
  search(query: string, limit = FIND_TOOLS_DEFAULT_LIMIT): CatalogTool[] {
    const most = Math.min(FIND_TOOLS_MAX_LIMIT, Math.max(1, Math.floor(limit) || 1));
    if (!query.trim()) return [];
    this.#index ??= this.#buildIndex();
    return this.#index
      .search(query, {
        prefix: true,
        fuzzy: 0.2,
        boost: { name: 2, server: 1.5 },
        filter: (hit) => !this.#isCompanionOnly(hit.id as number),
      })
      .slice(0, most)
      .map((hit) => this.#catalog[hit.id as number]!);
  }

  /** Confirm tools are found through the tools they confirm, not by themselves. */
  #isCompanionOnly(position: number): boolean {
    const name = this.#catalog[position]?.tool.name ?? '';
    return this.#companions.has(name) || this.#required.has(name);
  }

  #buildIndex() {
    const index = new MiniSearch<{ id: number; name: string; server: string; description: string }>(
      {
        fields: ['name', 'server', 'description'],
        // Tool names are snake_case or kebab-case: split them into words too.
        tokenize: (text) => text.split(/[^\p{L}\p{N}]+/u).filter(Boolean),
      },
    );
    index.addAll(
      this.#catalog.map((entry, id) => ({
        id,
        name: entry.tool.name,
        server: entry.serverName,
        description: entry.tool.description,
      })),
    );
    return index;
  }

  #list(): llm.ToolContextEntry[] {
    return [...this.#members, ...(this.#overBudget ? [this.#findTool] : []), ...this.#extras];
  }

  /** Counts what the agent would advertise with `selected` shown. */
  #count(selected: ReadonlySet<string>): number {
    let count = selected.size + this.#extraCount + (this.#overBudget ? 1 : 0);
    for (const name of this.#cancellable) {
      if (selected.has(name)) {
        count += RUNTIME_TASK_TOOLS;
        break;
      }
    }
    return count;
  }

  /** The selected tool to drop first, or undefined when every one is protected. */
  #leastRecentlyUsed(selected: ReadonlySet<string>, keep: ReadonlySet<string>): string | undefined {
    const needed = new Set<string>();
    for (const name of selected) {
      const companion = this.#companionOf.get(name);
      if (companion) needed.add(companion);
    }
    let victim: { name: string; pinned: boolean; used: number; position: number } | undefined;
    for (const name of selected) {
      if (keep.has(name) || needed.has(name)) continue;
      const pinned = this.#pinned.has(name);
      const used = this.#lastUsed.get(name) ?? 0;
      const position = this.#position.get(name) ?? -1;
      // Unpinned before pinned; then least recently used; then the last in the stable order.
      const better =
        !victim ||
        (victim.pinned && !pinned) ||
        (victim.pinned === pinned &&
          (used < victim.used || (used === victim.used && position > victim.position)));
      if (better) victim = { name, pinned, used, position };
    }
    return victim?.name;
  }

  /** Selects again after the members or their tools changed; then shows the selection. */
  #recompute(): void {
    const offered = this.#members.flatMap((member) => member.catalog);
    // The stable order: pinned tools first, each group in server order.
    const catalog = [...offered.filter((e) => e.pinned), ...offered.filter((e) => !e.pinned)];
    this.#catalog = catalog;
    this.#pinned = new Set(
      catalog.flatMap((e) =>
        e.pinned ? [e.tool.name, ...(e.companion ? [e.companion] : [])] : [],
      ),
    );
    this.#companions = new Set(catalog.flatMap((entry) => entry.companion ?? []));
    this.#companionOf = new Map(
      catalog.flatMap((entry) => (entry.companion ? [[entry.tool.name, entry.companion]] : [])),
    );
    this.#position = new Map(catalog.map((entry, position) => [entry.tool.name, position]));
    this.#required = new Set(catalog.filter((e) => e.required).map((e) => e.tool.name));
    this.#cancellable = new Set(
      catalog
        .filter((entry) => (entry.tool.flags & llm.ToolFlag.CANCELLABLE) !== 0)
        .map((entry) => entry.tool.name),
    );
    this.#index = undefined;
    this.#findTool.description = findToolsDescription(catalog.length);
    const all = new Set(catalog.map((entry) => entry.tool.name));
    this.#overBudget = false;
    if (this.#count(all) <= this.maxTools) {
      this.#selected = all;
    } else {
      this.#overBudget = true;
      // Keep what is shown (and still offered) and what is required; drop LRU while over; fill
      // free room in order.
      const next = new Set([...this.#selected].filter((name) => all.has(name)));
      for (const name of this.#required) next.add(name);
      while (this.#count(next) > this.maxTools) {
        const victim = this.#leastRecentlyUsed(next, this.#required);
        if (!victim) break;
        next.delete(victim);
      }
      for (const entry of catalog) {
        if (this.#count(next) >= this.maxTools) break; // No room for one more.
        const wanted = [entry.tool.name, ...(entry.companion ? [entry.companion] : [])];
        if (wanted.every((name) => next.has(name))) continue;
        const trial = new Set([...next, ...wanted]);
        if (this.#count(trial) <= this.maxTools) for (const name of wanted) next.add(name);
      }
      this.#selected = next;
    }
    this.#show();
  }

  #show(): void {
    for (const member of this.#members) member.show(this.#selected);
  }

  /**
   * Re-advertises the session's tools through the function given to {@link ToolBudget.attach},
   * after any re-advertisement still running (so two never overlap); failures are logged, never
   * thrown. Live configuration changes go through it too.
   */
  readvertise(): Promise<void> {
    const reapply = this.#reapply;
    if (!reapply) return Promise.resolve();
    this.#applying = this.#applying.then(() =>
      reapply().catch((error: unknown) =>
        this.#logger.error({ err: error }, 'could not re-advertise the session tools'),
      ),
    );
    return this.#applying;
  }
}

/** The description of `find_tools`. */
function findToolsDescription(total: number): string {
  return (
    `Searches all ${total} of the user's tools (only some are loaded) and loads the best ` +
    'matches. Use it when no loaded tool fits, then call a tool it names.'
  );
}

/**
 * The text `find_tools` hands the model: the tools it can call now, with their descriptions.
 *
 * @param query what was searched for.
 * @param found what the search did.
 * @param options.nextTurn the tools are callable only from the user's next turn (see
 *   {@link ToolBudget.foundToolsWaitForNextTurn}); default false.
 */
export function findToolsResult(
  query: string,
  found: FoundTools,
  options: { nextTurn?: boolean } = {},
): string {
  if (found.names.length === 0 && found.unloadable.length === 0) {
    return `No tool matches "${query}". Try other words, or tell the user no tool does this.`;
  }
  const lines = found.tools.map(
    (tool) => `- ${tool.name}: ${truncate(tool.description, DESCRIPTION_CHARS)}`,
  );
  const parts: string[] = [];
  if (lines.length > 0 && options.nextTurn) {
    parts.push(
      `Loaded for the user's next message (${found.names.join(', ')}); tell the user what you ` +
        'found and ask them to go on, then call it:',
      ...lines,
    );
  } else if (lines.length > 0) {
    parts.push(`You can now call these tools (${found.names.join(', ')}):`, ...lines);
  }
  if (found.unloadable.length > 0) {
    parts.push(
      `Found but not loaded, the session's tool budget (AGENT_MAX_TOOLS) is too small: ` +
        `${found.unloadable.join(', ')}.`,
    );
  }
  return parts.join('\n');
}

/** Longest description quoted in a `find_tools` result, in characters. */
const DESCRIPTION_CHARS = 160;

function truncate(text: string, max: number): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length <= max ? line : `${line.slice(0, max - 1)}…`;
}
