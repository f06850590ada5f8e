import { loadPackageDefinition, type Server } from '@grpc/grpc-js';
import { loadSync, type Options, type PackageDefinition } from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { Transport, type GrpcOptions } from '@nestjs/microservices';
import type { ProtoGrpcType } from '../generated/proto/health.js';
import type { Lifecycle } from '../infrastructure/lifecycle/lifecycle.js';
import { protoPath } from '../infrastructure/proto-path.js';
import { addHealthService, type ServingSource } from './health.service.js';
import { withResponseEncoders } from './response-encoder.js';

/**
 * HTTP/2 connections are long-lived: behind a layer-4 load balancer (a Kubernetes Service) a
 * client keeps the instance it first reached, so new instances (a scale-up, a rollout) get no gRPC
 * traffic. Closing each connection after five minutes (GOAWAY, the client reconnects through the
 * balancer) rebalances; calls in flight get the grace to finish, far more than a unary call here takes.
 */
export const GRPC_CHANNEL_OPTIONS = {
  'grpc.max_connection_age_ms': 5 * 60_000,
  'grpc.max_connection_age_grace_ms': 10_000,
} as const;

/** longs as numbers (seq), optional fields absent rather than defaulted, as the proto says. */
export const GRPC_LOADER_OPTIONS: Options = { keepCase: false, longs: Number, enums: String, defaults: false, oneofs: true, arrays: true };

/**
 * The gRPC server: messaging.v1 through Nest; grpc.health.v1 (following readiness) and server
 * reflection (so that grpcurl and similar tools work without the .proto files) beside it on the
 * same server.
 */
export function grpcOptions(host: string, port: number, lifecycle: Lifecycle, readiness: ServingSource): GrpcOptions {
  return {
    transport: Transport.GRPC,
    options: {
      package: 'messaging.v1',
      packageDefinition: withResponseEncoders(loadSync(protoPath('messaging/v1/messaging.proto'), GRPC_LOADER_OPTIONS), 'messaging.v1.MessagingService'),
      url: `${host}:${port}`,
      maxReceiveMessageLength: 64 * 1024,
      channelOptions: { ...GRPC_CHANNEL_OPTIONS },
      onLoadPackageDefinition: (definition: PackageDefinition, server: Server) => {
        const healthDefinition = loadHealthDefinition();
        const health = loadPackageDefinition(healthDefinition) as unknown as ProtoGrpcType;
        addHealthService(server, health, lifecycle, readiness);
        new ReflectionService({ ...definition, ...healthDefinition }).addToServer(server);
      },
    },
  };
}

function loadHealthDefinition() {
  return loadSync(protoPath('grpc/health/v1/health.proto'), { keepCase: false, longs: Number, enums: String, defaults: true });
}
