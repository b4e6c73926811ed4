/**
 * MCP resources by voice (issue 16; MCP spec 2025-11-25, "Resources"): for a server that declares
 * the `resources` capability, a session gets three tools named like the server's others —
 * `<server>__list_resources`, `<server>__list_resource_templates` and `<server>__read_resource`
 * (a template is read by its filled-in URI) — and the `resource_link` and embedded `resource`
 * items of its tool results are handled the same way.
 *
 * What the model gets is read for the ear (`shared/mcp/resource-contents.ts`): JSON summarized,
 * short text whole, long text cut with a note. Binary content, and the whole of long content, goes
 * to the user's screen as a LiveKit data message (topic {@link RESOURCE_TOPIC}, to the user's
 * participant only, at most {@link SCREEN_MESSAGE_MAX_BYTES}), and the model is told to say so
 * ("I put features.md on your screen."). Addresses are given to the model for its next call, with
 * the instruction never to read them out.
 *
 * {@link ServerResources} is owned by the server's `McpToolset`, which adds these tools to its
 * own, so the session's tool budget, `find_tools` and live configuration treat them like any
 * other tool of the server. The server's tool filter applies to them by their MCP-style names
 * (`list_resources`, `list_resource_templates`, `read_resource`).
 */
import { llm } from '@livekit/agents';
import type {
  CallToolResult,
  EmbeddedResource,
  Resource,
  ResourceLink,
  ResourceTemplate,
} from '@modelcontextprotocol/sdk/types.js';
import { UriTemplate } from '@modelcontextprotocol/sdk/shared/uriTemplate.js';
import type { Logger } from '../shared/logger.js';
import {
  DEFAULT_SPOKEN_RESOURCE_CHARS,
  describeBinary,
  planForEar,
  resourceDisplayName,
  type EarPlan,
  type ResourceContentItem,
} from '../shared/mcp/resource-contents.js';
import {
  LIST_RESOURCE_TEMPLATES_TOOL,
  LIST_RESOURCES_TOOL,
  READ_RESOURCE_TOOL,
  advertiseResourceTools,
  type ResourceToolName,
} from '../shared/mcp/resource-tools.js';
import type { ToolFilter } from '../shared/mcp/server-config.js';
import type { SupervisedConnection } from '../shared/mcp/supervised-connection.js';
import { callFailedSentence } from './tool-errors.js';

/** The data message topic of resources put on the user's screen. */
export const RESOURCE_TOPIC = 'switchboard.resource';

/**
 * Largest screen message, in bytes of JSON: LiveKit's reliable data packets carry up to 15 KiB of
 * user data (LiveKit docs, "Data packets › Size limits"); a little is kept for the headers.
 */
export const SCREEN_MESSAGE_MAX_BYTES = 15_000;

/** Most resource links of one tool result read at once; the rest are named with the read tool. */
export const MAX_LINKS_READ = 3;
/** Most resources or templates one listing answer names. */
const MAX_LISTED = 20;
/** Most items of one read (or one embedded resource) handled; the rest are counted. */
const MAX_ITEMS = 5;
/** Most names remembered from listings and links (to name what a later read shows). */
const MAX_KNOWN_NAMES = 1_000;
/** Longest name or address carried in a screen message, in characters. */
const MAX_LABEL_CHARS = 2_000;

/** A resource put on the user's screen: the JSON sent on {@link RESOURCE_TOPIC}. */
export interface ResourceScreenMessage {
  type: 'resource';
  serverId: number;
  /** The server's display name. */
  server: string;
  /** The resource's name as the agent speaks it (its listed title or name, else from its URI). */
  name: string;
  uri: string;
  mimeType?: string;
  /** The text, for text content (cut when `truncated`). */
  text?: string;
  /** The base64 bytes, for binary content (absent when `truncated`: too large to send). */
  base64?: string;
  /** Size of the whole content in bytes (UTF-8 text, decoded binary). */
  size: number;
  /** True when the text was cut or the bytes left out to fit {@link SCREEN_MESSAGE_MAX_BYTES}. */
  truncated: boolean;
}

/** Sends a message to the user's screen (a reliable LiveKit data message to their participant). */
export type ShowOnScreen = (message: ResourceScreenMessage) => Promise<void>;

/**
 * The message as it fits one data packet: unchanged when it does; otherwise binary content is
 * left out (the screen shows the name and size) and text is cut, both marked `truncated`.
 *
 * @param maxBytes largest JSON size in bytes; default {@link SCREEN_MESSAGE_MAX_BYTES}.
 */
export function fitScreenMessage(
  message: ResourceScreenMessage,
  maxBytes = SCREEN_MESSAGE_MAX_BYTES,
): ResourceScreenMessage {
  const bytes = (candidate: ResourceScreenMessage) => Buffer.byteLength(JSON.stringify(candidate));
  const labelled = {
    ...message,
    name: message.name.slice(0, MAX_LABEL_CHARS),
    uri: message.uri.slice(0, MAX_LABEL_CHARS),
  };
  if (bytes(labelled) <= maxBytes) return labelled;
  const whole = labelled.text;
  const empty: ResourceScreenMessage = { ...labelled, truncated: true };
  delete empty.base64;
  delete empty.text;
  if (whole === undefined || bytes({ ...empty, text: '' }) > maxBytes) return empty;
  let keep = maxBytes - bytes({ ...empty, text: '' });
  let cut = { ...empty, text: whole.slice(0, keep) };
  // JSON escapes and multi-byte characters make the text longer than its length: shrink to fit.
  while (keep > 0 && bytes(cut) > maxBytes) {
    keep = Math.floor(keep * 0.9);
    cut = { ...empty, text: whole.slice(0, keep) };
  }
  return cut;
}

/** Records one resource request in the audit trail (the toolset's `tool_calls` log). */
export type ResourceRequestRecorder = (entry: {
  /** The MCP method: `resources/list`, `resources/templates/list` or `resources/read`. */
  method: string;
  startedAt: Date;
  durationMs: number;
  /** The failure, scrubbed of the server's secrets; `null` when it worked. */
  error: string | null;
}) => void;

/** Options of {@link ServerResources}. */
export interface ServerResourcesOptions {
  server: { id: number; name: string; toolFilter?: ToolFilter };
  connection: Pick<
    SupervisedConnection,
    'listResources' | 'listResourceTemplates' | 'readResource' | 'scrubber'
  >;
  /** The session's advertised names (shared with every toolset, see `advertiseTools`). */
  taken: Set<string>;
  /** Puts a resource on the user's screen; default none (binary content is then only named). */
  showOnScreen?: ShowOnScreen;
  /**
   * Longest text of one resource handed to the model, in characters; default
   * {@link DEFAULT_SPOKEN_RESOURCE_CHARS} (2000). Longer text is cut and goes to the screen.
   */
  maxSpokenChars?: number;
  /** Records each resource tool call; default nowhere. */
  record?: ResourceRequestRecorder;
  logger: Logger;
}

/** How an item went to the screen: whole, cut to fit, or not at all. */
type Shown = 'whole' | 'partial' | false;

/**
 * The resource tools of one server in one session, and the reading of resources found in its
 * tool results. Built by the server's toolset each time it rebuilds its tools.
 */
export class ServerResources {
  readonly #server: ServerResourcesOptions['server'];
  readonly #connection: ServerResourcesOptions['connection'];
  readonly #taken: Set<string>;
  readonly #showOnScreen?: ShowOnScreen;
  readonly #maxSpokenChars: number;
  readonly #record?: ResourceRequestRecorder;
  readonly #logger: Logger;
  /** Names and titles of resources seen in listings and links, by URI. */
  readonly #known = new Map<string, { name?: string; title?: string }>();
  /** The templates of the last template listing, to name what a filled-in URI reads. */
  #templates: Array<{ template: UriTemplate; name: string }> = [];
  /** Advertised names of the tools built last, by MCP-style name. */
  #names = new Map<string, string>();
  #enabled = false;

  /** @param options the server, its connection, the session's names and the screen. */
  constructor(options: ServerResourcesOptions) {
    this.#server = options.server;
    this.#connection = options.connection;
    this.#taken = options.taken;
    this.#showOnScreen = options.showOnScreen;
    this.#maxSpokenChars = options.maxSpokenChars ?? DEFAULT_SPOKEN_RESOURCE_CHARS;
    this.#record = options.record;
    this.#logger = options.logger;
  }

  /** True when the tools were last built for a server with the `resources` capability. */
  get enabled(): boolean {
    return this.#enabled;
  }

  /**
   * Builds the resource tools (after the server's own tools took their names): none when
   * `enabled` is false, else the three tools the server's tool filter lets through.
   *
   * @param enabled the server declared the `resources` capability at `initialize`.
   */
  build(enabled: boolean): llm.FunctionTool[] {
    this.release();
    this.#enabled = enabled;
    if (!enabled) return [];
    const advertised = advertiseResourceTools(this.#server.name, {
      filter: this.#server.toolFilter,
      taken: this.#taken,
    });
    this.#names = new Map(advertised.map((tool) => [tool.originalName, tool.name]));
    return advertised.map(({ name, originalName, description, parameters }) =>
      llm.tool({
        name,
        description,
        parameters: parameters as llm.FunctionTool['parameters'],
        execute: (args: { query?: unknown; uri?: unknown } | undefined, { abortSignal }) => {
          switch (originalName as ResourceToolName) {
            case LIST_RESOURCES_TOOL:
              return this.#audited('resources/list', abortSignal, () =>
                this.#listResources(typeof args?.query === 'string' ? args.query : '', abortSignal),
              );
            case LIST_RESOURCE_TEMPLATES_TOOL:
              return this.#audited('resources/templates/list', abortSignal, () =>
                this.#listTemplates(),
              );
            case READ_RESOURCE_TOOL:
              return this.#audited('resources/read', abortSignal, () =>
                this.#read(typeof args?.uri === 'string' ? args.uri : '', abortSignal),
              );
          }
        },
      }),
    );
  }

  /** Frees the advertised names of the tools built last in the session's set. */
  release(): void {
    for (const name of this.#names.values()) this.#taken.delete(name);
    this.#names = new Map();
  }

  /**
   * Reads the resource links and embedded resources of a tool result for the ear, so the result
   * can be handed to the model with them (`toolResultToText`'s `describePart`): an embedded
   * resource as a read is; the first {@link MAX_LINKS_READ} links read from the server (when it
   * has the `resources` capability), the others named with the read tool. Content for the screen
   * is sent there now. An error result is left as it is.
   *
   * @param signal the tool call's abort signal (link reads are cancelled with it).
   * @returns the text of each such part (parts not in it keep their plain description), or
   *   `undefined` at once, without a promise, for a result with no such part (most results: the
   *   call's hot path stays as it was).
   */
  describeResultParts(
    result: CallToolResult,
    signal?: AbortSignal,
  ): Promise<Map<CallToolResult['content'][number], string>> | undefined {
    if (result.isError === true || !Array.isArray(result.content)) return undefined;
    // A loop, not `some` with a closure: every session call's result is looked at here.
    for (const part of result.content) {
      if (part.type === 'resource' || part.type === 'resource_link') {
        return this.#describeParts(result.content, signal);
      }
    }
    return undefined;
  }

  async #describeParts(
    content: CallToolResult['content'],
    signal?: AbortSignal,
  ): Promise<Map<CallToolResult['content'][number], string>> {
    const described = new Map<CallToolResult['content'][number], string>();
    let linksRead = 0;
    for (const part of content) {
      if (part.type === 'resource') {
        described.set(part, await this.#embedded(part));
      } else if (part.type === 'resource_link') {
        this.#remember(part.uri, part);
        const read = this.#names.get(READ_RESOURCE_TOOL);
        if (this.#enabled && linksRead < MAX_LINKS_READ) {
          linksRead += 1;
          described.set(part, await this.#readLink(part, read, signal));
        } else if (read) {
          described.set(part, linkNamed(part, read));
        }
      }
    }
    return described;
  }

  async #listResources(query: string, signal: AbortSignal): Promise<string> {
    signal.throwIfAborted();
    const all = await this.#connection.listResources();
    for (const resource of all) this.#remember(resource.uri, resource);
    const words = query.toLowerCase().split(/\s+/).filter(Boolean);
    const matching = all.filter((resource) => {
      const haystack =
        `${resource.name} ${resource.title ?? ''} ${resource.uri} ${resource.description ?? ''}`.toLowerCase();
      return words.every((word) => haystack.includes(word));
    });
    const server = this.#server.name;
    if (matching.length === 0) {
      const templates = this.#names.get(LIST_RESOURCE_TEMPLATES_TOOL);
      const none = query
        ? `No resource of ${server} matches "${query}" (it has ${all.length}).`
        : `${server} lists no resources.`;
      return templates ? `${none} It may offer resource templates: see ${templates}.` : none;
    }
    const shown = matching.slice(0, MAX_LISTED);
    const count =
      shown.length < matching.length
        ? `${matching.length} resources${query ? ` match "${query}"` : ''} (the first ${shown.length}):`
        : `${matching.length} ${matching.length === 1 ? 'resource' : 'resources'}${query ? ` match "${query}"` : ''}:`;
    const lines = shown.map((resource) => `- ${resourceLine(resource)}`);
    return [`${server} has ${count}`, ...lines, this.#addressNote()].join('\n');
  }

  async #listTemplates(): Promise<string> {
    const all = await this.#connection.listResourceTemplates();
    this.#templates = all.slice(0, MAX_KNOWN_NAMES).flatMap((entry) => {
      try {
        return [{ template: new UriTemplate(entry.uriTemplate), name: entry.title ?? entry.name }];
      } catch {
        return []; // Not a valid RFC 6570 template: it cannot name anything.
      }
    });
    const server = this.#server.name;
    if (all.length === 0) return `${server} has no resource templates.`;
    const shown = all.slice(0, MAX_LISTED);
    const lines = shown.map((template) => `- ${templateLine(template)}`);
    const more = all.length - shown.length;
    const read = this.#names.get(READ_RESOURCE_TOOL);
    return [
      `${server} has ${all.length} resource ${all.length === 1 ? 'template' : 'templates'}` +
        (more > 0 ? ` (the first ${shown.length}):` : ':'),
      ...lines,
      read
        ? `To read one, replace each {placeholder} with a value and call ${read} with that uri. ` +
          'Never read an address out loud.'
        : 'Never read an address out loud.',
    ].join('\n');
  }

  async #read(uri: string, signal: AbortSignal): Promise<string> {
    if (!uri.trim()) throw new llm.ToolError('Give the uri of the resource to read.');
    const result = await this.#connection.readResource(uri, { signal });
    return this.#speak(this.#nameOf(uri), result.contents as ResourceContentItem[]);
  }

  /** A resource link of a tool result, read now. */
  async #readLink(
    link: ResourceLink,
    readTool: string | undefined,
    signal?: AbortSignal,
  ): Promise<string> {
    const name = resourceDisplayName(link.uri, link);
    try {
      const result = await this.#connection.readResource(link.uri, { signal });
      return await this.#speak(name, result.contents as ResourceContentItem[]);
    } catch (error) {
      if (signal?.aborted) throw error;
      this.#logger.info({ err: error }, 'could not read a resource link of a tool result');
      const why = this.#connection.scrubber.scrub(
        callFailedSentence(this.#server.name, 'resources/read', error),
      );
      return readTool ? `${linkNamed(link, readTool)} ${why}` : `[resource link: ${name}] ${why}`;
    }
  }

  /** An embedded resource of a tool result, read for the ear like a read one. */
  async #embedded(part: EmbeddedResource): Promise<string> {
    const item = part.resource as ResourceContentItem;
    return this.#speak(this.#nameOf(item.uri), [item]);
  }

  /**
   * What the model hears of a resource's contents, after putting what belongs on the screen
   * there: each item (at most {@link MAX_ITEMS}) read for the ear, then what to tell the user.
   */
  async #speak(name: string, contents: readonly ResourceContentItem[]): Promise<string> {
    if (contents.length === 0) return `${name} is empty.`;
    const parts: string[] = [];
    let onScreen = false;
    for (const item of contents.slice(0, MAX_ITEMS)) {
      const itemName =
        contents.length === 1 || item.uri === contents[0]!.uri ? name : this.#nameOf(item.uri);
      const plan = planForEar(item, { maxChars: this.#maxSpokenChars, name: itemName });
      const shown = plan.screen ? await this.#show(itemName, item, plan) : false;
      onScreen ||= shown !== false;
      parts.push(this.#itemText(itemName, item, plan, shown));
    }
    const more = contents.length - MAX_ITEMS;
    if (more > 0) parts.push(`(and ${more} more parts not read)`);
    if (onScreen) {
      parts.push(
        'Tell the user, in your own words, that it is on their screen. Never read an address out loud.',
      );
    }
    return parts.join('\n');
  }

  #itemText(name: string, item: ResourceContentItem, plan: EarPlan, shown: Shown): string {
    const mime = item.mimeType;
    if (plan.kind === 'binary') {
      const what = describeBinary(plan, mime);
      if (shown === 'whole') return `I put ${name} on your screen (${what}).`;
      if (shown === 'partial') {
        return `${name} (${what}) is too large for the screen: only its name and size are shown there.`;
      }
      return `${name} is binary (${what}) and cannot be read aloud; no screen is connected to show it.`;
    }
    const label = plan.kind === 'json' ? 'JSON, summarized' : (mime ?? plan.kind);
    const lines = [`${name} (${label}):`, plan.spoken];
    if (plan.cutChars > 0) {
      lines.push(
        shown === 'whole'
          ? `(cut: ${plan.cutChars} more characters are on your screen)`
          : shown === 'partial'
            ? `(cut: ${plan.cutChars} more characters; the screen shows part of them)`
            : `(cut: ${plan.cutChars} more characters were left out)`,
      );
    }
    if (shown) lines.push(`I put ${name} on your screen.`);
    return lines.join('\n');
  }

  /** Sends one item to the screen; never throws (a failure is logged and reported as `false`). */
  async #show(name: string, item: ResourceContentItem, plan: EarPlan): Promise<Shown> {
    if (!this.#showOnScreen || !plan.screen) return false;
    const message = fitScreenMessage({
      type: 'resource',
      serverId: this.#server.id,
      server: this.#server.name,
      name,
      uri: item.uri,
      ...(item.mimeType !== undefined && { mimeType: item.mimeType }),
      ...plan.screen,
      size: plan.bytes,
      truncated: false,
    });
    try {
      await this.#showOnScreen(message);
      this.#logger.info({ truncated: message.truncated }, 'resource sent to the screen');
      return message.truncated ? 'partial' : 'whole';
    } catch (error) {
      this.#logger.warn({ err: error }, 'could not send a resource to the screen');
      return false;
    }
  }

  /**
   * The name a resource is spoken and shown by: as listed or linked; else, for a URI one of the
   * listed templates matches, the template's name with its values (`Dynamic Blob Resource 7`);
   * else from the URI itself (`resourceDisplayName`).
   */
  #nameOf(uri: string): string {
    const known = this.#known.get(uri);
    if (known) return resourceDisplayName(uri, known);
    for (const { template, name } of this.#templates) {
      let values: ReturnType<UriTemplate['match']>;
      try {
        values = template.match(uri);
      } catch {
        continue;
      }
      if (values) return [name, ...Object.values(values).flat()].join(' ');
    }
    return resourceDisplayName(uri);
  }

  #addressNote(): string {
    const read = this.#names.get(READ_RESOURCE_TOOL);
    return read
      ? `Read one with ${read} and its uri. Never read an address out loud.`
      : 'Never read an address out loud.';
  }

  #remember(uri: string, named: { name?: string; title?: string }): void {
    if (this.#known.size >= MAX_KNOWN_NAMES && !this.#known.has(uri)) {
      this.#known.delete(this.#known.keys().next().value!);
    }
    this.#known.set(uri, { name: named.name, title: named.title });
  }

  /**
   * Runs one resource tool call and records it; a failure reaches the model as a sentence (an
   * `llm.ToolError`), an abort as the abort.
   */
  async #audited(
    method: string,
    signal: AbortSignal | undefined,
    run: () => Promise<string>,
  ): Promise<string> {
    const startedAt = new Date();
    const started = performance.now();
    let error: string | null = null;
    try {
      return await run();
    } catch (thrown) {
      error = this.#connection.scrubber.scrub(
        thrown instanceof Error ? thrown.message : String(thrown),
      );
      if (thrown instanceof llm.ToolError || signal?.aborted) throw thrown;
      throw new llm.ToolError(
        this.#connection.scrubber.scrub(callFailedSentence(this.#server.name, method, thrown)),
      );
    } finally {
      this.#record?.({ method, startedAt, durationMs: performance.now() - started, error });
    }
  }
}

/** One listed resource as a line: its name, type and size, what it is, and its address. */
function resourceLine(resource: Resource): string {
  const details = [resource.mimeType, resource.size !== undefined ? `${resource.size} bytes` : '']
    .filter(Boolean)
    .join(', ');
  const name = resource.title ?? resource.name;
  const about = resource.description ? `: ${oneLine(resource.description)}` : '';
  return `${name}${details ? ` (${details})` : ''}${about}. uri: ${resource.uri}`;
}

/** One template as a line: its name, type, what it is, and its URI template. */
function templateLine(template: ResourceTemplate): string {
  const name = template.title ?? template.name;
  const type = template.mimeType ? ` (${template.mimeType})` : '';
  const about = template.description ? `: ${oneLine(template.description)}` : '';
  return `${name}${type}${about}. uriTemplate: ${template.uriTemplate}`;
}

/** A resource link not read: its name and type, and how to read it. */
function linkNamed(link: ResourceLink, readTool: string): string {
  const name = link.title ?? link.name;
  const type = link.mimeType ? ` (${link.mimeType})` : '';
  return `[resource link: ${name}${type}] Read it with ${readTool} and uri "${link.uri}" if the user wants it.`;
}

/** A description on one line, at most 160 characters. */
function oneLine(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length <= 160 ? line : `${line.slice(0, 159)}…`;
}
