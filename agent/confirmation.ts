/**
 * Spoken confirmation of tool calls that change things (README, "Tools that take time or change
 * things"), so that nothing destructive runs on the model's word alone.
 *
 * A call that needs confirmation (see `needsConfirmation`) is not sent to the MCP server. Its tool
 * answers the model with a confirmation id and the question to ask ("Delete note groceries on
 * Notes — are you sure?"), and the model asks the user. When the user answers, the model calls the
 * server's confirm tool with the id and `approved: true` or `false`: only `true` runs the call,
 * with the arguments held here (the model cannot change them in between), and `false` tells the
 * model the call was not made. The confirm tool refuses an answer given in the same turn as the
 * question (the same agents-js `SpeechHandle`), so the model cannot approve on the user's behalf
 * without the user having spoken. A question left unanswered expires after
 * {@link CONFIRMATION_TTL_MS}.
 *
 * This follows the two-step shape agents-js uses for `onDuplicate: 'confirm'`
 * (`voice/tool_executor.js`: the tool answers with what to confirm, the model calls again), with
 * the confirmation held by the toolset rather than a model-set flag. {@link ConfirmationDesk}
 * holds the questions; {@link ServerConfirmations} speaks the protocol for one server's tools.
 */
import { llm } from '@livekit/agents';
import type { Logger } from '../shared/logger.js';
import type { AdvertisedTool } from '../shared/mcp/index.js';
import { confirmToolDefinition } from '../shared/mcp/tool-policy.js';

/** How long a question waits for the user's answer, in milliseconds. */
export const CONFIRMATION_TTL_MS = 5 * 60_000;
/** Most questions held at once per server; the oldest is dropped beyond it. */
const MAX_PENDING = 20;

/** One call waiting for the user's yes or no. */
export interface PendingConfirmation {
  /** Short id the model passes back, e.g. `c1`. */
  id: string;
  tool: AdvertisedTool;
  args: Record<string, unknown>;
  /** The agents-js `SpeechHandle.id` of the turn that asked; an answer must come in a later one. */
  askedInSpeechId: string | undefined;
  /** `Date.now()` when it was asked. */
  askedAt: number;
}

/** Why {@link ConfirmationDesk.take} refused an answer. */
export type ConfirmationRefusal = 'unknown' | 'expired' | 'same_turn';

/**
 * The pending confirmations of one server in one session: at most 20 (the oldest is dropped).
 */
export class ConfirmationDesk {
  readonly #pending = new Map<string, PendingConfirmation>();
  readonly #now: () => number;
  #next = 1;

  /** @param now clock in epoch milliseconds; default `Date.now`. */
  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /**
   * Holds a call until the user answers.
   *
   * @param tool the tool called.
   * @param args its arguments, run unchanged on a yes.
   * @param speechId the `SpeechHandle.id` of the turn asking (undefined outside a session).
   */
  ask(
    tool: AdvertisedTool,
    args: Record<string, unknown>,
    speechId: string | undefined,
  ): PendingConfirmation {
    const pending: PendingConfirmation = {
      id: `c${this.#next++}`,
      tool,
      args,
      askedInSpeechId: speechId,
      askedAt: this.#now(),
    };
    this.#pending.set(pending.id, pending);
    if (this.#pending.size > MAX_PENDING) {
      this.#pending.delete(this.#pending.keys().next().value!);
    }
    return pending;
  }

  /**
   * Takes the answer to question `id`, given in the turn of `speechId`: the pending call, which is
   * then forgotten; or why the answer is refused (`same_turn` keeps the question open).
   */
  take(
    id: string,
    speechId: string | undefined,
  ): { pending: PendingConfirmation } | { refused: ConfirmationRefusal } {
    const pending = this.#pending.get(id);
    if (!pending) return { refused: 'unknown' };
    if (this.#now() - pending.askedAt > CONFIRMATION_TTL_MS) {
      this.#pending.delete(id);
      return { refused: 'expired' };
    }
    if (speechId !== undefined && speechId === pending.askedInSpeechId) {
      return { refused: 'same_turn' };
    }
    this.#pending.delete(id);
    return { pending };
  }
}

/**
 * The action as the user should hear it: the tool's name and its arguments in short
 * (`delete-note (name: groceries)`), long values cut.
 */
export function describeAction(tool: AdvertisedTool, args: Record<string, unknown>): string {
  const parts = Object.entries(args).map(([key, value]) => {
    const text = typeof value === 'string' ? value : JSON.stringify(value);
    return `${key}: ${text.length > 60 ? `${text.slice(0, 57)}...` : text}`;
  });
  return parts.length > 0 ? `${tool.originalName} (${parts.join(', ')})` : tool.originalName;
}

/** Runs a held call once the user said yes; its result is what the confirm tool returns. */
export type ApprovedCall = (
  tool: AdvertisedTool,
  args: Record<string, unknown>,
) => Promise<string | undefined>;

/** Options of {@link ServerConfirmations}. */
export interface ServerConfirmationsOptions {
  /** The server's display name, used in what the model hears. */
  serverName: string;
  logger: Logger;
  /** Clock in epoch milliseconds for the questions' expiry; default `Date.now`. */
  now?: () => number;
}

/**
 * The confirmation protocol of one server's tools in one session: the first step
 * ({@link ask}, what a confirmed tool returns instead of calling) and the server's confirm tool
 * ({@link confirmTool}, the second step).
 */
export class ServerConfirmations {
  readonly #desk: ConfirmationDesk;
  readonly #serverName: string;
  readonly #logger: Logger;
  /** The confirm tool's advertised name, once {@link confirmTool} has made it. */
  #toolName?: string;
  /**
   * Original names of the tools the user said "yes, and don't ask again" for: they run without
   * asking for the rest of the session. Kept here only, in memory; never stored.
   */
  readonly #remembered = new Set<string>();

  /** @param options the server name, a logger and the clock. */
  constructor(options: ServerConfirmationsOptions) {
    this.#desk = new ConfirmationDesk(options.now);
    this.#serverName = options.serverName;
    this.#logger = options.logger;
  }

  /**
   * True when the user said "yes, and don't ask again" for `tool` earlier in this session: its
   * calls then run without the question.
   */
  remembered(tool: AdvertisedTool): boolean {
    return this.#remembered.has(tool.originalName);
  }

  /**
   * The first step of a call that needs the user's yes: holds it and returns what the model is
   * told to ask, naming the confirm tool. Nothing is sent to the server.
   *
   * @param speechId the `SpeechHandle.id` of the turn (undefined outside a session).
   */
  ask(tool: AdvertisedTool, args: Record<string, unknown>, speechId: string | undefined): string {
    const pending = this.#desk.ask(tool, args, speechId);
    const action = `${describeAction(tool, args)} on ${this.#serverName}`;
    this.#logger.info(
      { tool: tool.originalName, confirmationId: pending.id },
      'tool call awaits confirmation',
    );
    return (
      `Not run yet: this action needs the user's spoken confirmation first. Ask the user: ` +
      `"${action}: are you sure?" and wait for the answer. Then call ${this.#toolName} ` +
      `with confirmation_id "${pending.id}" and approved true only if they clearly said yes, ` +
      `or approved false otherwise. Add remember true only if they also said not to ask again ` +
      `(for example "yes, and don't ask again").`
    );
  }

  /**
   * The server's confirm tool, advertised as `name` (the toolset assigns it, like its other
   * names); the questions asked from now on name it.
   *
   * @param name the advertised name, e.g. `notes__confirm_action`.
   * @param cancellable true when an approved call may run in the background (the tool then runs
   *   on the background toolset's executor and can be cancelled like the call).
   * @param run runs an approved call, with the runtime's options of the confirm tool's call.
   */
  confirmTool(
    name: string,
    cancellable: boolean,
    run: (
      tool: AdvertisedTool,
      args: Record<string, unknown>,
      options: llm.ToolOptions,
    ) => Promise<string | undefined>,
  ): llm.FunctionTool {
    this.#toolName = name;
    const definition = confirmToolDefinition(this.#serverName);
    return llm.tool({
      name,
      description: definition.description,
      parameters: definition.parameters as llm.FunctionTool['parameters'],
      flags: cancellable ? llm.ToolFlag.CANCELLABLE : llm.ToolFlag.NONE,
      execute: (args: Record<string, unknown> | undefined, options) =>
        this.answer(args ?? {}, options.ctx?.speechHandle.id, (tool, held) =>
          run(tool, held, options),
        ),
    });
  }

  /**
   * The second step, what the confirm tool does: runs the held call on a yes (`approved: true`),
   * drops it on anything else and says so. A yes with `remember: true` ("yes, and don't ask
   * again") also lets later calls of the same tool run without asking, for the rest of this
   * session (see {@link remembered}); the refusals below apply to it as to any yes.
   *
   * @param args the confirm tool's arguments, `{ confirmation_id, approved, remember? }`.
   * @param speechId the `SpeechHandle.id` of the answering turn.
   * @throws llm.ToolError when the answer is refused: no such question, expired, or given in the
   *   turn that asked (that question stays open).
   */
  async answer(
    args: Record<string, unknown>,
    speechId: string | undefined,
    run: ApprovedCall,
  ): Promise<string | undefined> {
    const id = String(args.confirmation_id ?? '');
    const answer = this.#desk.take(id, speechId);
    if ('refused' in answer) throw new llm.ToolError(refusalSentence(answer.refused, id));
    const { tool, args: heldArgs } = answer.pending;
    if (args.approved !== true) {
      this.#logger.info({ tool: tool.originalName }, 'tool call declined by the user');
      return (
        `Not done: the user declined, so ${describeAction(tool, heldArgs)} was not run on ` +
        `${this.#serverName}. Tell the user nothing was changed.`
      );
    }
    if (args.remember !== true) return run(tool, heldArgs);
    this.#remembered.add(tool.originalName);
    this.#logger.info(
      { tool: tool.originalName },
      'tool runs without confirmation for the rest of the session',
    );
    const result = await run(tool, heldArgs);
    const note = `(${tool.originalName} on ${this.#serverName} now runs without asking, for the rest of this session.)`;
    return typeof result === 'string' ? `${result}\n${note}` : result;
  }
}

/** What the model hears when an answer is refused, and what to do instead. */
function refusalSentence(refused: ConfirmationRefusal, id: string): string {
  switch (refused) {
    case 'same_turn':
      return 'The user has not answered yet. Ask them and wait for their answer before calling this.';
    case 'expired':
      return `Confirmation ${id} expired. Call the action again if the user still wants it.`;
    default:
      return `No action is waiting for confirmation ${JSON.stringify(id)}. Call the action again.`;
  }
}
