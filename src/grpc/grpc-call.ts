import { SpanKind } from '@opentelemetry/api';
import type { Metadata } from '@grpc/grpc-js';
import { Injectable, Logger } from '@nestjs/common';
import { RpcException } from '@nestjs/microservices';
import type { z } from 'zod';
import { bearerToken, JwtVerifier } from '../auth/jwt-verifier.js';
import type { Actor } from '../contract/actor.js';
import { isServerFault } from '../contract/app-error.js';
import { describeCause, toAppError } from '../infrastructure/prisma/driver-errors.js';
import { parsePayload } from '../contract/validate.js';
import { Lifecycle } from '../infrastructure/lifecycle/lifecycle.js';
import { newRequestId, withLogContext } from '../infrastructure/observability/log-context.js';
import { Metrics } from '../infrastructure/observability/metrics.js';
import { metadataGetter, traced } from '../infrastructure/observability/tracing.js';
import { GRPC_STATUS } from './grpc-status.js';

/**
 * Runs one gRPC call: the bearer token from metadata first (CONTRACT §2), then the payload schema,
 * then the service as that user. Every failure leaves as a status code from GRPC_STATUS.
 */
@Injectable()
export class GrpcCall {
  private readonly logger = new Logger('GrpcCall');

  constructor(
    private readonly verifier: JwtVerifier,
    private readonly metrics: Metrics,
    private readonly lifecycle: Lifecycle,
  ) {}

  async run<S extends z.ZodType, R>(
    method: string,
    metadata: Metadata,
    schema: S,
    request: unknown,
    action: (actor: Actor, dto: z.output<S>) => Promise<R>,
  ): Promise<R> {
    return this.lifecycle.track(
      withLogContext({ requestId: newRequestId(), event: method }, () =>
        traced(
          `grpc ${method}`,
          { 'rpc.system': 'grpc', 'rpc.service': 'messaging.v1.MessagingService', 'rpc.method': method },
          () => this.respond(method, metadata, schema, request, action),
          // Under the gRPC instrumentation's server span when it is on; the caller's traceparent otherwise.
          { kind: SpanKind.SERVER, remote: { carrier: () => metadata, getter: metadataGetter } },
        ),
      ),
    );
  }

  private async respond<S extends z.ZodType, R>(
    method: string,
    metadata: Metadata,
    schema: S,
    request: unknown,
    action: (actor: Actor, dto: z.output<S>) => Promise<R>,
  ): Promise<R> {
    try {
      const { userId } = await this.verifier.verify(bearerToken(metadata.get('authorization')[0]));
      const result = await action({ userId }, parsePayload(schema, request));
      this.metrics.grpcRequests.inc({ method, result: 'ok' });
      return result;
    } catch (caught) {
      const error = toAppError(caught);
      this.metrics.grpcRequests.inc({ method, result: error.code });
      if (isServerFault(error)) this.logger.error(`${method} failed with ${error.code}: ${describeCause(caught)}`);
      throw new RpcException({ code: GRPC_STATUS[error.code], message: error.message });
    }
  }
}
