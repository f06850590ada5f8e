import { context, propagation } from '@opentelemetry/api';
import { credentials, loadPackageDefinition, Metadata, type ServiceError } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { metadataSetter } from '../infrastructure/observability/tracing.js';
import { protoPath } from '../infrastructure/proto-path.js';
import type { ProtoGrpcType } from '../generated/proto/connections.js';
import type { ConnectionsServiceClient } from '../generated/proto/connections/v1/ConnectionsService.js';

/** A thin promise wrapper over the generated connections.v1 client, with a deadline per call. */
export class ConnectionsGrpcClient {
  private readonly client: ConnectionsServiceClient;

  constructor(url: string) {
    const definition = loadSync(protoPath('connections/v1/connections.proto'), { longs: Number, enums: String });
    const proto = loadPackageDefinition(definition) as unknown as ProtoGrpcType;
    this.client = new proto.connections.v1.ConnectionsService(url, credentials.createInsecure(), {
      // Reconnect quickly once the service is back, so the breaker's trial call can succeed.
      'grpc.initial_reconnect_backoff_ms': 200,
      'grpc.max_reconnect_backoff_ms': 2000,
    });
  }

  isConnected(userIdA: string, userIdB: string, timeoutMs: number): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.client.isConnected(
        { userIdA, userIdB },
        outgoingMetadata(),
        { deadline: Date.now() + timeoutMs },
        (error: ServiceError | null, response) => {
          if (error) reject(error);
          else resolve(response?.areConnected === true);
        },
      );
    });
  }

  close(): void {
    this.client.close();
  }
}

/**
 * The current trace context as W3C `traceparent`, so that the Connections service's spans join the
 * caller's trace (the gRPC instrumentation, when on, replaces it with its client span's).
 */
function outgoingMetadata(): Metadata {
  const metadata = new Metadata();
  propagation.inject(context.active(), metadata, metadataSetter);
  return metadata;
}
