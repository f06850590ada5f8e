import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import CircuitBreaker from 'opossum';
import { AppError } from '../contract/app-error.js';
import { APP_CONFIG } from '../config/config.module.js';
import type { AppConfig } from '../config/config.js';
import type { ConnectionChecker } from '../conversations/connection-checker.port.js';
import { orderedPair } from '../conversations/conversation-pair.js';
import { MemoryTtlCache } from '../infrastructure/cache/ttl-cache.js';
import { RedisTtlCache } from '../infrastructure/cache/redis-ttl-cache.js';
import { DependencyStates, type DependencyStateLogger } from '../infrastructure/observability/dependency-state.js';
import { BREAKER_STATE, Metrics } from '../infrastructure/observability/metrics.js';
import { traced } from '../infrastructure/observability/tracing.js';
import { REDIS, REDIS_COMMAND_TIMEOUT_MS, reportRedisState, subscriberOf, type OptionalRedis, type SharedRedis } from '../infrastructure/redis/redis.module.js';
import { ConnectionsGrpcClient } from './connections.grpc-client.js';

export const CONNECTIONS_URL = Symbol('CONNECTIONS_URL');

/** The Redis channel on which a revocation reaches every instance (docs/events.md, "Consumed"). */
const REVOCATIONS_CHANNEL = 'messaging:connections:revoked';
/** Revocations remembered for the lookups in flight when they happened (a lookup lasts < 2 s). */
const REVOCATIONS_KEPT = 10_000;
/** A revoked pair is refused from the cache at least this long, whatever the negative TTL. */
const MIN_REVOCATION_TTL_MS = 1000;

/**
 * Asks the Connections service whether two users are connected, behind two cache tiers and a
 * circuit breaker. Answers are cached per unordered pair with an absolute expiry, so the
 * in-process tier never outlives the shared Redis entry it copied. Fails closed: no cached answer
 * and no answer from the service is UNAVAILABLE, never a guess.
 */
@Injectable()
export class ConnectionsChecker implements ConnectionChecker, OnModuleDestroy {
  private readonly local = new MemoryTtlCache(200_000);
  private readonly shared?: RedisTtlCache;
  private readonly client: ConnectionsGrpcClient;
  private readonly breaker: CircuitBreaker<[string, string], boolean>;
  private readonly inFlight = new Map<string, Promise<boolean>>();
  private readonly state: DependencyStateLogger;
  /** The shared cache's state (the same logger as its Redis client's connection errors). */
  private readonly cacheState: DependencyStateLogger;
  /** Bumped by each revocation; a lookup compares it with the pair's revocation (see `revoke`). */
  private epoch = 0;
  private readonly revokedAt = new Map<string, number>();
  private readonly subscriber?: SharedRedis;
  private readonly sharedRedis?: SharedRedis;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(CONNECTIONS_URL) url: string,
    @Inject(REDIS) redis: OptionalRedis,
    private readonly metrics: Metrics,
    states: DependencyStates,
  ) {
    this.state = states.of('connections');
    this.cacheState = states.of('redis (messaging-cache)');
    this.client = new ConnectionsGrpcClient(url);
    if (redis) this.shared = new RedisTtlCache(redis, 'messaging:connected:', REDIS_COMMAND_TIMEOUT_MS);
    this.sharedRedis = redis ?? undefined;
    this.breaker = new CircuitBreaker((a: string, b: string) => this.client.isConnected(a, b, config.connectionsTimeoutMs), {
      // The gRPC deadline ends a slow call; this is only a backstop.
      timeout: config.connectionsTimeoutMs + 250,
      errorThresholdPercentage: 50,
      volumeThreshold: 3,
      rollingCountTimeout: 10_000,
      rollingCountBuckets: 10,
      // Half-open after 5 s: one trial call, closed again on success (CONTRACT §5: recover within 15 s).
      resetTimeout: 5_000,
    });
    metrics.breakerState.set(BREAKER_STATE.closed);
    this.breaker.on('open', () => metrics.breakerState.set(BREAKER_STATE.open));
    this.breaker.on('halfOpen', () => metrics.breakerState.set(BREAKER_STATE.halfOpen));
    this.breaker.on('close', () => metrics.breakerState.set(BREAKER_STATE.closed));
    if (redis && config.eventBusUrl) {
      // Revocations from the event bus reach one instance (one durable consumer); it passes them on.
      const subscriber = subscriberOf(redis, 'messaging-revocations');
      const subscriberState = states.of('redis (messaging-revocations)');
      reportRedisState(subscriber, subscriberState);
      subscriber.on('message', (_channel: string, text: string) => {
        const pair = parsePair(text);
        // The memory entry is in place whatever Redis says; a failed shared write is the cache's outage.
        if (pair) this.applyRevocation(pair[0], pair[1]).catch((error: unknown) => this.cacheState.failed(error));
      });
      subscriber.subscribe(REVOCATIONS_CHANNEL).catch((error: unknown) => subscriberState.failed(error));
      this.subscriber = subscriber;
    }
  }

  /**
   * The pair stopped being connected (CONTRACT §8, connection.removed): from now on, on every
   * instance, the pair is refused until an IsConnected answer obtained after this call says
   * otherwise. Resolves once the other instances have been told (through Redis); rejects when that
   * failed, so that the event is redelivered.
   */
  async revoke(userA: string, userB: string): Promise<void> {
    await this.applyRevocation(userA, userB);
    if (this.sharedRedis) await this.sharedRedis.publish(REVOCATIONS_CHANNEL, JSON.stringify(orderedPair(userA, userB)));
  }

  /**
   * Refuses the pair from the caches: a negative entry in memory and in Redis, no lookup started
   * earlier is joined or trusted any more (it may carry an answer from before the removal). Every
   * instance writes the Redis entry when it hears of the revocation, after any write of its own
   * lookups that were in flight, so the shared entry ends negative.
   */
  private async applyRevocation(userA: string, userB: string): Promise<void> {
    const [a, b] = orderedPair(userA, userB);
    const key = `${a}\u0000${b}`;
    this.revokedAt.delete(key);
    this.revokedAt.set(key, ++this.epoch);
    if (this.revokedAt.size > REVOCATIONS_KEPT) this.revokedAt.delete(this.revokedAt.keys().next().value!);
    this.inFlight.delete(key);
    const ttl = Math.max(this.config.connectionsNegativeCacheTtlMs, MIN_REVOCATION_TTL_MS);
    const value = encode(false, Date.now() + ttl);
    this.local.setSync(key, value, ttl);
    this.metrics.connectionsCalls.inc({ result: 'revoked' });
    await this.shared?.set(key, value, ttl);
  }

  async areConnected(userA: string, userB: string): Promise<boolean> {
    const [a, b] = orderedPair(userA, userB);
    const key = `${a}\u0000${b}`;
    const local = this.local.getSync(key);
    if (local !== undefined) {
      this.metrics.connectionsCalls.inc({ result: 'cache_hit' });
      return decode(local).connected;
    }
    let pending = this.inFlight.get(key);
    if (!pending) {
      pending = this.lookup(key, a, b).finally(() => this.inFlight.delete(key));
      this.inFlight.set(key, pending);
    }
    return pending;
  }

  private async lookup(key: string, a: string, b: string): Promise<boolean> {
    const startedAt = this.epoch;
    const revokedSince = () => (this.revokedAt.get(key) ?? -1) > startedAt;
    // A cache that does not answer is skipped (the Connections service is asked instead), and its
    // failure is the shared cache's state: logged once per change, with the recovery.
    const shared = await this.shared?.get(key).then(
      (value) => {
        this.cacheState.recovered();
        return value;
      },
      (error: unknown) => {
        this.cacheState.failed(error);
        return undefined;
      },
    );
    // An answer read or asked before a revocation of the pair is not trusted: refused.
    if (revokedSince()) return false;
    if (shared !== undefined) {
      const entry = decode(shared);
      this.local.setSync(key, shared, entry.expiresAt - Date.now());
      this.metrics.connectionsCalls.inc({ result: 'cache_hit' });
      return entry.connected;
    }
    let connected: boolean;
    try {
      connected = await traced('connections.IsConnected', { 'rpc.system': 'grpc', 'rpc.service': 'connections.v1.ConnectionsService' }, () => this.breaker.fire(a, b));
    } catch (error) {
      const result = this.breaker.opened && (error as { code?: string }).code === 'EOPENBREAKER' ? 'breaker_open' : isTimeout(error) ? 'timeout' : 'error';
      this.metrics.connectionsCalls.inc({ result });
      // A call the open breaker refused says nothing new about the service: its cause was logged.
      if (result !== 'breaker_open') this.state.failed(error);
      throw AppError.unavailable('the Connections service could not answer; retry', error);
    }
    this.metrics.connectionsCalls.inc({ result: connected ? 'connected' : 'not_connected' });
    this.state.recovered();
    if (revokedSince()) return false;
    const ttl = connected ? this.config.connectionsCacheTtlMs : this.config.connectionsNegativeCacheTtlMs;
    const value = encode(connected, Date.now() + ttl);
    this.local.setSync(key, value, ttl);
    // Shared with the other instances without waiting: a Redis that does not answer must not hold
    // the action that asked (docs/reliability.md, "Redis frozen").
    void this.shared?.set(key, value, ttl).catch((error: unknown) => this.cacheState.failed(error));
    return connected;
  }

  onModuleDestroy(): void {
    this.subscriber?.disconnect();
    this.breaker.shutdown();
    this.client.close();
  }
}

function parsePair(text: string): [string, string] | undefined {
  try {
    const value: unknown = JSON.parse(text);
    if (Array.isArray(value) && value.length === 2 && value.every((id) => typeof id === 'string')) return value as [string, string];
  } catch {
    // Not one of ours: ignored.
  }
  return undefined;
}

function encode(connected: boolean, expiresAt: number): string {
  return `${connected ? 1 : 0}:${expiresAt}`;
}

function decode(value: string): { connected: boolean; expiresAt: number } {
  const [flag, expiresAt] = value.split(':');
  return { connected: flag === '1', expiresAt: Number(expiresAt) };
}

function isTimeout(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return code === 'ETIMEDOUT' || code === 4; // 4 = gRPC DEADLINE_EXCEEDED
}
