import type { TextMapGetter } from '@opentelemetry/api';
import type { Metadata } from '@grpc/grpc-js';
import { Injectable, Logger } from '@nestjs/common';
import { RpcException } from '@nestjs/microservices';
import { bearerToken, JwtVerifier } from '../auth/jwt-verifier.js';
import type { Actor } from '../contract/actor.js';
import type { AppError } from '../contract/app-error.js';
import type { ErrorCode } from '@platform/messaging-client/contract';
import { Lifecycle } from '../infrastructure/lifecycle/lifecycle.js';
import { newRequestId, type LogContext } from '../infrastructure/observability/log-context.js';
import { Metrics } from '../infrastructure/observability/metrics.js';
import { metadataGetter } from '../infrastructure/observability/tracing.js';
import { CallPipeline, type Operation, type Operations, type OperationSpec, type TransportBinding } from '../transport/call-pipeline.js';
import { GRPC_STATUS } from './grpc-status.js';

/**
 * The gRPC transport's side of the call pipeline: the bearer token from metadata identifies the
 * caller (before the payload is looked at, CONTRACT §2), and every failure leaves as a status code
 * from GRPC_STATUS.
 */
@Injectable()
export class GrpcCall {
  private readonly pipeline: CallPipeline<Metadata, unknown, Metadata>;

  constructor(verifier: JwtVerifier, metrics: Metrics, lifecycle: Lifecycle) {
    this.pipeline = new CallPipeline(new GrpcBinding(verifier, metrics), lifecycle, new Logger('GrpcCall'));
  }

  /** Prepares the methods of a service, each under its gRPC method name, once at start-up. */
  methods<T extends Record<string, OperationSpec<unknown>>>(specs: T): Operations<T> {
    return this.pipeline.operations(specs);
  }

  run<R>(method: Operation<R>, metadata: Metadata, request: unknown): Promise<R> {
    // The binding answers with the service's result as it is, and throws every refusal.
    return this.pipeline.call(method, metadata, request) as Promise<R>;
  }
}

class GrpcBinding implements TransportBinding<Metadata, unknown, Metadata> {
  // Under the gRPC instrumentation's server span when it is on; the caller's traceparent otherwise.
  readonly traceGetter: TextMapGetter<Metadata> = metadataGetter;

  constructor(
    private readonly verifier: JwtVerifier,
    private readonly metrics: Metrics,
  ) {}

  span(method: string): { span: string; attributes: Record<string, string> } {
    return { span: `grpc ${method}`, attributes: { 'rpc.system': 'grpc', 'rpc.service': 'messaging.v1.MessagingService', 'rpc.method': method } };
  }
  logContext(method: string): LogContext {
    return { requestId: newRequestId(), event: method };
  }
  traceCarrier(metadata: Metadata): Metadata {
    return metadata;
  }
  async identify(metadata: Metadata): Promise<Actor> {
    const { userId } = await this.verifier.verify(bearerToken(metadata.get('authorization')[0]));
    return { userId };
  }
  count(method: string, result: 'ok' | ErrorCode): void {
    this.metrics.grpcRequests.inc({ method, result });
  }
  answer(data: unknown): unknown {
    return data;
  }
  refuse(error: AppError): never {
    throw new RpcException({ code: GRPC_STATUS[error.code], message: error.message });
  }
}
