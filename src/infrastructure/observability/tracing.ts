import { INVALID_SPAN_CONTEXT, SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { PrismaInstrumentation } from '@prisma/instrumentation';

const tracer = trace.getTracer('platform-service-messaging');
/** Whether startTracing turned tracing on; off, `traced` costs nothing (no span, no context switch). */
let tracing = false;

/**
 * Turns tracing on when the standard OTEL_* variables ask for it (an OTLP endpoint, or
 * OTEL_TRACES_EXPORTER=otlp); off otherwise, when every span below is a no-op. Prisma's
 * instrumentation adds the database spans under ours.
 */
export function startTracing(env: NodeJS.ProcessEnv, processors?: SpanProcessor[]): (() => Promise<void>) | undefined {
  const wanted =
    processors !== undefined ||
    env.OTEL_TRACES_EXPORTER === 'otlp' ||
    Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
  if (!wanted || env.OTEL_SDK_DISABLED === 'true') return undefined;
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': env.OTEL_SERVICE_NAME ?? 'platform-service-messaging' }),
    spanProcessors: processors ?? [new BatchSpanProcessor(new OTLPTraceExporter())],
  });
  provider.register();
  tracing = true;
  const unregister = registerInstrumentations({ tracerProvider: provider, instrumentations: [new PrismaInstrumentation()] });
  return async () => {
    unregister();
    await provider.shutdown();
    trace.disable();
    tracing = false;
  };
}

/** Runs `work` in an active span, recording failures; a plain call when tracing is off. */
export function traced<T>(name: string, attributes: Record<string, string>, work: (span: Span) => Promise<T>): Promise<T> {
  if (!tracing) return work(NOT_RECORDING);
  return tracer.startActiveSpan(name, { attributes }, async (span) => {
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

const NOT_RECORDING = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);
