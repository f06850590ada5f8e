import { createRequire } from 'node:module';
import path from 'node:path';
import { credentials, loadPackageDefinition, type ClientDuplexStream, type ClientReadableStream } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HealthCheckRequest } from '../../src/generated/proto/grpc/health/v1/HealthCheckRequest.js';
import type { HealthCheckResponse__Output } from '../../src/generated/proto/grpc/health/v1/HealthCheckResponse.js';
import { GRPC_CHANNEL_OPTIONS } from '../../src/grpc/grpc-options.js';
import { bearer, call, healthClient } from '../support/grpc-client.js';
import { pollUntil, startPrivateRedis, type PrivateRedis } from '../support/processes.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

type Status = HealthCheckResponse__Output['status'];

/** The reflection service's own proto, as @grpc/reflection ships it (grpcurl speaks v1 and v1alpha). */
function reflectionClient(address: string) {
  const require = createRequire(import.meta.url);
  const root = path.join(path.dirname(require.resolve('@grpc/reflection/package.json')), 'build/proto');
  const definition = loadSync(path.join(root, 'grpc/reflection/v1/reflection.proto'), { keepCase: true });
  const proto = loadPackageDefinition(definition) as unknown as {
    grpc: { reflection: { v1: { ServerReflection: new (address: string, creds: ReturnType<typeof credentials.createInsecure>) => ReflectionClient } } };
  };
  return new proto.grpc.reflection.v1.ServerReflection(address, credentials.createInsecure());
}
interface ReflectionResponse {
  list_services_response?: { service: Array<{ name: string }> };
  file_descriptor_response?: { file_descriptor_proto: Buffer[] };
}
interface ReflectionClient {
  ServerReflectionInfo(): ClientDuplexStream<Record<string, unknown>, ReflectionResponse>;
  close(): void;
}

describe('gRPC health follows readiness; reflection', () => {
  let redis: PrivateRedis;
  let app: TestApp;

  beforeAll(async () => {
    redis = await startPrivateRedis();
    app = await startTestApp({ REDIS_URL: redis.url });
  });
  afterAll(async () => {
    await app?.close();
    await redis?.stop();
  });

  it('Check and Watch turn NOT_SERVING while Redis is down and SERVING again when it is back, then NOT_SERVING on shutdown', { timeout: 40_000 }, async () => {
    const health = healthClient(app.server.grpcAddress);
    const check = () => call<HealthCheckRequest, HealthCheckResponse__Output>(health, health.check, {}, bearer(undefined)).then((response) => response.status);
    const seen: Status[] = [];
    const watch: ClientReadableStream<HealthCheckResponse__Output> = health.watch({ service: 'messaging.v1.MessagingService' });
    watch.on('data', (response: HealthCheckResponse__Output) => seen.push(response.status));
    watch.on('error', () => undefined); // cancelled or closed at the end
    await pollUntil('the first Watch status', () => (seen.length > 0 ? true : undefined));
    expect(seen).toEqual(['SERVING']);
    expect(await check()).toBe('SERVING');

    await redis.kill();
    await pollUntil('NOT_SERVING pushed', () => (seen.at(-1) === 'NOT_SERVING' ? true : undefined), 10_000);
    expect(await check()).toBe('NOT_SERVING');
    const ready = await fetch(`${app.server.httpUrl}/health/ready`);
    expect(ready.status).toBe(503);

    await redis.start();
    await pollUntil('SERVING pushed again', () => (seen.at(-1) === 'SERVING' ? true : undefined), 10_000);
    expect(await check()).toBe('SERVING');

    // Shutdown shows at once (during the grace period everything else is still served).
    const closing = app.server.close(1500);
    expect(await check()).toBe('NOT_SERVING');
    await pollUntil('NOT_SERVING pushed on shutdown', () => (seen.at(-1) === 'NOT_SERVING' ? true : undefined), 1400, 20);
    expect(seen).toEqual(['SERVING', 'NOT_SERVING', 'SERVING', 'NOT_SERVING']);
    watch.cancel();
    health.close();
    await closing;
  });
});

describe('gRPC server reflection and connection age', () => {
  let app: TestApp;
  beforeAll(async () => (app = await startTestApp()));
  afterAll(async () => app?.close());

  it('lists the messaging and health services and describes them, as grpcurl asks', async () => {
    const client = reflectionClient(app.server.grpcAddress);
    const stream = client.ServerReflectionInfo();
    const responses: ReflectionResponse[] = [];
    const ended = new Promise<void>((resolve, reject) => {
      stream.on('data', (response: ReflectionResponse) => responses.push(response));
      stream.on('end', resolve);
      stream.on('error', reject);
    });
    stream.write({ list_services: '' });
    stream.write({ file_containing_symbol: 'messaging.v1.MessagingService' });
    stream.end();
    await ended;
    client.close();
    const names = responses[0]!.list_services_response!.service.map((service) => service.name);
    expect(names).toEqual(expect.arrayContaining(['messaging.v1.MessagingService', 'grpc.health.v1.Health']));
    expect(responses[1]!.file_descriptor_response!.file_descriptor_proto.length).toBeGreaterThan(0);
  });

  it('closes HTTP/2 connections after a bounded age, so that a layer-4 balancer rebalances', () => {
    expect(GRPC_CHANNEL_OPTIONS['grpc.max_connection_age_ms']).toBeGreaterThan(0);
    expect(GRPC_CHANNEL_OPTIONS['grpc.max_connection_age_grace_ms']).toBeGreaterThan(0);
  });
});
