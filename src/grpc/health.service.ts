import { status, type Server, type ServerUnaryCall, type ServerWritableStream, type sendUnaryData } from '@grpc/grpc-js';
import type { HealthCheckRequest__Output } from '../generated/proto/grpc/health/v1/HealthCheckRequest.js';
import type { HealthCheckResponse } from '../generated/proto/grpc/health/v1/HealthCheckResponse.js';
import type { ProtoGrpcType } from '../generated/proto/health.js';
import type { Lifecycle } from '../infrastructure/lifecycle/lifecycle.js';

const KNOWN_SERVICES = new Set(['', 'messaging.v1.MessagingService']);
/** How often a Watch compares the status with what it last sent: reading two fields, no I/O. */
const WATCH_INTERVAL_MS = 200;

/** Whether the dependencies answered at the last readiness probe (the HTTP readiness service keeps it). */
export interface ServingSource {
  readonly dependenciesUp: boolean;
}

/**
 * The standard grpc.health.v1.Health service, following readiness (CONTRACT §6): SERVING while the
 * database (and Redis, where configured) answered the last probe and shutdown has not begun,
 * NOT_SERVING otherwise, so that gRPC load balancers send nothing to an instance that would answer
 * UNAVAILABLE and drain it first on shutdown. Shutdown shows at once; a dependency's change within
 * one probe interval. Watch pushes every change.
 */
export function addHealthService(server: Server, proto: ProtoGrpcType, lifecycle: Lifecycle, readiness: ServingSource): void {
  const current = (): HealthCheckResponse => ({ status: !lifecycle.shuttingDown && readiness.dependenciesUp ? 'SERVING' : 'NOT_SERVING' });
  server.addService(proto.grpc.health.v1.Health.service, {
    Check(call: ServerUnaryCall<HealthCheckRequest__Output, HealthCheckResponse>, callback: sendUnaryData<HealthCheckResponse>) {
      if (!KNOWN_SERVICES.has(call.request.service ?? '')) return callback({ code: status.NOT_FOUND, details: 'unknown service' });
      callback(null, current());
    },
    Watch(call: ServerWritableStream<HealthCheckRequest__Output, HealthCheckResponse>) {
      if (!KNOWN_SERVICES.has(call.request.service ?? '')) {
        call.write({ status: 'SERVICE_UNKNOWN' });
        return;
      }
      let last = current().status;
      call.write({ status: last });
      const timer = setInterval(() => {
        const next = current().status;
        if (next !== last) call.write({ status: (last = next) });
      }, WATCH_INTERVAL_MS);
      call.on('cancelled', () => clearInterval(timer));
      call.on('close', () => clearInterval(timer));
    },
  });
}
