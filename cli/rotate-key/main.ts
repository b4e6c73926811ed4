/**
 * `npm run rotate-key`: re-seals every MCP server secret under a new key in one transaction and
 * prints what to set (see `runRotateKey` in `run.ts`). Stop the API and the workers
 * first. It reads the same settings as the API (`DATABASE_URL` or `DATA_DIR`,
 * `SWITCHBOARD_SECRET_KEY`, `SWITCHBOARD_PREVIOUS_SECRET_KEYS`).
 *
 * Exit status: 0 when every secret was re-sealed, 1 on failure (the reason on stderr; unless it
 * says the key file could not be replaced, nothing was changed).
 */
import { describeError } from '../../shared/errors.js';
import { SettingsError, loadSettings } from '../../shared/settings.js';
import { runRotateKey } from './run.js';

try {
  await runRotateKey({ settings: loadSettings() });
  process.exitCode = 0;
} catch (error) {
  const message = error instanceof SettingsError ? error.message : describeError(error);
  process.stderr.write(`rotate-key: ${message}\n`);
  process.exitCode = 1;
}
