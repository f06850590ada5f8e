import { credentials, loadPackageDefinition, Metadata, type ServiceError } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import type { ProtoGrpcType as HealthProto } from '../../src/generated/proto/health.js';
import type { ProtoGrpcType as MessagingProto } from '../../src/generated/proto/messaging.js';
import type { MessagingServiceClient } from '../../src/generated/proto/messaging/v1/MessagingService.js';
import type { HealthClient } from '../../src/generated/proto/grpc/health/v1/Health.js';
import { GRPC_LOADER_OPTIONS as LOADER } from '../../src/grpc/grpc-options.js';
import { protoPath } from '../../src/infrastructure/proto-path.js';

export function messagingClient(address: string): MessagingServiceClient {
  const proto = loadPackageDefinition(loadSync(protoPath('messaging/v1/messaging.proto'), LOADER)) as unknown as MessagingProto;
  return new proto.messaging.v1.MessagingService(address, credentials.createInsecure());
}

export function healthClient(address: string): HealthClient {
  const proto = loadPackageDefinition(loadSync(protoPath('grpc/health/v1/health.proto'), LOADER)) as unknown as HealthProto;
  return new proto.grpc.health.v1.Health(address, credentials.createInsecure());
}

export function bearer(token: string | undefined): Metadata {
  const metadata = new Metadata();
  if (token !== undefined) metadata.set('authorization', `Bearer ${token}`);
  return metadata;
}

type Unary<Req, Res> = (request: Req, metadata: Metadata, callback: (error: ServiceError | null, response?: Res) => void) => unknown;

/** Calls a unary method; resolves with the response or rejects with the ServiceError (its `code`). */
export function call<Req, Res>(client: object, method: Unary<Req, Res>, request: Req, metadata: Metadata): Promise<Res> {
  return new Promise((resolve, reject) =>
    method.call(client, request, metadata, (error, response) => (error ? reject(error) : resolve(response as Res))),
  );
}

export async function statusOf(promise: Promise<unknown>): Promise<number | 'ok'> {
  try {
    await promise;
    return 'ok';
  } catch (error) {
    return (error as ServiceError).code;
  }
}
