/**
 * Vitest setup (runs in every test file): removes the file's sandbox `DATA_DIR`
 * (`fileSandbox()` of `sandboxed.ts`) after the file's tests.
 */
import { afterAll } from 'vitest';
import { removeFileSandbox } from './sandboxed.js';

afterAll(() => removeFileSandbox());
