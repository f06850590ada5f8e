import { signUserToken } from './auth/jwt-signer.js';
import { startServer, type RunningServer } from './bootstrap.js';
import { ConfigError, loadConfig } from './config/config.js';
import { DEMO_USERS } from './infrastructure/embedded/connections-graph.js';
import { createLogger } from './infrastructure/observability/logger.js';
import { startTracing } from './infrastructure/observability/tracing.js';

/** CONTRACT §7: exit 0 within 10 s of SIGTERM or SIGINT, whatever is still hanging. */
const SHUTDOWN_DEADLINE_MS = 9000;

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  const logger = createLogger(config.logLevel);
  const stopTracing = startTracing(process.env);
  const server = await startServer(config, logger);
  logger.info({ http: server.httpUrl, grpc: server.grpcAddress }, 'messaging service ready');
  // Never in production (CONTRACT §1.2): the links carry tokens signed with the real key.
  if (server.config.env !== 'production' && server.embedded.connections && server.config.jwt.secret) await printDemoAccess(server);

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    setTimeout(() => {
      logger.warn('shutdown deadline reached; exiting');
      process.exit(0);
    }, SHUTDOWN_DEADLINE_MS).unref();
    server
      .close(config.shutdownGraceMs)
      .then(() => stopTracing?.())
      .then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(0);
      },
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

/** The embedded default's welcome: one signed-in demo link per demo user (CONTRACT §1.1). */
async function printDemoAccess(server: RunningServer): Promise<void> {
  const { secret, issuer, audience } = server.config.jwt;
  const lines = ['', 'Demo users (alice–bob, alice–carol and bob–dave are connected). Open two of these in two windows:'];
  for (const user of DEMO_USERS) {
    const token = await signUserToken(secret!, user, { issuer, audience });
    lines.push(`  ${user.padEnd(6)} ${server.httpUrl}/?token=${token}`);
  }
  lines.push(`gRPC on ${server.grpcAddress}; a token for any user: npm run token -- <userId>`, '');
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
