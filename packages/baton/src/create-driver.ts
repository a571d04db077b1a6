import type { LockDriver } from '@baton-lock/core'
import { LockError, LockUnsupportedError } from '@baton-lock/core'
import type { DriverFromUrl } from '@baton-lock/core/driver'
import type { LockScheme, LockUrl } from './lock-url.js'
import { parseLockUrl, scrub } from './lock-url.js'

/** Where each scheme's driver lives, and the class it exports. */
const PACKAGES: Record<LockScheme, { readonly pkg: string; readonly exportName: string }> = {
  memory: { pkg: '@baton-lock/core', exportName: 'MemoryDriver' },
  sqlite: { pkg: '@baton-lock/sqlite', exportName: 'SqliteDriver' },
  redis: { pkg: '@baton-lock/redis', exportName: 'RedisDriver' },
  postgres: { pkg: '@baton-lock/postgres', exportName: 'PostgresDriver' },
  mysql: { pkg: '@baton-lock/mysql', exportName: 'MysqlDriver' },
  etcd: { pkg: '@baton-lock/etcd', exportName: 'EtcdDriver' },
  zk: { pkg: '@baton-lock/zookeeper', exportName: 'ZookeeperDriver' },
}

/** A driver class: built from the URL by its static `fromUrl` where it has one, else from options. */
type DriverClass = (new (options: Record<string, unknown>) => LockDriver) & Partial<DriverFromUrl>

/**
 * Builds the driver a lock URL names, importing its package only now, so that an
 * application installs just the driver it uses. Throws a TypeError for a malformed URL
 * and a `LOCK_UNSUPPORTED` LockError naming the package to install when it is missing.
 */
export async function createDriver(url: string | LockUrl): Promise<LockDriver> {
  const lockUrl = typeof url === 'string' ? parseLockUrl(url) : url
  const { pkg, exportName } = PACKAGES[lockUrl.scheme]
  const Driver = await loadDriverClass(pkg, exportName, lockUrl)
  if (typeof Driver.fromUrl === 'function') return Driver.fromUrl(lockUrl.url)
  switch (lockUrl.scheme) {
    case 'memory':
      return new Driver({})
    case 'sqlite':
      return new Driver({ path: lockUrl.path })
    default:
      return new Driver({ url: lockUrl.url })
  }
}

async function loadDriverClass(
  pkg: string,
  exportName: string,
  lockUrl: LockUrl,
): Promise<DriverClass> {
  let mod: Record<string, unknown>
  try {
    // A variable specifier keeps optional peers optional for bundlers and the type checker.
    const specifier: string = pkg
    mod = (await import(specifier)) as Record<string, unknown>
  } catch (err) {
    if (isMissing(err, pkg)) {
      throw unsupported(`${lockUrl.display} needs the ${pkg} package: npm install ${pkg}`)
    }
    throw new LockError('LOCK_BACKEND', scrub(`could not load ${pkg}: ${message(err)}`, lockUrl), {
      cause: err,
    })
  }
  const Driver = mod[exportName]
  if (typeof Driver !== 'function') {
    throw unsupported(`${pkg} does not export ${exportName}; install a matching version of ${pkg}`)
  }
  return Driver as DriverClass
}

function isMissing(err: unknown, pkg: string): boolean {
  const code = (err as { code?: unknown } | null)?.code
  return (
    (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') &&
    message(err).includes(`'${pkg}'`)
  )
}

function unsupported(text: string): LockUnsupportedError {
  return new LockUnsupportedError('baton', 'this URL', text)
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
