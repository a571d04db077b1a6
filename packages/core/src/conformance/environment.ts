import { randomBytes } from 'node:crypto'
import { describeError } from './conformance-failure.js'
import type { ConformanceOptions, KitEnvironment } from './options.js'
import { kitTiming } from './timing.js'
import { withTimeout } from './wait-for.js'

/** Checks the options a user passes; a mistake here is a TypeError naming the field. */
export function checkOptions(options: ConformanceOptions): void {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError('runConformance needs an options object { name, createDriver, faults? }')
  }
  if (typeof options.name !== 'string' || options.name === '') {
    throw new TypeError(`options.name must be a non-empty string, got ${String(options.name)}`)
  }
  if (typeof options.createDriver !== 'function') {
    throw new TypeError('options.createDriver must be a function returning a fresh LockDriver')
  }
  const prefix = options.namespacePrefix
  if (
    prefix !== undefined &&
    (typeof prefix !== 'string' || !/^[A-Za-z0-9_.-]{1,64}$/.test(prefix))
  ) {
    throw new TypeError(
      `options.namespacePrefix must be 1-64 letters, digits, '_', '.' or '-', got ${String(prefix)}`,
    )
  }
  const dropLock = options.faults?.dropLock
  if (dropLock !== undefined && typeof dropLock !== 'function') {
    throw new TypeError('options.faults.dropLock must be a function when given')
  }
}

/**
 * Creates one probe driver to read its name and capabilities, closes it, and fixes the
 * run's namespace (`kit-<8 hex>`) and timing.
 */
export async function prepareEnvironment(options: ConformanceOptions): Promise<KitEnvironment> {
  checkOptions(options)
  let probe: Awaited<ReturnType<ConformanceOptions['createDriver']>>
  try {
    probe = await options.createDriver()
  } catch (err) {
    throw new Error(`createDriver() failed while probing capabilities: ${describeError(err)}`, {
      cause: err,
    })
  }
  const capabilities = probe.capabilities
  const driverName = probe.name
  const driverHasRenewMany = typeof probe.renewMany === 'function'
  await withTimeout(() => probe.close(), 30_000, 'close() of the probe driver')
  if (typeof capabilities !== 'object' || capabilities === null) {
    throw new TypeError(
      `driver "${driverName}" has no capabilities object (use defineCapabilities())`,
    )
  }
  let keyId = 0
  return Object.freeze({
    options,
    capabilities,
    driverName,
    driverHasRenewMany,
    namespace: `${options.namespacePrefix ?? 'kit'}-${randomBytes(4).toString('hex')}`,
    timing: kitTiming(capabilities),
    nextKeyId: () => ++keyId,
  })
}
