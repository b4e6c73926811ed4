/**
 * How `npm run probe` answers a server that asks for input (MCP 2025-11-25, "Elicitation"):
 * `--elicitation decline` (the default: the probe declares the capability, as a voice session
 * does, so it lists the same tools, and declines every request), `accept-defaults` (accepts a
 * form with each field's default, SEP-1034, and declines a URL), or `prompt` (asks on the
 * terminal: each field with what it takes and its default, checked against the requested schema
 * with `checkAnswers`; a URL is shown and accepted once the user presses Enter). `prompt` without
 * a terminal on stdin declines, with a note on stderr. Every request and its answer is recorded
 * for the report.
 */
import { createInterface } from 'node:readline/promises';
import type { Readable, Writable } from 'node:stream';
import type { ElicitResult } from '@modelcontextprotocol/sdk/types.js';
import {
  checkAnswers,
  defaultContent,
  describeAnswer,
  elicitationFields,
  isUrlElicitation,
  parseFormParams,
  spokenDefault,
  type ElicitationContent,
  type ElicitationFormParams,
  type ElicitationHandler,
  type ElicitationParams,
} from '../../shared/mcp/elicitation.js';

/** The values of `--elicitation`. */
export const ELICITATION_MODES = ['accept-defaults', 'decline', 'prompt'] as const;
/** How the probe answers elicitation. */
export type ElicitationMode = (typeof ELICITATION_MODES)[number];

/** One request the server made, as the report shows it. */
export interface ProbeElicitation {
  mode: 'form' | 'url';
  message: string;
  /** URL mode: the link. */
  url?: string;
  action: ElicitResult['action'];
  /** The content sent with `accept` (form mode). */
  content?: ElicitationContent;
}

/** The terminal `prompt` asks on. */
export interface PromptTerminal {
  input: Readable & { isTTY?: boolean };
  /** Where the questions go (stderr: stdout carries the report). */
  output: Writable;
}

/** Rounds of asking again for answers that do not fit, before the form is cancelled. */
const MAX_ROUNDS = 3;

/**
 * The handler of a mode, recording each request and its answer in `log`.
 *
 * @param terminal where `prompt` asks; default stdin and stderr.
 */
export function probeElicitationHandler(
  mode: ElicitationMode,
  log: ProbeElicitation[],
  terminal: PromptTerminal = { input: process.stdin, output: process.stderr },
): ElicitationHandler {
  const answer = async (params: ElicitationParams, signal: AbortSignal): Promise<ElicitResult> => {
    if (mode === 'decline') return { action: 'decline' };
    if (mode === 'accept-defaults') {
      if (isUrlElicitation(params)) return { action: 'decline' };
      return {
        action: 'accept',
        content: defaultContent(elicitationFields(parseFormParams(params))),
      };
    }
    if (!terminal.input.isTTY) {
      terminal.output.write(
        'probe: the server asks for input, but stdin is not a terminal; declining (--elicitation prompt)\n',
      );
      return { action: 'decline' };
    }
    return prompt(params, terminal, signal);
  };
  return async (params, context) => {
    const result = await answer(params, context.signal);
    log.push({
      mode: isUrlElicitation(params) ? 'url' : 'form',
      message: params.message,
      ...(isUrlElicitation(params) && { url: params.url }),
      action: result.action,
      ...(result.content && { content: result.content }),
    });
    return result;
  };
}

/** Asks on the terminal. */
async function prompt(
  params: ElicitationParams,
  { input, output }: PromptTerminal,
  signal: AbortSignal,
): Promise<ElicitResult> {
  const terminal = createInterface({ input, output, terminal: false });
  const ask = (text: string) => terminal.question(text, { signal });
  try {
    output.write(`\nThe server asks: ${params.message}\n`);
    if (isUrlElicitation(params)) {
      output.write(`It wants you to open: ${params.url}\n`);
      const choice = await ask('Press Enter once done there, or type d to decline, c to cancel: ');
      return { action: actionOf(choice) ?? 'accept' };
    }
    const choice = await ask('Answer it? [a]ccept, [d]ecline, [c]ancel (default a): ');
    const action = actionOf(choice) ?? 'accept';
    if (action !== 'accept') return { action };
    return await fillForm(parseFormParams(params), ask, output);
  } catch (error) {
    if (signal.aborted) return { action: 'cancel' };
    throw error;
  } finally {
    terminal.close();
  }
}

/** Asks for each field, then again for those that do not fit (at most 3 rounds). */
async function fillForm(
  form: ElicitationFormParams,
  ask: (text: string) => Promise<string>,
  output: Writable,
): Promise<ElicitResult> {
  const fields = elicitationFields(form);
  const values: Record<string, unknown> = {};
  let pending = fields;
  for (let round = 0; round < MAX_ROUNDS; round++) {
    for (const field of pending) {
      const fallback = spokenDefault(field);
      const label = field.title ?? field.name;
      const about = field.description ? ` — ${field.description}` : '';
      const hints = [describeAnswer(field), fallback !== undefined ? `default ${fallback}` : '']
        .filter(Boolean)
        .join('; ');
      const typed = (
        await ask(`${label}${field.required ? ' (required)' : ''}${about} [${hints}]: `)
      ).trim();
      if (typed !== '') values[field.name] = typed;
      else if (field.default !== undefined) values[field.name] = field.default;
      else delete values[field.name];
    }
    const check = checkAnswers(form, values);
    if ('content' in check) return { action: 'accept', content: check.content };
    output.write(`Not sent: ${check.problems.join('; ')}\n`);
    const wrong = new Set(check.problems.map((problem) => problem.split(':')[0]));
    pending = fields.filter((field) => wrong.has(field.name));
    if (pending.length === 0) pending = fields;
  }
  output.write('Too many answers that do not fit; cancelling.\n');
  return { action: 'cancel' };
}

function actionOf(choice: string): ElicitResult['action'] | undefined {
  const word = choice.trim().toLowerCase();
  if (word === 'd' || word === 'decline') return 'decline';
  if (word === 'c' || word === 'cancel') return 'cancel';
  if (word === 'a' || word === 'accept') return 'accept';
  return undefined;
}
