/**
 * `npm run admin-token [-- --email <admin email>]`: a new API token for an admin, printed once,
 * for when the first-start token is lost (see `runAdminToken` in `run.ts`). It reads the same
 * settings as the API (`DATABASE_URL` or `DATA_DIR`, `ADMIN_EMAIL`); with the embedded database
 * (no `DATABASE_URL`) stop the API first.
 *
 * Exit status: 0 when a token was minted (printed on stdout), 1 on failure, 2 on a usage error
 * (the reason on stderr; nothing was changed).
 */
import { describeError } from '../../shared/errors.js';
import { SettingsError, loadSettings } from '../../shared/settings.js';
import {
  ADMIN_TOKEN_USAGE,
  AdminTokenError,
  AdminTokenUsageError,
  parseAdminTokenArgs,
  runAdminToken,
} from './run.js';

try {
  const args = parseAdminTokenArgs(process.argv.slice(2));
  if (args.help) {
    process.stdout.write(ADMIN_TOKEN_USAGE);
  } else {
    await runAdminToken({ settings: loadSettings(), email: args.email });
  }
  process.exitCode = 0;
} catch (error) {
  if (error instanceof AdminTokenUsageError) {
    process.stderr.write(`admin-token: ${error.message}\n${ADMIN_TOKEN_USAGE}`);
    process.exitCode = 2;
  } else {
    const known = error instanceof SettingsError || error instanceof AdminTokenError;
    process.stderr.write(`admin-token: ${known ? error.message : describeError(error)}\n`);
    process.exitCode = 1;
  }
}
