/**
 * Spoken elicitation (issue 16; MCP 2025-11-25, "Client Features › Elicitation"): when an MCP
 * server asks for the user's input in the middle of a tool call (`elicitation/create`), the agent
 * asks the user by voice and answers the server with what they said.
 *
 * Form mode follows the two-step shape of `confirmation.ts`, with the MCP call kept running in
 * between. The tool call that is waiting for the server stops waiting and answers the model with
 * the questions: a question id, every field (its title and description, what kind of answer it
 * takes, an enum's titles, its default as "the default is …", whether it is required) and what
 * to do: ask one short question per field, read the answers back, let the user correct any, then
 * call the server's answer tool (`<server>__answer_question`, advertised only while a question
 * waits) with the id, an action and the values. The answer tool checks the values against the
 * requested schema (`checkAnswers`: yes and no for booleans, numbers in text, an enum by its value
 * or title); values that do not fit are not sent, and the model hears what is wrong so it can ask
 * again. A valid answer is sent (`accept` with the content, or `decline` for "no", `cancel` for
 * "never mind"), and the answer tool then waits for the tool call's result and returns it (or the
 * server's next questions). An answer given in the same speech turn as the questions (the same
 * agents-js `SpeechHandle`) is refused, so the model cannot answer for the user. A question no one
 * answers within `AGENT_ELICITATION_TIMEOUT_MS` of the user's last words is answered `cancel`.
 * While the server works, the call's filler and progress behave as for any call.
 *
 * The MCP call outlives the tool call that made it: once the server asks something, the call in
 * flight (`ElicitationContext.call`) follows whichever tool call waits for it (the first one, then
 * the answer tool), and none while the user is asked, so the user interrupting the question does
 * not cancel the server's work.
 *
 * URL mode: the link goes to the user's screen as a LiveKit data message (topic
 * `switchboard.link`, like account links), never to the model; the agent says it sent a link, the
 * server is answered `accept`, and the call goes on until the server returns its result.
 *
 * A long-running call (in the background, `background-calls.ts`) gets its questions as a
 * `RunContext.update`; its answer is refused until the user has said something since the
 * question (their turn started or their message arrived), and the answer tool returns at once:
 * the call's result comes by itself when it is done.
 */
import { llm, voice } from '@livekit/agents';
import type { ElicitResult, Progress } from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from '../shared/logger.js';
import type { UrlElicitation } from '../shared/mcp/errors.js';
import {
  checkAnswers,
  describeAnswer,
  elicitationFields,
  isUrlElicitation,
  parseFormParams,
  spokenDefault,
  type AskingCall,
  type ElicitationContext,
  type ElicitationFormParams,
  type ElicitationHandler,
  type ElicitationParams,
  type ElicitationUrlParams,
} from '../shared/mcp/elicitation.js';
import { SlowCall, speak, type SlowCallWatch } from './slow-calls.js';

/** MCP-style name of the per-server answer tool, advertised as `<server>__answer_question`. */
export const ANSWER_TOOL_NAME = 'answer_question';

/** Default of `AGENT_ELICITATION_TIMEOUT_MS`, in milliseconds. */
export const DEFAULT_ELICITATION_TIMEOUT_MS = 60_000;

/**
 * Longest a question waits in all, however often the user speaks meanwhile (ms): a conversation
 * that moved on does not hold the server's call open for ever.
 */
export const QUESTION_MAX_MS = 10 * 60_000;

/** Most links one "URL elicitation required" error puts on the screen. */
export const MAX_REQUIRED_LINKS = 3;

/** Questions that ended without an answer remembered per server, so a late answer is told why. */
const MAX_ENDED = 20;

/** The data message a URL-mode elicitation sends to the user's screen (topic `switchboard.link`). */
export interface ElicitationLinkMessage {
  type: 'elicitation';
  serverId: number;
  server: string;
  /** The page to open, as the server gave it (http or https only). */
  url: string;
  /** Why the server asks, in its words, for the screen (never spoken). */
  message: string;
}

/** Sends a message to the user's participant only (a reliable LiveKit data message). */
export type SendLink = (message: ElicitationLinkMessage) => Promise<void>;

/** What of a tool call's `RunContext` elicitation uses (read only once a server asks). */
export type ElicitationRunContext = Pick<
  voice.RunContext,
  'session' | 'speechHandle' | 'filler' | 'update'
>;

/** One question set (one `elicitation/create` in form mode) and where it stands. */
interface Question {
  /** Short id the model passes back, e.g. `e1`. */
  id: string;
  call: HeldCall;
  form: ElicitationFormParams;
  /** The model's text of the question (made once). */
  text: string;
  /** The `SpeechHandle.id` of the turn that got it (foreground); an answer must come later. */
  askedInSpeechId?: string;
  /** The user-activity count when it was asked (background); an answer needs a higher one. */
  askedAtActivity?: number;
  /** Answers the server (once) and forgets the question. */
  answer(result: ElicitResult, why: QuestionEnd): void;
  timer?: NodeJS.Timeout;
  /** `Date.now()` when it arrived (see {@link QUESTION_MAX_MS}). */
  arrivedAt: number;
}

/** Why a question is no longer waiting. */
type QuestionEnd = 'answered' | 'timeout' | 'withdrawn' | 'closed' | 'unasked';

/** Options of {@link ServerElicitations}. */
export interface ServerElicitationsOptions {
  serverId: number;
  /** The server's display name, used in what the model and the user hear. */
  serverName: string;
  logger: Logger;
  /**
   * How long a question waits for the user, from when it is asked or the user last spoke, in
   * milliseconds (`AGENT_ELICITATION_TIMEOUT_MS`); default {@link DEFAULT_ELICITATION_TIMEOUT_MS}.
   */
  timeoutMs?: number;
  /** Sends a URL-mode link to the user's screen; without it URL-mode requests are declined. */
  sendLink?: SendLink;
  /** The toolset's filler watch (`AGENT_FILLER_AFTER_MS`); default none (no filler). */
  slowCalls?: SlowCallWatch;
  /** Called when a question starts or stops waiting (the answer tool appears or goes). */
  onPendingChanged: () => void;
}

/** How an MCP call is held, from {@link ServerElicitations.hold}. */
export interface HoldOptions {
  /** The tool's original MCP name. */
  toolName: string;
  /** The runtime's context of the tool call. */
  ctx: ElicitationRunContext;
  /** The tool call's abort signal. */
  signal: AbortSignal;
  /** True for a long-running call in the background (its questions go out as updates). */
  background: boolean;
}

/**
 * Where an MCP call's outcome goes once it is in: the text the model reads, or what the tool call
 * throws.
 */
export interface CallOutcome {
  /** The call's result as the model reads it. */
  settle(text: string): void;
  /** The call failed; `error` is what the tool call throws (a `ToolError`, or the abort error). */
  fail(error: unknown): void;
}

/** A tool call waiting for a held call's outcome: it settles its promise. */
interface Waiter {
  resolve: (text: string) => void;
  reject: (error: unknown) => void;
}

/**
 * An MCP call made from a tool call in a session, held so that its elicitations reach the user.
 * The toolset makes the call with {@link signal} and {@link handler}, hands it the outcome
 * ({@link CallOutcome}: {@link settle} or {@link fail}), and waits with {@link wait} (foreground)
 * or {@link result} (background).
 *
 * The MCP call is made with the tool call's own signal. Once the server asks something, its
 * handler gets the call in flight (`ElicitationContext.call`), and a foreground call is made to
 * follow the tool call waiting for it from then on, and none while the user is asked. A wait is
 * one promise, settled by whichever comes first: the outcome or the server's next questions.
 * Every session call comes this way, so it is one object and one promise, with no promise layer
 * between the outcome and the tool call (`npm run bench`, toolCallOverhead).
 */
export class HeldCall implements CallOutcome {
  readonly toolName: string;
  readonly background: boolean;
  /** The signal the MCP call is made with: the tool call's (a background call's task signal). */
  readonly signal: AbortSignal;
  /** The handler of the MCP call's elicitations. */
  readonly handler: ElicitationHandler;
  /** The latest progress report (shown by the filler of each wait). */
  progress: Progress | undefined = undefined;
  /**
   * Called once when the outcome is in; set while the owner keeps the call (the server asked it
   * something: `ServerElicitations.#keep`).
   */
  onEnd: (() => void) | undefined = undefined;
  readonly #owner: ServerElicitations;
  /** The call in flight, once the server asked it something. */
  #asking: AskingCall | undefined = undefined;
  #ctx: ElicitationRunContext;
  #state: 'running' | 'settled' | 'failed' = 'running';
  /** The result's text once settled, or what the tool call throws once failed. */
  #value: unknown = undefined;
  /** The tool call waiting now (its promise's functions): gets the outcome or the next questions. */
  #resolve: ((text: string) => void) | undefined = undefined;
  #reject: ((error: unknown) => void) | undefined = undefined;
  /** Earlier tool calls still waiting for the outcome only (made when one waits meanwhile). */
  #outcomeWaiters: Waiter[] | undefined = undefined;
  #slowCall: SlowCall | undefined = undefined;
  /** URL-mode links sent to the screen, kept out of what the model reads. */
  #links: string[] | undefined = undefined;
  /** Questions that came while no tool call waited (made at the first). */
  #queued: Question[] | undefined = undefined;

  constructor(owner: ServerElicitations, options: HoldOptions) {
    this.#owner = owner;
    this.toolName = options.toolName;
    this.background = options.background;
    this.signal = options.signal;
    this.#ctx = options.ctx;
    this.handler = (params, context) => owner.handle(this, params, context);
  }

  /** The runtime's context of the tool call that waits for the MCP call now. */
  get ctx(): ElicitationRunContext {
    return this.#ctx;
  }

  /** True once the outcome is in. */
  get ended(): boolean {
    return this.#state !== 'running';
  }

  /** The MCP call's result: goes to the tool calls waiting (links replaced). Once only. */
  settle(text: string): void {
    if (this.#state !== 'running') return;
    this.#state = 'settled';
    this.#value = text;
    this.#end();
  }

  /** The MCP call failed: the tool calls waiting throw `error`. Once only. */
  fail(error: unknown): void {
    if (this.#state !== 'running') return;
    this.#state = 'failed';
    this.#value = error;
    this.#end();
  }

  /**
   * The MCP call's result as the model reads it, with the links sent to the screen replaced by a
   * note, so the model cannot read them out (a background call's wait).
   *
   * @throws what the MCP call's tool call throws (see {@link fail}).
   */
  result(): Promise<string> {
    if (this.#state !== 'running') return this.#outcome();
    return new Promise<string>((resolve, reject) => this.#addWaiter(resolve, reject));
  }

  /** Remembers a link sent to the screen (see {@link result}). */
  sentLink(url: string): void {
    (this.#links ??= []).push(url);
  }

  /** Records a progress report for the filler. */
  progressed(progress: Progress): void {
    this.progress = progress;
    if (this.#slowCall) this.#slowCall.progress = progress;
  }

  /**
   * Waits (foreground) for the MCP call's result or the server's next questions, with the filler
   * of a slow call, following `signal` meanwhile.
   *
   * @returns the result as the model reads it, or the questions to ask.
   * @throws what the MCP call's tool call throws (a `ToolError`, or the abort error).
   */
  wait(ctx: ElicitationRunContext, signal: AbortSignal): Promise<string> {
    this.#ctx = ctx;
    this.#follow(signal);
    const question = this.#queued?.shift();
    if (question) {
      this.#follow(undefined);
      return Promise.resolve(this.#owner.asked(question, ctx));
    }
    if (this.#state !== 'running') return this.#outcome();
    const waiting = new Promise<string>((resolve, reject) => this.#addWaiter(resolve, reject));
    this.#watch(ctx, waiting);
    return waiting;
  }

  /** Hands a question to the tool call waiting now, or queues it for the next one. */
  deliver(question: Question): boolean {
    const resolve = this.#resolve;
    if (!resolve) {
      (this.#queued ??= []).push(question);
      return false;
    }
    this.#resolve = undefined;
    this.#reject = undefined;
    this.#unwatch();
    this.#follow(undefined);
    resolve(this.#owner.asked(question, this.#ctx));
    return true;
  }

  /** Forgets a queued question (it ended before anyone took it). */
  unqueue(question: Question): void {
    const at = this.#queued?.indexOf(question) ?? -1;
    if (at >= 0) this.#queued!.splice(at, 1);
  }

  /**
   * The server asked something of the call in flight `call` (`ElicitationContext.call`): from
   * now on the held call steers it (see the class comment). The first one given is kept.
   */
  steer(call: AskingCall | undefined): void {
    this.#asking ??= call;
  }

  /** Aborts the MCP call (the toolset closes) once the server asked it something; foreground. */
  abort(): void {
    if (!this.background) this.#asking?.abort(new Error('closed'));
  }

  /**
   * Makes a foreground MCP call follow `signal` (none: nothing the tool calls do aborts it).
   * Before the server asks anything it follows the signal it was made with, which is the first
   * waiting tool call's.
   */
  #follow(signal: AbortSignal | undefined): void {
    if (!this.background) this.#asking?.follow(signal);
  }

  /** Says `text` to the user now, while the call goes on (a URL-mode link was sent). */
  say(text: string): void {
    try {
      speak(this.#ctx.session, text);
    } catch {
      // A session that can no longer speak: the link is on the screen all the same.
    }
  }

  /**
   * Makes the tool call whose promise `resolve` and `reject` settle the one that gets the next
   * question; a tool call still waiting from before (the model called the answer tool of a
   * question that ended) then waits for the outcome only.
   */
  #addWaiter(resolve: (text: string) => void, reject: (error: unknown) => void): void {
    if (this.#resolve) {
      (this.#outcomeWaiters ??= []).push({ resolve: this.#resolve, reject: this.#reject! });
    }
    this.#unwatch();
    this.#resolve = resolve;
    this.#reject = reject;
  }

  /** The outcome, once in, as a settled promise (links replaced). */
  #outcome(): Promise<string> {
    return new Promise<string>((resolve, reject) => this.#tell(resolve, reject));
  }

  /** The outcome is in: every tool call waiting gets it, and the owner lets the call go. */
  #end(): void {
    const resolve = this.#resolve;
    const reject = this.#reject;
    const others = this.#outcomeWaiters;
    this.#resolve = undefined;
    this.#reject = undefined;
    this.#outcomeWaiters = undefined;
    if (resolve) this.#tell(resolve, reject!);
    if (others) for (const waiter of others) this.#tell(waiter.resolve, waiter.reject);
    this.#unwatch();
    this.onEnd?.();
  }

  /** Settles one waiting tool call's promise with the outcome (links replaced). */
  #tell(resolve: (text: string) => void, reject: (error: unknown) => void): void {
    if (this.#state === 'settled') resolve(this.#redact(this.#value as string));
    else reject(this.#value);
  }

  #redact(text: string): string {
    if (!this.#links) return text;
    let redacted = text;
    for (const link of this.#links) {
      redacted = redacted.replaceAll(link, '[the link sent to the screen]');
    }
    return redacted;
  }

  /** Arms the filler of one wait (none without a filler delay); {@link #unwatch} ends it. */
  #watch(ctx: ElicitationRunContext, waiting: Promise<unknown>): void {
    const watch = this.#owner.slowCalls;
    if (!watch) return;
    const slowCall = new SlowCall(ctx, this.toolName);
    slowCall.progress = this.progress;
    slowCall.promise = waiting;
    this.#slowCall = slowCall;
    watch.add(slowCall);
  }

  /** Ends the filler of the wait now, if any (the call ended or asked something). */
  #unwatch(): void {
    const slowCall = this.#slowCall;
    if (!slowCall) return;
    this.#slowCall = undefined;
    this.#owner.slowCalls!.finish(slowCall);
  }
}

/**
 * The elicitations of one server's calls in one session: the questions waiting for the user, the
 * answer tool, and the links sent to the screen.
 */
export class ServerElicitations {
  readonly slowCalls: SlowCallWatch | undefined;
  readonly #options: ServerElicitationsOptions;
  readonly #timeoutMs: number;
  readonly #logger: Logger;
  readonly #pending = new Map<string, Question>();
  /** Questions that ended without an answer (or were withdrawn), by id, newest last. */
  readonly #ended = new Map<string, { question: Question; why: QuestionEnd }>();
  /** Held calls the server has asked something of, until their outcome settles (`#keep`). */
  readonly #calls = new Set<HeldCall>();
  #next = 1;
  /** Times the user started speaking or sent a message, since the first question. */
  #activity = 0;
  #unsubscribe?: () => void;
  #toolName = ANSWER_TOOL_NAME;
  #closed = false;

  /** @param options the server, the timeout, where links go and who hears of changes. */
  constructor(options: ServerElicitationsOptions) {
    this.#options = options;
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_ELICITATION_TIMEOUT_MS;
    this.#logger = options.logger;
    this.slowCalls = options.slowCalls;
  }

  /** True while a question waits for the user (the answer tool is advertised). */
  get hasPending(): boolean {
    return this.#pending.size > 0;
  }

  /**
   * Holds an MCP call made from a tool call in a session (see {@link HeldCall}). The call is
   * kept (so that {@link close} aborts it) from the server's first request to it until its
   * outcome settles.
   */
  hold(options: HoldOptions): HeldCall {
    return new HeldCall(this, options);
  }

  /**
   * The server's answer tool, advertised as `name` (the toolset assigns it, like its other names)
   * while a question waits.
   */
  answerTool(name: string): llm.FunctionTool {
    this.#toolName = name;
    return llm.tool({
      name,
      description:
        `Answers the questions ${this.#options.serverName} asked the user during a tool call. ` +
        'Call it only after the user has answered: action "accept" with their answers in ' +
        'values, "decline" if they said no, "cancel" if they said never mind.',
      parameters: {
        type: 'object',
        properties: {
          question_id: { type: 'string', description: 'The id the questions came with.' },
          action: {
            type: 'string',
            enum: ['accept', 'decline', 'cancel'],
            description: 'accept: the user answered; decline: they said no; cancel: never mind.',
          },
          values: {
            type: 'object',
            description: 'With accept: each field name and the answer the user gave.',
            additionalProperties: true,
          },
        },
        required: ['question_id', 'action'],
        additionalProperties: false,
      } as llm.FunctionTool['parameters'],
      execute: (args: Record<string, unknown> | undefined, options) =>
        this.answer(args ?? {}, options.ctx, options.abortSignal),
    });
  }

  /**
   * What the answer tool does: checks the answer and sends it, then (foreground) waits for the
   * call's result or next questions.
   *
   * @throws llm.ToolError when the answer is refused (unknown, ended or withdrawn question; the
   *   asking turn; values that do not fit the schema, with what is wrong), or when the call fails.
   */
  async answer(
    args: Record<string, unknown>,
    ctx: ElicitationRunContext | undefined,
    signal: AbortSignal,
  ): Promise<string> {
    const id = String(args.question_id ?? '');
    const question = this.#pending.get(id);
    if (!question) return this.#notWaiting(id, ctx, signal);
    const { call } = question;
    const sameTurn = call.background
      ? question.askedAtActivity === this.#activity
      : ctx !== undefined && question.askedInSpeechId === ctx.speechHandle.id;
    if (sameTurn) {
      throw new llm.ToolError(
        'The user has not answered yet. Ask them and wait for their answer before calling this.',
      );
    }
    const action = args.action;
    if (action !== 'accept' && action !== 'decline' && action !== 'cancel') {
      throw new llm.ToolError('action must be "accept", "decline" or "cancel".');
    }
    if (action === 'accept') {
      const check = checkAnswers(question.form, args.values);
      if ('problems' in check) {
        this.#restartTimer(question);
        throw new llm.ToolError(
          `Not sent: ${check.problems.join('; ')}. Ask the user again for these, then call ` +
            `${this.#toolName} again with question_id "${id}".`,
        );
      }
      question.answer({ action, content: check.content }, 'answered');
    } else {
      question.answer({ action }, 'answered');
    }
    if (call.background) {
      return (
        `Answer sent to ${this.#options.serverName}. ${call.toolName} goes on in the ` +
        'background; its result will come by itself.'
      );
    }
    return call.wait(ctx ?? call.ctx, signal);
  }

  /**
   * Handles one `elicitation/create` of a held call: a link to the screen (URL mode) or a
   * question for the user (form mode); see the module comment.
   */
  async handle(
    call: HeldCall,
    params: ElicitationParams,
    context: ElicitationContext,
  ): Promise<ElicitResult> {
    if (this.#closed) return { action: 'cancel' };
    call.steer(context.call);
    this.#keep(call);
    if (isUrlElicitation(params)) return this.#link(call, params);
    let form: ElicitationFormParams;
    try {
      form = parseFormParams(params);
    } catch (error) {
      this.#logger.warn({ err: error, tool: call.toolName }, 'elicitation declined');
      return { action: 'decline' };
    }
    return new Promise<ElicitResult>((resolve) => {
      const id = `e${this.#next++}`;
      let open = true;
      const question: Question = {
        id,
        call,
        form,
        text: this.#questionText(id, call, form),
        arrivedAt: Date.now(),
        answer: (result, why) => {
          if (!open) return;
          open = false;
          clearTimeout(question.timer);
          call.unqueue(question);
          this.#pending.delete(id);
          if (why !== 'answered') this.#remember(question, why);
          this.#logger.info(
            { tool: call.toolName, questionId: id, action: result.action, why },
            'elicitation answered',
          );
          resolve(result);
          this.#options.onPendingChanged();
        },
      };
      this.#pending.set(id, question);
      context.signal.addEventListener(
        'abort',
        () => question.answer({ action: 'cancel' }, 'withdrawn'),
        { once: true },
      );
      this.#logger.info(
        {
          tool: call.toolName,
          questionId: id,
          fields: Object.keys(form.requestedSchema.properties),
        },
        'mcp server asks the user',
      );
      this.#options.onPendingChanged();
      this.#listenForTheUser(call.ctx);
      if (call.background) {
        question.askedAtActivity = this.#activity;
        this.#restartTimer(question);
        void call.ctx
          .update(question.text, { template: '{message}' })
          .catch((error: unknown) => this.#logger.debug({ err: error }, 'question update dropped'));
      } else if (!call.deliver(question)) {
        // Nobody waits for the call right now: the next tool call that does gets it.
        this.#restartTimer(question);
      }
    });
  }

  /**
   * A question handed to the model by the tool call of `ctx`: it must be answered in a later
   * turn, within the timeout. Returns its text.
   */
  asked(question: Question, ctx: ElicitationRunContext): string {
    question.askedInSpeechId = speechIdOf(ctx);
    this.#restartTimer(question);
    return question.text;
  }

  /**
   * Answers every waiting question `cancel`, aborts the held calls the server asked something of
   * (the others still follow their tool call's signal) and stops listening.
   */
  close(): void {
    this.#closed = true;
    for (const question of [...this.#pending.values()]) {
      question.answer({ action: 'cancel' }, 'closed');
    }
    for (const call of this.#calls) call.abort();
    this.#calls.clear();
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
  }

  /** URL mode: the link to the screen, a sentence to the user, `accept`; `decline` if it cannot. */
  async #link(call: HeldCall, params: ElicitationUrlParams): Promise<ElicitResult> {
    const { sendLink, serverId, serverName } = this.#options;
    const protocol = URL.canParse(params.url) ? new URL(params.url).protocol : '';
    if (!sendLink || (protocol !== 'https:' && protocol !== 'http:')) {
      this.#logger.info(
        { tool: call.toolName, protocol },
        'url elicitation declined: no screen to send it to, or not a web address',
      );
      return { action: 'decline' };
    }
    try {
      await sendLink({
        type: 'elicitation',
        serverId,
        server: serverName,
        url: params.url,
        message: params.message,
      });
    } catch (error) {
      this.#logger.warn({ err: error, tool: call.toolName }, 'cannot send the link; declined');
      return { action: 'decline' };
    }
    call.sentLink(params.url);
    this.#logger.info({ tool: call.toolName }, 'url elicitation link sent to the screen');
    if (call.background) {
      void call.ctx
        .update(
          `${serverName} sent a link to the user's screen for ${call.toolName}. Tell the user ` +
            `to open it; ${call.toolName} goes on once they finish there. Never read out any ` +
            'web address.',
          { template: '{message}' },
        )
        .catch(() => undefined);
    } else {
      call.say(`I've sent a link from ${serverName} to your screen. Please open it to continue.`);
    }
    return { action: 'accept' };
  }

  /**
   * A call the server refused with "URL elicitation required" (MCP 2025-11-25, error -32042):
   * the pages it names go to the user's screen as links (`switchboard.link`, as URL-mode
   * requests do; http and https only, at most {@link MAX_REQUIRED_LINKS}), never to the model,
   * which is told to have the user open them and to call the tool again once they are done.
   *
   * @param toolName the tool's MCP name (for the logs and the screen).
   * @param advertisedName the name the model calls it by.
   * @param pages the error's URL-mode requests (`McpConnectionError.urlElicitations`).
   * @returns the sentence for the model (a tool error's text). Never rejects.
   */
  async urlRequired(
    toolName: string,
    advertisedName: string,
    pages: readonly UrlElicitation[],
  ): Promise<string> {
    const { sendLink, serverId, serverName } = this.#options;
    const web = pages
      .filter((page) => {
        const protocol = URL.canParse(page.url) ? new URL(page.url).protocol : '';
        return protocol === 'https:' || protocol === 'http:';
      })
      .slice(0, MAX_REQUIRED_LINKS);
    let sent = 0;
    if (sendLink) {
      for (const page of web) {
        try {
          await sendLink({
            type: 'elicitation',
            serverId,
            server: serverName,
            url: page.url,
            message: page.message,
          });
          sent += 1;
        } catch (error) {
          this.#logger.warn({ err: error, tool: toolName }, 'cannot send a required link');
        }
      }
    }
    this.#logger.info(
      { tool: toolName, pages: pages.length, sent },
      'url elicitation required: links sent to the screen',
    );
    if (sent === 0) {
      return (
        `${serverName} needs the user to finish something on a web page before ${toolName} ` +
        'can run, and there is no screen in this conversation to send the link to. Tell the ' +
        `user ${toolName} cannot run from here until they do that in ${serverName} itself.`
      );
    }
    const where =
      sent === 1 ? `A link from ${serverName} is` : `${sent} links from ${serverName} are`;
    return (
      `${serverName} needs the user to finish something on a web page before ${toolName} can ` +
      `run. ${where} on the user's screen now. Tell the user to open it and say when they are ` +
      `done, then call ${advertisedName} again. Never read out any web address.`
    );
  }

  /** The answer tool's reply about a question that is not waiting. */
  async #notWaiting(
    id: string,
    ctx: ElicitationRunContext | undefined,
    signal: AbortSignal,
  ): Promise<string> {
    const ended = this.#ended.get(id);
    if (!ended) throw new llm.ToolError(`No question is waiting with question_id "${id}".`);
    const { question, why } = ended;
    const how =
      why === 'timeout'
        ? `was cancelled after ${Math.round(this.#timeoutMs / 1000)} s without an answer`
        : `is no longer waited for by ${this.#options.serverName}`;
    if (question.call.background) throw new llm.ToolError(`Question ${id} ${how}.`);
    let result: string;
    try {
      result = await question.call.wait(ctx ?? question.call.ctx, signal);
    } catch (error) {
      const said = error instanceof llm.ToolError ? error.message : String(error);
      throw new llm.ToolError(`Question ${id} ${how}; then: ${said}`);
    }
    return `Question ${id} ${how}; ${question.call.toolName} then answered: ${result}`;
  }

  /**
   * Keeps a call the server asked something of until its outcome is in, so that {@link close}
   * aborts it (it no longer follows a tool call's signal while the user is asked). Done at the
   * first request, not at {@link hold}: a call that is never asked anything costs nothing here.
   */
  #keep(call: HeldCall): void {
    if (call.onEnd || call.ended) return;
    this.#calls.add(call);
    call.onEnd = () => this.#calls.delete(call);
  }

  #remember(question: Question, why: QuestionEnd): void {
    this.#ended.set(question.id, { question, why });
    if (this.#ended.size > MAX_ENDED) this.#ended.delete(this.#ended.keys().next().value!);
  }

  #restartTimer(question: Question): void {
    clearTimeout(question.timer);
    const left = question.arrivedAt + QUESTION_MAX_MS - Date.now();
    question.timer = setTimeout(
      () => question.answer({ action: 'cancel' }, 'timeout'),
      Math.max(0, Math.min(this.#timeoutMs, left)),
    );
    question.timer.unref();
  }

  /**
   * Follows the user from the first question on: each time they start speaking or a message of
   * theirs arrives, the waiting questions' timeouts start over (silence cancels, talking does
   * not), and a background question may be answered.
   */
  #listenForTheUser(ctx: ElicitationRunContext): void {
    if (this.#unsubscribe) return;
    const session = ctx.session;
    const heard = () => {
      this.#activity++;
      for (const question of this.#pending.values()) {
        if (question.timer) this.#restartTimer(question);
      }
    };
    const onState = (event: voice.UserStateChangedEvent) => {
      if (event.newState === 'speaking') heard();
    };
    const onItem = (event: voice.ConversationItemAddedEvent) => {
      if (event.item.type === 'message' && event.item.role === 'user') heard();
    };
    session.on(voice.AgentSessionEventTypes.UserStateChanged, onState);
    session.on(voice.AgentSessionEventTypes.ConversationItemAdded, onItem);
    this.#unsubscribe = () => {
      session.off(voice.AgentSessionEventTypes.UserStateChanged, onState);
      session.off(voice.AgentSessionEventTypes.ConversationItemAdded, onItem);
    };
  }

  /** What the model is told to ask, and how to answer. */
  #questionText(id: string, call: HeldCall, form: ElicitationFormParams): string {
    const server = this.#options.serverName;
    const fields = elicitationFields(form).map((field) => {
      const label = [field.title, field.description].filter(Boolean).join(': ');
      const fallback = spokenDefault(field);
      return (
        `- ${field.name}${field.required ? ' (required)' : ''}` +
        `${label ? `: ${label}` : ''}; ${describeAnswer(field)}` +
        `${fallback !== undefined ? `; the default is ${fallback}` : ''}.`
      );
    });
    return [
      `${server} needs the user's input before ${call.toolName} can go on (question_id "${id}"). ` +
        `It says: ${JSON.stringify(form.message)}`,
      'Ask the user one short question per field, in this order, and offer the default where ' +
        'there is one. Then read the answers back and let the user correct any. When they ' +
        `confirm, call ${this.#toolName} with question_id "${id}", action "accept" and values ` +
        '(each field name with their answer). If they do not want to answer, call it with ' +
        'action "decline"; if they say never mind, with action "cancel". Never answer for the ' +
        'user.',
      'Fields:',
      ...fields,
    ].join('\n');
  }
}

/** The `SpeechHandle.id` of a tool call's turn; undefined outside a real session. */
function speechIdOf(ctx: ElicitationRunContext): string | undefined {
  try {
    return ctx.speechHandle?.id;
  } catch {
    return undefined;
  }
}
