/**
 * First-start set-up: the admin user, their API token, and the demo MCP servers.
 */
import { asc, eq } from 'drizzle-orm';
import { apiTokens, mcpServers, users, type User } from '../../shared/db/schema.js';
import { allSecretHints, sealServerSecrets } from '../../shared/db/server-secrets.js';
import type { ServerStore } from '../../shared/db/servers.js';
import { generateToken, hashToken, storeToken } from '../http/auth.js';
import { demoServers, grantDemoFolders } from './demo-servers.js';

/** Options of {@link bootstrap}. */
export interface BootstrapOptions {
  /** `ADMIN_EMAIL`: the admin created on first start. */
  adminEmail: string;
  /** `ADMIN_TOKEN`: when set, this token is made valid for the admin. */
  adminToken?: string;
  /** `SEED_DEMO_SERVERS`: create the demo servers when the admin is created. */
  seedDemoServers: boolean;
  /** Absolute `DATA_DIR`, where the demo servers keep their files. */
  dataDir: string;
}

/** What {@link bootstrap} did. */
export interface BootstrapResult {
  admin: User;
  /** True when this call created the admin (first start). */
  created: boolean;
  /** A token generated now, to print once; absent when `ADMIN_TOKEN` was given or on later starts. */
  generatedToken?: string;
  /** Number of demo servers created. */
  demoServers: number;
}

/**
 * Creates the admin on first start (with `ADMIN_TOKEN` or a generated token, and the demo
 * servers), and on later starts makes sure `ADMIN_TOKEN`, when set, is one of the admin's tokens.
 * Runs in one transaction, so a failure leaves nothing half-made. The demo servers' secrets (their
 * `env` values) are sealed with `secrets` like any other server's.
 */
export async function bootstrap(
  { db, secrets }: ServerStore,
  options: BootstrapOptions,
): Promise<BootstrapResult> {
  return db.transaction(async (tx) => {
    const [existing] = await tx
      .select()
      .from(users)
      .where(eq(users.role, 'admin'))
      .orderBy(asc(users.id))
      .limit(1);
    if (existing) {
      if (options.adminToken) {
        const [known] = await tx
          .select({ id: apiTokens.id })
          .from(apiTokens)
          .where(eq(apiTokens.tokenHash, hashToken(options.adminToken)));
        if (!known) await storeToken(tx, existing.id, options.adminToken, 'ADMIN_TOKEN');
      }
      return { admin: existing, created: false, demoServers: 0 };
    }
    const [admin] = await tx
      .insert(users)
      .values({ name: 'Admin', email: options.adminEmail, role: 'admin' })
      .returning();
    const token = options.adminToken ?? generateToken();
    await storeToken(tx, admin!.id, token, options.adminToken ? 'ADMIN_TOKEN' : 'first start');
    let seeded = 0;
    if (options.seedDemoServers) {
      const rows = demoServers(admin!.id, options.dataDir);
      const inserted = await tx
        .insert(mcpServers)
        .values(
          rows.map((row) => ({
            ...sealServerSecrets(row, row.userId, secrets),
            secretHints: allSecretHints(row),
          })),
        )
        .returning({ id: mcpServers.id, sandbox: mcpServers.sandbox });
      grantDemoFolders(inserted);
      seeded = rows.length;
    }
    return {
      admin: admin!,
      created: true,
      generatedToken: options.adminToken ? undefined : token,
      demoServers: seeded,
    };
  });
}
