import { loadPackageDefinition, type Server } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { Transport, type GrpcOptions } from '@nestjs/microservices';
import type { ProtoGrpcType } from '../generated/proto/health.js';
import type { Lifecycle } from '../infrastructure/lifecycle/lifecycle.js';
import { protoPath } from '../infrastructure/proto-path.js';
import { addHealthService } from './health.service.js';

/** The gRPC server: messaging.v1 through Nest, grpc.health.v1 added beside it on the same server. */
export function grpcOptions(host: string, port: number, lifecycle: Lifecycle): GrpcOptions {
  return {
    transport: Transport.GRPC,
    options: {
      package: 'messaging.v1',
      protoPath: protoPath('messaging/v1/messaging.proto'),
      url: `${host}:${port}`,
      // longs as numbers (seq), optional fields absent rather than defaulted, as the proto says.
      loader: { keepCase: false, longs: Number, enums: String, defaults: false, oneofs: true, arrays: true },
      maxReceiveMessageLength: 64 * 1024,
      onLoadPackageDefinition: (_definition: unknown, server: Server) => {
        const health = loadPackageDefinition(loadHealthDefinition()) as unknown as ProtoGrpcType;
        addHealthService(server, health, lifecycle);
      },
    },
  };
}

function loadHealthDefinition() {
  return loadSync(protoPath('grpc/health/v1/health.proto'), { keepCase: false, longs: Number, enums: String, defaults: true });
}
