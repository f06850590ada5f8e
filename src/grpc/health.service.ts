import { status, type Server, type ServerUnaryCall, type ServerWritableStream, type sendUnaryData } from '@grpc/grpc-js';
import type { HealthCheckRequest__Output } from '../generated/proto/grpc/health/v1/HealthCheckRequest.js';
import type { HealthCheckResponse } from '../generated/proto/grpc/health/v1/HealthCheckResponse.js';
import type { ProtoGrpcType } from '../generated/proto/health.js';
import type { Lifecycle } from '../infrastructure/lifecycle/lifecycle.js';

const KNOWN_SERVICES = new Set(['', 'messaging.v1.MessagingService']);
const WATCH_INTERVAL_MS = 1000;

/**
 * The standard grpc.health.v1.Health service: SERVING until shutdown begins, then NOT_SERVING, so
 * that gRPC load balancers drain this instance first.
 */
export function addHealthService(server: Server, proto: ProtoGrpcType, lifecycle: Lifecycle): void {
  const current = (): HealthCheckResponse => ({ status: lifecycle.shuttingDown ? 'NOT_SERVING' : 'SERVING' });
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
