/**
 * The problem+json error middleware: what it answers and how loudly it logs.
 */
import { Writable } from 'node:stream';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../../shared/logger.js';
import { HttpError, problemHandler } from '../../../server/http/errors.js';
import { serve, type TestServer } from '../../helpers/http.js';

const lines: Array<Record<string, unknown>> = [];
const destination = new Writable({
  write(chunk, _encoding, done) {
    lines.push(JSON.parse(String(chunk)));
    done();
  },
});
let api: TestServer;

beforeAll(async () => {
  const app = express();
  app.get('/unconfigured', () => {
    throw new HttpError(503, 'thing_unconfigured', 'Set THING_URL to use the thing.');
  });
  app.get('/bug', () => {
    throw new Error('boom: an internal detail');
  });
  app.use(problemHandler(createLogger({ level: 'info', destination })));
  api = await serve(app);
});

afterAll(async () => {
  await api?.close();
});

describe('problemHandler', () => {
  it('answers a deliberate 503 with its detail and logs a warning without a stack', async () => {
    lines.length = 0;
    const res = await api.request('GET', '/unconfigured');
    expect(res.status).toBe(503);
    expect(res.body).toMatchObject({
      code: 'thing_unconfigured',
      detail: 'Set THING_URL to use the thing.',
    });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: 40,
      code: 'thing_unconfigured',
      detail: 'Set THING_URL to use the thing.',
      path: '/unconfigured',
      msg: 'request not served',
    });
    expect(lines[0]).not.toHaveProperty('err');
  });

  it('answers an unexpected error with a generic 500 and logs it as an error with its stack', async () => {
    lines.length = 0;
    const res = await api.request('GET', '/bug');
    expect(res.status).toBe(500);
    expect(JSON.stringify(res.body)).not.toContain('boom');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 50, msg: 'request failed', path: '/bug' });
    expect((lines[0]!.err as { stack: string }).stack).toContain('boom: an internal detail');
  });
});
