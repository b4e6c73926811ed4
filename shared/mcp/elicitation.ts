/**
 * Elicitation (MCP 2025-11-25, "Client Features › Elicitation"): a server asks the user for input
 * in the middle of a request, with `elicitation/create` in form mode (a flat object schema of
 * strings, numbers, integers, booleans and enums, SEP-1034 defaults included) or URL mode (a link
 * for the user to open, completed out of band with `notifications/elicitation/complete`).
 *
 * This module holds what every client of the connection layer shares: the handler type an
 * {@link McpConnection} hands requests to, the capability it declares, the answer of a client
 * with nobody to ask (`decline`), and the form helpers: the fields of a requested schema as plain
 * descriptions ({@link elicitationFields}), their defaults ({@link defaultContent}), and the check
 * that turns answers as a person gives them ("yes", "42", an enum's title) into content that
 * validates against the requested schema ({@link checkAnswers}).
 */
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/ajv';
import {
  ElicitRequestFormParamsSchema,
  type ElicitRequest,
  type ElicitRequestFormParams,
  type ElicitRequestURLParams,
  type ElicitResult,
} from '@modelcontextprotocol/sdk/types.js';

/** The parameters of an `elicitation/create` request, form or URL mode. */
export type ElicitationParams = ElicitRequest['params'];
/** Form mode parameters (`mode` absent or `form`). */
export type ElicitationFormParams = ElicitRequestFormParams;
/** URL mode parameters. */
export type ElicitationUrlParams = ElicitRequestURLParams;
/** The `content` of an accepted form: field name → value. */
export type ElicitationContent = NonNullable<ElicitResult['content']>;

/** What a handler gets besides the request's parameters. */
export interface ElicitationContext {
  /**
   * Aborted when the server withdraws the request (`notifications/cancelled`) or the connection
   * closes; the answer is then no longer read.
   */
  signal: AbortSignal;
  /**
   * URL mode: resolves when the server sends `notifications/elicitation/complete` for the
   * request's `elicitationId` (the out-of-band step is done), if it does so within
   * `URL_ELICITATION_HOLD_MS` of an `accept`. Never resolves for form mode. Never rejects.
   */
  completed: Promise<void>;
  /**
   * The tool call in flight the request was handed to, when it has a handler of its own
   * (`CallToolOptions.onElicitation`): its handler may steer it while the user is asked.
   */
  call?: AskingCall;
}

/** A tool call in flight, as the handler of an elicitation it made may steer it. */
export interface AskingCall {
  /**
   * Makes the call abort with `signal` from now on, instead of the signal it was made with
   * (none: only {@link abort} and its deadline end it): the caller that waits for it changed.
   */
  follow(signal: AbortSignal | undefined): void;
  /** Aborts the call now with `reason` (the MCP request is cancelled). */
  abort(reason: unknown): void;
}

/**
 * Answers one `elicitation/create` request: `accept` (with `content` for a form), `decline` or
 * `cancel` (MCP spec, "Elicitation › Response Actions"). A handler that throws is answered
 * `cancel` by the connection (logged).
 */
export type ElicitationHandler = (
  params: ElicitationParams,
  context: ElicitationContext,
) => Promise<ElicitResult>;

/** The client capability a connection with a handler declares: both modes. */
export const ELICITATION_CAPABILITY = { form: {}, url: {} } as const;

/**
 * The handler of a client with no user to ask (the status monitor, the Test button, a gateway
 * client without the capability): every request is answered `decline`.
 */
export const declineElicitation: ElicitationHandler = async () => ({ action: 'decline' });

/** True for URL mode parameters. */
export function isUrlElicitation(params: ElicitationParams): params is ElicitationUrlParams {
  return params.mode === 'url';
}

/** One option of a choice field: the value sent and the title a person hears. */
export interface ElicitationOption {
  value: string;
  title: string;
}

/** One field of a requested schema, as a person is asked for it. */
export interface ElicitationField {
  /** The property name (the key of `content`). */
  name: string;
  title?: string;
  description?: string;
  /**
   * `string`, `number` (any number), `integer`, `boolean`, `choice` (one of `options`: a string
   * enum, titled or not) or `choices` (several of `options`: an array of enum strings).
   */
  kind: 'string' | 'number' | 'integer' | 'boolean' | 'choice' | 'choices';
  required: boolean;
  /** The schema's default (SEP-1034), when it has one of the field's type. */
  default?: string | number | boolean | string[];
  /** `choice` and `choices`: every option, in the schema's order. */
  options?: ElicitationOption[];
  /** `string`: `email`, `uri`, `date` or `date-time`. */
  format?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  minItems?: number;
  maxItems?: number;
}

/** A requested schema that is not the spec's flat object of primitive fields. */
export class ElicitationSchemaError extends Error {
  override readonly name = 'ElicitationSchemaError';
}

/**
 * Parses form parameters with the SDK's schema (unknown keywords are dropped, so nothing a server
 * adds reaches a validator).
 *
 * @throws ElicitationSchemaError naming what does not match the spec's form schema.
 */
export function parseFormParams(params: unknown): ElicitationFormParams {
  const parsed = ElicitRequestFormParamsSchema.safeParse(params);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? `${issue.path.join('.')}: ` : '';
    throw new ElicitationSchemaError(
      `the requested schema is not a flat object of primitive fields (${where}${issue?.message ?? 'invalid'})`,
    );
  }
  return parsed.data;
}

/**
 * The fields of a form request, in the schema's order.
 *
 * @param params form parameters as {@link parseFormParams} returns them.
 */
export function elicitationFields(params: ElicitationFormParams): ElicitationField[] {
  const { properties, required = [] } = params.requestedSchema;
  return Object.entries(properties).map(([name, raw]) => {
    const schema = raw as Record<string, unknown>;
    const field: ElicitationField = {
      name,
      kind: 'string',
      required: required.includes(name),
      ...(typeof schema.title === 'string' && { title: schema.title }),
      ...(typeof schema.description === 'string' && { description: schema.description }),
    };
    const options = optionsOf(schema);
    if (schema.type === 'array') {
      field.kind = 'choices';
      field.options = options ?? [];
      copyNumber(schema, field, 'minItems');
      copyNumber(schema, field, 'maxItems');
      if (Array.isArray(schema.default) && schema.default.every((v) => typeof v === 'string')) {
        field.default = schema.default as string[];
      }
    } else if (options) {
      field.kind = 'choice';
      field.options = options;
      if (typeof schema.default === 'string') field.default = schema.default;
    } else if (schema.type === 'boolean') {
      field.kind = 'boolean';
      if (typeof schema.default === 'boolean') field.default = schema.default;
    } else if (schema.type === 'number' || schema.type === 'integer') {
      field.kind = schema.type;
      copyNumber(schema, field, 'minimum');
      copyNumber(schema, field, 'maximum');
      if (typeof schema.default === 'number') field.default = schema.default;
    } else {
      copyNumber(schema, field, 'minLength');
      copyNumber(schema, field, 'maxLength');
      if (typeof schema.format === 'string') field.format = schema.format;
      if (typeof schema.default === 'string') field.default = schema.default;
    }
    return field;
  });
}

/**
 * The content of a form accepted with every default (SEP-1034): each field that has a default,
 * with it; fields without one are left out.
 */
export function defaultContent(fields: readonly ElicitationField[]): ElicitationContent {
  const content: ElicitationContent = {};
  for (const field of fields) if (field.default !== undefined) content[field.name] = field.default;
  return content;
}

/**
 * What a person should hear about a field's answer, e.g. `a whole number from 1 to 100`, `yes or
 * no`, `one of Superman, Green Lantern, Wonder Woman`.
 */
export function describeAnswer(field: ElicitationField): string {
  const range = (low?: number, high?: number) =>
    low !== undefined && high !== undefined
      ? ` from ${low} to ${high}`
      : low !== undefined
        ? ` of at least ${low}`
        : high !== undefined
          ? ` of at most ${high}`
          : '';
  switch (field.kind) {
    case 'boolean':
      return 'yes or no';
    case 'integer':
      return `a whole number${range(field.minimum, field.maximum)}`;
    case 'number':
      return `a number${range(field.minimum, field.maximum)}`;
    case 'choice':
      return `one of ${titles(field.options)}`;
    case 'choices': {
      const count =
        field.minItems !== undefined || field.maxItems !== undefined
          ? ` (${[
              field.minItems !== undefined ? `at least ${field.minItems}` : '',
              field.maxItems !== undefined ? `at most ${field.maxItems}` : '',
            ]
              .filter(Boolean)
              .join(', ')})`
          : '';
      return `any of ${titles(field.options)}${count}`;
    }
    default: {
      const kind =
        field.format === 'email'
          ? 'an email address'
          : field.format === 'uri'
            ? 'a web address'
            : field.format === 'date'
              ? 'a date (YYYY-MM-DD)'
              : field.format === 'date-time'
                ? 'a date and time'
                : 'text';
      const length =
        field.minLength !== undefined || field.maxLength !== undefined
          ? ` of ${[
              field.minLength !== undefined ? `at least ${field.minLength}` : '',
              field.maxLength !== undefined ? `at most ${field.maxLength}` : '',
            ]
              .filter(Boolean)
              .join(' and ')} characters`
          : '';
      return `${kind}${length}`;
    }
  }
}

/**
 * A field's default as a person hears it (`yes`, an option's title, a quoted text); undefined
 * when it has none.
 */
export function spokenDefault(field: ElicitationField): string | undefined {
  const value = field.default;
  if (value === undefined) return undefined;
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  if (typeof value === 'number') return String(value);
  const title = (one: string) => field.options?.find((o) => o.value === one)?.title ?? one;
  if (Array.isArray(value)) return value.map(title).join(', ');
  return field.kind === 'choice' ? title(value) : JSON.stringify(value);
}

/** The outcome of {@link checkAnswers}: content to send, or what is wrong. */
export type AnswerCheck = { content: ElicitationContent } | { problems: string[] };

/**
 * Turns answers as a person (or a model writing down a person's words) gives them into content
 * that validates against the requested schema, or says what is wrong with them. Accepted forms:
 * booleans as `true`/`false` or yes/no words; numbers as numbers or numeric text (`"42"`,
 * `"1,000"`); a choice by its value or its title, case-insensitively; several choices as an array
 * or one text separated by commas or "and". Keys may be a field's name or title in any case. A
 * value of `null` or `undefined` counts as not given. The result is then checked against the
 * schema itself (the SDK's AJV validator, formats included).
 *
 * @param params the request's form parameters (from {@link parseFormParams}).
 * @param values the answers: an object of field → value.
 */
export function checkAnswers(params: ElicitationFormParams, values: unknown): AnswerCheck {
  const fields = elicitationFields(params);
  const problems: string[] = [];
  const content: ElicitationContent = {};
  if (
    values !== undefined &&
    values !== null &&
    (typeof values !== 'object' || Array.isArray(values))
  ) {
    return { problems: ['values must be an object of field name to answer'] };
  }
  const given = new Map<ElicitationField, unknown>();
  for (const [key, value] of Object.entries((values ?? {}) as Record<string, unknown>)) {
    const field = fieldFor(fields, key);
    if (!field) {
      problems.push(
        `${key}: no such field; the fields are ${fields.map((f) => f.name).join(', ')}`,
      );
      continue;
    }
    if (value !== undefined && value !== null) given.set(field, value);
  }
  for (const field of fields) {
    if (!given.has(field)) {
      if (field.required) problems.push(`${field.name}: required, ask the user for it`);
      continue;
    }
    const result = coerce(field, given.get(field));
    if ('problem' in result) problems.push(`${field.name}: ${result.problem}`);
    else content[field.name] = result.value;
  }
  if (problems.length > 0) return { problems };
  const check = schemaValidator().getValidator<ElicitationContent>(
    params.requestedSchema as Parameters<AjvJsonSchemaValidator['getValidator']>[0],
  )(content);
  if (!check.valid) return { problems: [check.errorMessage ?? 'does not match the schema'] };
  return { content };
}

let validator: AjvJsonSchemaValidator | undefined;

/** The SDK's AJV validator (with ajv-formats), made at its first use. */
function schemaValidator(): AjvJsonSchemaValidator {
  validator ??= new AjvJsonSchemaValidator();
  return validator;
}

const YES = new Set(['yes', 'y', 'true', 'yeah', 'yep', 'sure', 'ok', 'okay', 'on', '1']);
const NO = new Set(['no', 'n', 'false', 'nope', 'off', '0']);

type Coerced = { value: string | number | boolean | string[] } | { problem: string };

function coerce(field: ElicitationField, value: unknown): Coerced {
  switch (field.kind) {
    case 'boolean': {
      if (typeof value === 'boolean') return { value };
      const word = String(value)
        .trim()
        .toLowerCase()
        .replace(/[.!]+$/, '');
      if (YES.has(word)) return { value: true };
      if (NO.has(word)) return { value: false };
      return { problem: `${JSON.stringify(value)} is not yes or no` };
    }
    case 'number':
    case 'integer': {
      const number =
        typeof value === 'number'
          ? value
          : typeof value === 'string' && /^\s*[+-]?[\d,]*\.?\d+\s*$/.test(value)
            ? Number(value.replace(/[\s,]/g, ''))
            : Number.NaN;
      if (!Number.isFinite(number)) return { problem: `${JSON.stringify(value)} is not a number` };
      if (field.kind === 'integer' && !Number.isInteger(number)) {
        return { problem: `${number} is not a whole number` };
      }
      if (field.minimum !== undefined && number < field.minimum) {
        return { problem: `${number} is below the minimum ${field.minimum}` };
      }
      if (field.maximum !== undefined && number > field.maximum) {
        return { problem: `${number} is above the maximum ${field.maximum}` };
      }
      return { value: number };
    }
    case 'choice': {
      const option = matchOption(field.options ?? [], value);
      return option
        ? { value: option.value }
        : { problem: `${JSON.stringify(value)} is not one of ${titles(field.options)}` };
    }
    case 'choices': {
      const items = Array.isArray(value)
        ? value
        : String(value)
            .split(/\s*,\s*|\s+and\s+/i)
            .filter((item) => item.trim() !== '');
      const chosen: string[] = [];
      for (const item of items) {
        const option = matchOption(field.options ?? [], item);
        if (!option) {
          return { problem: `${JSON.stringify(item)} is not one of ${titles(field.options)}` };
        }
        if (!chosen.includes(option.value)) chosen.push(option.value);
      }
      if (field.minItems !== undefined && chosen.length < field.minItems) {
        return { problem: `choose at least ${field.minItems}` };
      }
      if (field.maxItems !== undefined && chosen.length > field.maxItems) {
        return { problem: `choose at most ${field.maxItems}` };
      }
      return { value: chosen };
    }
    default: {
      if (typeof value === 'object') return { problem: 'must be text' };
      const text = String(value).trim();
      if (field.minLength !== undefined && text.length < field.minLength) {
        return { problem: `must be at least ${field.minLength} characters long` };
      }
      if (field.maxLength !== undefined && text.length > field.maxLength) {
        return { problem: `must be at most ${field.maxLength} characters long` };
      }
      return { value: text };
    }
  }
}

function matchOption(
  options: readonly ElicitationOption[],
  value: unknown,
): ElicitationOption | undefined {
  if (typeof value !== 'string' && typeof value !== 'number') return undefined;
  const text = String(value).trim();
  const lower = text.toLowerCase();
  return (
    options.find((option) => option.value === text) ??
    options.find((option) => option.value.toLowerCase() === lower) ??
    options.find((option) => option.title.toLowerCase() === lower)
  );
}

function fieldFor(fields: readonly ElicitationField[], key: string): ElicitationField | undefined {
  const lower = key.trim().toLowerCase();
  return (
    fields.find((field) => field.name === key) ??
    fields.find((field) => field.name.toLowerCase() === lower) ??
    fields.find((field) => field.title?.toLowerCase() === lower)
  );
}

/** The options of an enum schema (titled, legacy `enumNames`, or plain), or undefined. */
function optionsOf(schema: Record<string, unknown>): ElicitationOption[] | undefined {
  const source =
    schema.type === 'array' && schema.items && typeof schema.items === 'object'
      ? (schema.items as Record<string, unknown>)
      : schema;
  const titled = (source.oneOf ?? source.anyOf) as
    Array<{ const: string; title: string }> | undefined;
  if (Array.isArray(titled)) return titled.map((o) => ({ value: o.const, title: o.title }));
  if (!Array.isArray(source.enum)) return undefined;
  const names = Array.isArray(source.enumNames) ? (source.enumNames as unknown[]) : [];
  return (source.enum as string[]).map((value, index) => ({
    value,
    title: typeof names[index] === 'string' ? (names[index] as string) : value,
  }));
}

function titles(options: readonly ElicitationOption[] = []): string {
  return options.map((option) => option.title).join(', ');
}

function copyNumber(
  schema: Record<string, unknown>,
  field: ElicitationField,
  key: 'minItems' | 'maxItems' | 'minimum' | 'maximum' | 'minLength' | 'maxLength',
): void {
  if (typeof schema[key] === 'number') field[key] = schema[key];
}
