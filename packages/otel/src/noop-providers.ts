import {
  createNoopMeter,
  type Meter,
  ProxyTracerProvider,
  type TracerProvider,
} from '@opentelemetry/api'

/** No-op tracer provider instance of this API copy: what a fresh proxy delegates to. */
const NOOP_TRACER_PROVIDER = new ProxyTracerProvider().getDelegate()
const NoopMeter = createNoopMeter().constructor

/** The global proxy with no SDK behind it, or the no-op provider itself. */
export function isNoopTracing(provider: TracerProvider): boolean {
  if (provider === NOOP_TRACER_PROVIDER) return true
  return provider instanceof ProxyTracerProvider && provider.getDelegate() === NOOP_TRACER_PROVIDER
}

/** A meter of the API's no-op provider. */
export function isNoopMeter(meter: Meter): boolean {
  return meter instanceof NoopMeter
}
