/**
 * A scripted LLM for text-mode agent tests, like agents-js `voice.testing.FakeLLM` (whose input
 * rules it follows: the tail of `instructions:` in the system message, else the last user message
 * or tool output, tool list changes after it skipped) with two differences the tool-policy tests need: a response answers any input that
 * contains its `input` (tool outputs carry varying detail), and tool call ids are unique in the
 * session (`FakeLLM` numbers them from 0 in every turn, which makes agents-js's running-task
 * lookup by call id, used by `lk_agents_cancel_task`, find the wrong call).
 */
import { llm, type APIConnectOptions } from '@livekit/agents';

/** One scripted answer. */
export interface ScriptedResponse {
  /** Answers an input containing this text; the first match in list order wins. */
  input: string;
  content?: string;
  toolCalls?: Array<{ name: string; args: Record<string, unknown> }>;
}

/** The LLM; `inputs` lists every input it was asked about, for debugging failed tests. */
export class ScriptedLLM extends llm.LLM {
  readonly responses: ScriptedResponse[];
  readonly inputs: string[] = [];
  #nextCallId = 1;

  constructor(responses: ScriptedResponse[]) {
    super();
    this.responses = responses;
  }

  override label(): string {
    return 'scripted-llm';
  }

  override chat({
    chatCtx,
    toolCtx,
    connOptions,
  }: {
    chatCtx: llm.ChatContext;
    toolCtx?: llm.ToolContextLike;
    connOptions?: APIConnectOptions;
  }): llm.LLMStream {
    return new ScriptedStream(this, {
      chatCtx,
      toolCtx: toolCtx as llm.ToolContext | undefined,
      connOptions: connOptions ?? { maxRetry: 0, retryIntervalMs: 0, timeoutMs: 10_000 },
    });
  }

  /** A fresh call id. */
  nextCallId(): string {
    return `scripted_call_${this.#nextCallId++}`;
  }
}

class ScriptedStream extends llm.LLMStream {
  readonly #llm: ScriptedLLM;

  constructor(
    scripted: ScriptedLLM,
    options: {
      chatCtx: llm.ChatContext;
      toolCtx?: llm.ToolContext;
      connOptions: APIConnectOptions;
    },
  ) {
    super(scripted, options);
    this.#llm = scripted;
  }

  protected override async run(): Promise<void> {
    const input = this.#inputText();
    if (input === undefined) return;
    this.#llm.inputs.push(input);
    const response = this.#llm.responses.find((candidate) => input.includes(candidate.input));
    if (!response) return;
    if (response.content) {
      this.queue.put({ id: 'scripted', delta: { role: 'assistant', content: response.content } });
    }
    if (response.toolCalls?.length) {
      const calls = response.toolCalls.map((call) =>
        llm.FunctionCall.create({
          callId: this.#llm.nextCallId(),
          name: call.name,
          args: JSON.stringify(call.args),
        }),
      );
      this.queue.put({ id: 'scripted', delta: { role: 'assistant', toolCalls: calls } });
    }
  }

  #inputText(): string | undefined {
    const items = this.chatCtx.items;
    for (const item of items) {
      if (item.type === 'message' && item.role === 'system') {
        const lines = (item.textContent ?? '').split('\n');
        const tail = lines[lines.length - 1] ?? '';
        if (lines.length > 1 && tail.startsWith('instructions:')) return tail;
      }
    }
    // A tool list change (`agent_config_update`) after the input is not an input.
    const last = items.findLast((item) => item.type !== 'agent_config_update');
    if (!last) return undefined;
    if (last.type === 'message') return last.role === 'user' ? (last.textContent ?? '') : undefined;
    if (last.type === 'function_call_output') return last.output;
    return undefined;
  }
}
