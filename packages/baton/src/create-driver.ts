import type { LockDriver } from '@baton-lock/core'
import { LockBackendError, LockUnsupportedError } from '@baton-lock/core'
import type { DriverFromUrl } from '@baton-lock/core/driver'
import { DRIVER_TABLE, type DriverEntry } from './driver-table.js'
import type { LockUrl } from './lock-url.js'
import { parseLockUrl, scrub } from './lock-url.js'

/**
 * Builds the driver a lock URL names, importing its package only now, so that an
 * application installs just the driver it uses. Throws a TypeError for a malformed URL
 * and a `LOCK_UNSUPPORTED` LockError naming the package to install when it is missing.
 */
export async function createDriver(url: string | LockUrl): Promise<LockDriver> {
  const lockUrl = typeof url === 'string' ? parseLockUrl(url) : url
  const entry: DriverEntry = DRIVER_TABLE[lockUrl.scheme]
  const Driver = await loadDriverClass(entry, lockUrl)
  return Driver.fromUrl(lockUrl.url)
}

async function loadDriverClass(entry: DriverEntry, lockUrl: LockUrl): Promise<DriverFromUrl> {
  const { pkg, exportName } = entry
  let mod: Record<string, unknown>
  try {
    // A variable specifier keeps optional peers optional for bundlers and the type checker.
    const specifier: string = pkg
    mod = (await import(specifier)) as Record<string, unknown>
  } catch (err) {
    if (isMissing(err, pkg)) {
      throw unsupported(lockUrl, `${lockUrl.display} needs the ${pkg} package: npm install ${pkg}`)
    }
    throw new LockBackendError(
      lockUrl.scheme,
      scrub(`could not load ${pkg}: ${message(err)}`, lockUrl),
      {
        cause: err,
      },
    )
  }
  const Driver = mod[exportName] as Partial<DriverFromUrl> | undefined
  if (typeof Driver?.fromUrl !== 'function') {
    throw unsupported(
      lockUrl,
      `${pkg} does not export ${exportName} with a static fromUrl; install a matching version of ${pkg}`,
    )
  }
  return Driver as DriverFromUrl
}

function isMissing(err: unknown, pkg: string): boolean {
  const code = (err as { code?: unknown } | null)?.code
  return (
    (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') &&
    message(err).includes(`'${pkg}'`)
  )
}

function unsupported(lockUrl: LockUrl, text: string): LockUnsupportedError {
  return new LockUnsupportedError(lockUrl.scheme, 'this URL', text)
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
