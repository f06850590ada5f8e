import { Metadata, status } from '@grpc/grpc-js';
import { Logger } from '@nestjs/common';
import { RpcException } from '@nestjs/microservices';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { signUserToken } from '../auth/jwt-signer.js';
import { JwtVerifier } from '../auth/jwt-verifier.js';
import { Lifecycle } from '../infrastructure/lifecycle/lifecycle.js';
import { Metrics } from '../infrastructure/observability/metrics.js';
import { operation } from '../transport/call-pipeline.js';
import { GrpcCall } from './grpc-call.js';

const SETTINGS = { secret: 'a test secret of reasonable length', issuer: 'platform', audience: 'messaging' };

function setUp() {
  const metrics = new Metrics();
  const call = new GrpcCall(new JwtVerifier(SETTINGS), metrics, new Lifecycle());
  const service = vi.fn(async (actor: { userId: string }, dto: { text: string }) => ({ by: actor.userId, text: dto.text }));
  const methods = call.methods({ Echo: operation(z.object({ text: z.string().min(1) }), service) });
  const counted = async (result: string) => {
    const { values } = await metrics.grpcRequests.get();
    return values.find((value) => value.labels.method === 'Echo' && value.labels.result === result)?.value;
  };
  return { call, service, methods, counted };
}

const withToken = async (userId: string): Promise<Metadata> => {
  const metadata = new Metadata();
  metadata.set('authorization', `Bearer ${await signUserToken(SETTINGS.secret, userId, SETTINGS)}`);
  return metadata;
};

/** The status and message a refusal leaves with. */
const refusal = (promise: Promise<unknown>) =>
  promise.then(
    () => undefined,
    (error: unknown) => (error instanceof RpcException ? error.getError() : error),
  );

describe('GrpcCall', () => {
  afterEach(() => vi.restoreAllMocks());

  it('answers with the service\'s result as the token\'s user, counted as ok', async () => {
    const { call, service, methods, counted } = setUp();
    expect(await call.run(methods.Echo, await withToken('alice'), { text: 'hi' })).toEqual({ by: 'alice', text: 'hi' });
    expect(service).toHaveBeenCalledWith({ userId: 'alice' }, { text: 'hi' });
    expect(await counted('ok')).toBe(1);
  });

  it('checks the bearer token before the payload: no token and a malformed payload is UNAUTHENTICATED', async () => {
    const { call, service, methods, counted } = setUp();
    expect(await refusal(call.run(methods.Echo, new Metadata(), { text: 42 }))).toEqual({ code: status.UNAUTHENTICATED, message: expect.any(String) });
    expect(service).not.toHaveBeenCalled();
    expect(await counted('UNAUTHENTICATED')).toBe(1);
    expect(await counted('INVALID_ARGUMENT')).toBeUndefined();
  });

  it('refuses a malformed payload of an authenticated caller as INVALID_ARGUMENT', async () => {
    const { call, service, methods, counted } = setUp();
    expect(await refusal(call.run(methods.Echo, await withToken('alice'), { text: '' }))).toEqual({ code: status.INVALID_ARGUMENT, message: expect.stringContaining('text') });
    expect(service).not.toHaveBeenCalled();
    expect(await counted('INVALID_ARGUMENT')).toBe(1);
  });

  it('leaves a server fault as INTERNAL without its cause, which it logs once', async () => {
    const { call, service, methods, counted } = setUp();
    const logged = vi.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    service.mockRejectedValueOnce(new Error('secret detail'));
    expect(await refusal(call.run(methods.Echo, await withToken('alice'), { text: 'hi' }))).toEqual({ code: status.INTERNAL, message: 'internal error' });
    expect(await counted('INTERNAL')).toBe(1);
    expect(logged.mock.calls).toEqual([['Echo failed with INTERNAL: Error: secret detail']]);
  });
});
