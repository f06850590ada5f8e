import 'reflect-metadata';
import type http from 'node:http';
import type net from 'node:net';
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { Logger } from 'pino';
import { AppModule, type ResolvedConfig } from './app.module.js';
import { loadOrCreateDevSecret } from './auth/dev-secret.js';
import { ConfigError, missingInProduction, sharesRedis, type AppConfig } from './config/config.js';
import { grpcOptions } from './grpc/grpc-options.js';
import { ReadinessService } from './http/readiness.service.js';
import { ConnectionsGraph, DEMO_CONNECTIONS } from './infrastructure/embedded/connections-graph.js';
import { startConnectionsServer } from './infrastructure/embedded/connections-server.js';
import { startEmbeddedPostgres } from './infrastructure/embedded/embedded-postgres.js';
import { freePort } from './infrastructure/net/free-port.js';
import { Lifecycle } from './infrastructure/lifecycle/lifecycle.js';
import { createLogger, PinoNestLogger } from './infrastructure/observability/logger.js';
import { defaultMigrationsDir, migrate } from './infrastructure/prisma/migrator.js';
import { MessagingIoAdapter } from './websocket/messaging-io.adapter.js';

/** How long shutdown waits for received work to be stored and answered (CONTRACT §7: exit within 10 s). */
const DRAIN_TIMEOUT_MS = 5000;
/** How long start-up waits for the Socket.IO adapter's Redis connections before serving anyway. */
const ADAPTER_REDIS_WAIT_MS = 3000;

export interface RunningServer {
  app: INestApplication;
  config: ResolvedConfig;
  httpUrl: string;
  grpcAddress: string;
  /** Which parts run embedded (and so which demo affordances apply). */
  embedded: { database: boolean; connections: boolean; devSecret: boolean };
  /**
   * Shuts down as CONTRACT §7 asks: readiness (HTTP and gRPC health) turns 503 / NOT_SERVING and new
   * sockets are refused at once; for `graceMs` everything else goes on being served, so that load
   * balancers polling readiness stop sending work while this instance still answers; then new
   * events are refused (UNAVAILABLE, nothing stored), received ones are stored and acknowledged,
   * every connection is closed so that clients reconnect elsewhere, and the rest stops.
   * main.ts passes SHUTDOWN_GRACE_MS; tests and embedders close at once by default.
   */
  close(graceMs?: number): Promise<void>;
}

/**
 * Starts the whole service: resolves the embedded default for every part left unconfigured
 * (CONTRACT §1.1), migrates the database, then serves HTTP + Socket.IO and gRPC.
 */
export async function startServer(config: AppConfig, logger: Logger = createLogger(config.logLevel)): Promise<RunningServer> {
  // loadConfig already refuses this; a config built by hand (an embedder, a test) must not get an
  // embedded fallback in production either (CONTRACT §1.2), and nothing has been opened yet.
  if (config.env === 'production') {
    const missing = missingInProduction(config);
    if (missing.length > 0) throw new ConfigError(missing);
  }
  const cleanups: Array<() => Promise<void>> = [];
  const cleanUp = async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch((error) => logger.warn({ err: error }, 'cleanup failed'));
  };
  try {
    let databaseUrl = config.databaseUrl;
    if (!databaseUrl) {
      const postgres = await startEmbeddedPostgres(config.dataDir, (line) => logger.info(line));
      cleanups.push(postgres.stop);
      databaseUrl = postgres.url;
      logger.info({ dataDir: config.dataDir }, 'embedded PostgreSQL started');
    }
    let connectionsGrpcUrl = config.connectionsGrpcUrl;
    if (!connectionsGrpcUrl) {
      const connections = await startConnectionsServer(new ConnectionsGraph(DEMO_CONNECTIONS));
      cleanups.push(connections.stop);
      connectionsGrpcUrl = connections.url;
      logger.info({ url: connections.url }, 'embedded development Connections service started');
    }
    const jwt = { ...config.jwt };
    const devSecret = !jwt.secret && !jwt.publicKey;
    if (devSecret) jwt.secret = await loadOrCreateDevSecret(config.dataDir);

    const migration = await migrate(databaseUrl, defaultMigrationsDir());
    if (migration.applied.length > 0) logger.info({ applied: migration.applied }, 'database migrated');

    const resolved: ResolvedConfig = {
      ...config,
      databaseUrl,
      connectionsGrpcUrl,
      jwt,
      grpcPort: config.grpcPort === 0 ? await freePort(config.host) : config.grpcPort,
    };
    const lifecycle = new Lifecycle();
    const app = await NestFactory.create(AppModule.forRoot(resolved, logger, lifecycle), {
      logger: new PinoNestLogger(logger),
      cors: resolved.cors.kind === 'any' ? { origin: true, credentials: true } : { origin: resolved.cors.origins, credentials: true },
    });
    cleanups.push(() => app.close());
    const ioAdapter = new MessagingIoAdapter(app, resolved);
    app.useWebSocketAdapter(ioAdapter);
    app.connectMicroservice(grpcOptions(resolved.host, resolved.grpcPort, lifecycle, app.get(ReadinessService, { strict: false })), { inheritAppConfig: true });
    await app.init();
    if (sharesRedis(resolved) && !(await ioAdapter.redisReady(ADAPTER_REDIS_WAIT_MS))) {
      logger.warn('Redis is not reachable yet: broadcasts stay on this instance until it is');
    }
    await app.startAllMicroservices();
    await app.listen(resolved.port, resolved.host);
    const address = app.getHttpServer().address() as net.AddressInfo;
    let closing: Promise<void> | undefined;
    const running: RunningServer = {
      app,
      config: resolved,
      httpUrl: `http://${loopbackFor(resolved.host)}:${address.port}`,
      grpcAddress: `${loopbackFor(resolved.host)}:${resolved.grpcPort}`,
      embedded: { database: !config.databaseUrl, connections: !config.connectionsGrpcUrl, devSecret },
      close: async (graceMs = 0) => {
        if (closing) return closing;
        closing = (async () => {
          lifecycle.beginShutdown();
          if (graceMs > 0) await new Promise((resolve) => setTimeout(resolve, graceMs));
          ioAdapter.refuseNewEvents();
          if (!(await lifecycle.drained(DRAIN_TIMEOUT_MS))) logger.warn('shutdown: some requests were still running after the drain timeout');
          ioAdapter.closeConnections();
          // Stop listening, then drop keep-alive HTTP connections (a load balancer's health checks,
          // scrapers): as long as one of them keeps asking, the server's close() never completes.
          const httpServer = app.getHttpServer() as http.Server;
          httpServer.close();
          httpServer.closeAllConnections();
          await cleanUp();
        })();
        return closing;
      },
    };
    return running;
  } catch (error) {
    await cleanUp();
    throw error;
  }
}

function loopbackFor(host: string): string {
  return host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
}
