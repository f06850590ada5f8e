import { createRequire } from 'node:module';
import type { Metadata } from '@grpc/grpc-js';
import { context, INVALID_SPAN_CONTEXT, propagation, SpanKind, SpanStatusCode, trace, type Span, type TextMapGetter, type TextMapSetter, type Tracer } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { GrpcInstrumentation } from '@opentelemetry/instrumentation-grpc';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { defaultResource, detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { PrismaInstrumentation } from '@prisma/instrumentation';

/**
 * The CommonJS modules the instrumentations patch. The service is ESM and has imported them before
 * tracing starts; the instrumentations hook `require`, so each is required once here, which makes
 * them patch the prototypes every importer shares (pg's Client, ioredis' Redis, grpc-js' Server and
 * Client, http's Server).
 */
const INSTRUMENTED_MODULES = ['pg', 'pg-pool', 'ioredis', '@grpc/grpc-js', 'http', 'https'];
/**
 * The service's tracer while startTracing has tracing on; off, `traced` is a plain call (no span,
 * no context switch). Taken from the provider itself: a tracer of the global API, taken once, would
 * stay bound to the first provider after a stop and a new start in the same process (the tests do
 * that), recording nothing.
 */
let tracer: Tracer | undefined;

/**
 * Turns tracing on when the standard OTEL_* variables ask for it (an OTLP endpoint, or
 * OTEL_TRACES_EXPORTER=otlp); off otherwise, when every span below is a no-op. The resource comes
 * from OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES (the SDK's env detector) over our defaults.
 * The SDK's own instrumentations add spans for HTTP (the Socket.IO handshake, health, metrics),
 * gRPC (server calls with the caller's traceparent, and the Connections call, which carries ours),
 * pg, ioredis and Prisma.
 */
export function startTracing(env: NodeJS.ProcessEnv, processors?: SpanProcessor[]): (() => Promise<void>) | undefined {
  const wanted =
    processors !== undefined ||
    env.OTEL_TRACES_EXPORTER === 'otlp' ||
    Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
  if (!wanted || env.OTEL_SDK_DISABLED === 'true') return undefined;
  const provider = new NodeTracerProvider({
    resource: defaultResource()
      .merge(resourceFromAttributes({ 'service.name': 'platform-service-messaging' }))
      .merge(detectResources({ detectors: [envDetector] })),
    spanProcessors: processors ?? [new BatchSpanProcessor(new OTLPTraceExporter())],
  });
  provider.register();
  tracer = provider.getTracer('platform-service-messaging');
  const unregister = registerInstrumentations({
    tracerProvider: provider,
    instrumentations: [
      new PrismaInstrumentation(),
      new PgInstrumentation({ requireParentSpan: true }),
      new IORedisInstrumentation({ requireParentSpan: true }),
      new GrpcInstrumentation(),
      // Probes and scrapes arrive every few seconds from every poller: traces of nothing.
      new HttpInstrumentation({ ignoreIncomingRequestHook: (request) => /^\/(health|metrics)(\/|\?|$)/.test(request.url ?? '') }),
    ],
  });
  const require = createRequire(import.meta.url);
  for (const name of INSTRUMENTED_MODULES) require(name);
  return async () => {
    unregister();
    await provider.shutdown();
    trace.disable();
    propagation.disable();
    tracer = undefined;
  };
}

/** Where a span's remote parent comes from when nothing is active yet: W3C `traceparent` in headers or metadata. */
export interface RemoteParent<C> {
  /** Built only when tracing is on. */
  carrier: () => C;
  getter: TextMapGetter<C>;
}

/**
 * Runs `work` in an active span, recording failures; a plain call when tracing is off. With `remote`, a
 * span that has no local parent (no instrumentation's span is active) continues the caller's trace.
 */
export function traced<T, C = unknown>(
  name: string,
  attributes: Record<string, string>,
  work: (span: Span) => Promise<T>,
  options: { kind?: SpanKind; remote?: RemoteParent<C> } = {},
): Promise<T> {
  if (!tracer) return work(NOT_RECORDING);
  const active = context.active();
  const parent = options.remote && !trace.getSpan(active) ? propagation.extract(active, options.remote.carrier(), options.remote.getter) : active;
  return tracer.startActiveSpan(name, { attributes, kind: options.kind ?? SpanKind.INTERNAL }, parent, async (span) => {
    try {
      return await work(span);
    } catch (error) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: (error as { code?: string }).code ?? 'error' });
      throw error;
    } finally {
      span.end();
    }
  });
}

/** Reads `traceparent` / `tracestate` from HTTP headers (a Socket.IO handshake's) or from the handshake's `auth`. */
export const headerGetter: TextMapGetter<Record<string, unknown>> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => {
    const value = carrier[key];
    return typeof value === 'string' || Array.isArray(value) ? (value as string | string[]) : undefined;
  },
};

/** Reads and writes W3C trace context in gRPC metadata (incoming calls, the Connections call). */
export const metadataGetter: TextMapGetter<Metadata> = {
  keys: (metadata) => Object.keys(metadata.getMap()),
  get: (metadata, key) => {
    const values = metadata.get(key).map(String);
    return values.length > 0 ? values : undefined;
  },
};
export const metadataSetter: TextMapSetter<Metadata> = { set: (metadata, key, value) => metadata.set(key, value) };

const NOT_RECORDING = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);
