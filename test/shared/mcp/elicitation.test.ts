/**
 * The form helpers of elicitation (shared/mcp/elicitation.ts): the fields of a requested schema as
 * a person is asked for them, their defaults (SEP-1034), and answers as people give them turned
 * into content that validates against the schema, or what is wrong with them.
 */
import { describe, expect, it } from 'vitest';
import {
  checkAnswers,
  defaultContent,
  describeAnswer,
  elicitationFields,
  parseFormParams,
  spokenDefault,
  ElicitationSchemaError,
} from '../../../shared/mcp/elicitation.js';

/** A form like server-everything's `trigger-elicitation-request`, one field of each kind. */
const form = parseFormParams({
  message: 'Please provide inputs for the following fields:',
  requestedSchema: {
    type: 'object',
    properties: {
      name: { title: 'String', type: 'string', description: 'Your full, legal name' },
      check: { title: 'Boolean', type: 'boolean', description: 'Agree to the terms' },
      firstLine: { type: 'string', default: 'It was a dark and stormy night.' },
      email: { type: 'string', format: 'email' },
      integer: { type: 'integer', minimum: 1, maximum: 100, default: 42 },
      number: { type: 'number', minimum: 0, maximum: 1000, default: 3.14 },
      friend: { type: 'string', enum: ['Monica', 'Rachel', 'Joey'], default: 'Monica' },
      hero: {
        type: 'string',
        oneOf: [
          { const: 'hero-1', title: 'Superman' },
          { const: 'hero-2', title: 'Green Lantern' },
        ],
        default: 'hero-1',
      },
      pet: {
        type: 'string',
        enum: ['pet-1', 'pet-2'],
        enumNames: ['Cats', 'Dogs'],
      },
      fish: {
        type: 'array',
        minItems: 1,
        maxItems: 2,
        items: {
          anyOf: [
            { const: 'fish-1', title: 'Tuna' },
            { const: 'fish-2', title: 'Salmon' },
            { const: 'fish-3', title: 'Trout' },
          ],
        },
        default: ['fish-1'],
      },
    },
    required: ['name'],
  },
});

describe('elicitationFields', () => {
  it('describes each field with its kind, options, bounds and default', () => {
    const fields = Object.fromEntries(elicitationFields(form).map((f) => [f.name, f]));
    expect(fields.name).toMatchObject({ kind: 'string', required: true, title: 'String' });
    expect(fields.check).toMatchObject({ kind: 'boolean', required: false });
    expect(fields.integer).toMatchObject({
      kind: 'integer',
      minimum: 1,
      maximum: 100,
      default: 42,
    });
    expect(fields.hero).toMatchObject({
      kind: 'choice',
      options: [
        { value: 'hero-1', title: 'Superman' },
        { value: 'hero-2', title: 'Green Lantern' },
      ],
    });
    expect(fields.pet!.options).toEqual([
      { value: 'pet-1', title: 'Cats' },
      { value: 'pet-2', title: 'Dogs' },
    ]);
    expect(fields.fish).toMatchObject({ kind: 'choices', minItems: 1, maxItems: 2 });
  });

  it('says what answer each takes and its default as a person hears them', () => {
    const fields = Object.fromEntries(elicitationFields(form).map((f) => [f.name, f]));
    expect(describeAnswer(fields.check!)).toBe('yes or no');
    expect(describeAnswer(fields.integer!)).toBe('a whole number from 1 to 100');
    expect(describeAnswer(fields.email!)).toBe('an email address');
    expect(describeAnswer(fields.hero!)).toBe('one of Superman, Green Lantern');
    expect(describeAnswer(fields.fish!)).toBe('any of Tuna, Salmon, Trout (at least 1, at most 2)');
    expect(spokenDefault(fields.hero!)).toBe('Superman');
    expect(spokenDefault(fields.fish!)).toBe('Tuna');
    expect(spokenDefault(fields.firstLine!)).toBe('"It was a dark and stormy night."');
    expect(spokenDefault(fields.name!)).toBeUndefined();
  });

  it('fills every default, and leaves out fields without one (SEP-1034)', () => {
    expect(defaultContent(elicitationFields(form))).toEqual({
      firstLine: 'It was a dark and stormy night.',
      integer: 42,
      number: 3.14,
      friend: 'Monica',
      hero: 'hero-1',
      fish: ['fish-1'],
    });
  });

  it('refuses a schema that is not a flat object of primitive fields', () => {
    expect(() =>
      parseFormParams({
        message: 'x',
        requestedSchema: { type: 'object', properties: { nested: { type: 'object' } } },
      }),
    ).toThrow(ElicitationSchemaError);
  });
});

describe('checkAnswers', () => {
  it('turns spoken answers into content that fits the schema', () => {
    expect(
      checkAnswers(form, {
        Name: '  Ada Lovelace ',
        check: 'Yes',
        integer: '7',
        number: '1,000',
        friend: 'rachel',
        hero: 'green lantern',
        pet: 'Dogs',
        fish: 'Tuna and salmon',
        email: 'ada@example.com',
      }),
    ).toEqual({
      content: {
        name: 'Ada Lovelace',
        check: true,
        integer: 7,
        number: 1000,
        friend: 'Rachel',
        hero: 'hero-2',
        pet: 'pet-2',
        fish: ['fish-1', 'fish-2'],
        email: 'ada@example.com',
      },
    });
    expect(checkAnswers(form, { name: 'x', check: false, fish: ['fish-3'] })).toEqual({
      content: { name: 'x', check: false, fish: ['fish-3'] },
    });
  });

  it('says what is wrong instead: missing, out of range, not an option, unknown, bad format', () => {
    const result = checkAnswers(form, {
      check: 'perhaps',
      integer: 101,
      number: 'lots',
      hero: 'Batman',
      fish: ['Tuna', 'Salmon', 'Trout'],
      colour: 'blue',
    });
    expect(result).toEqual({
      problems: [
        'colour: no such field; the fields are name, check, firstLine, email, integer, number, friend, hero, pet, fish',
        'name: required, ask the user for it',
        'check: "perhaps" is not yes or no',
        'integer: 101 is above the maximum 100',
        'number: "lots" is not a number',
        'hero: "Batman" is not one of Superman, Green Lantern',
        'fish: choose at most 2',
      ],
    });
    expect(checkAnswers(form, { name: 'x', integer: 2.5 })).toEqual({
      problems: ['integer: 2.5 is not a whole number'],
    });
    const email = checkAnswers(form, { name: 'x', email: 'not an address' });
    expect('problems' in email && email.problems[0]).toMatch(/email.*format "email"/);
    expect(checkAnswers(form, 'Ada')).toEqual({
      problems: ['values must be an object of field name to answer'],
    });
  });
});
