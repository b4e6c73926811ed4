/**
 * Spoken confirmation of tool calls that change things (issue 5, "Tools that change things").
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
 * the confirmation held by the toolset rather than a model-set flag.
 */
import type { AdvertisedTool } from '../shared/mcp/index.js';

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
 * The pending confirmations of one server in one session.
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
