import type { LockDriver, LockerOptions } from '@baton-lock/core'
import { isLockError, Locker } from '@baton-lock/core'
import { defaultUrl } from '../connect.js'
import { createDriver } from '../create-driver.js'
import type { LockUrl } from '../lock-url.js'
import { parseLockUrl } from '../lock-url.js'
import { guardSecrets } from './output.js'
import { UsageError } from './usage-error.js'

/** `--url`, else `BATON_URL`, else the embedded default; parsed, its secrets guarded. */
export function resolveUrl(flag: string | boolean | undefined): LockUrl {
  const text = typeof flag === 'string' ? flag : defaultUrl()
  try {
    const url = parseLockUrl(text)
    guardSecrets(url)
    return url
  } catch (err) {
    throw err instanceof TypeError ? new UsageError(err.message) : err
  }
}

/** The driver a URL names; a missing or unreleased driver package is a usage error (exit 2). */
export async function openDriver(url: LockUrl): Promise<LockDriver> {
  try {
    return await createDriver(url)
  } catch (err) {
    if (isLockError(err, 'LOCK_UNSUPPORTED') || err instanceof TypeError) {
      throw new UsageError(err.message)
    }
    throw err
  }
}

/** A Locker on the URL's backend. */
export async function openLocker(url: LockUrl, options: LockerOptions = {}): Promise<Locker> {
  return new Locker(await openDriver(url), options)
}

/** Checks a lock name as the CLI takes it: 1 to 1024 UTF-8 bytes. */
export function checkLockName(name: string | undefined): string {
  if (name === undefined || name === '') throw new UsageError('lock NAME must not be empty')
  const bytes = Buffer.byteLength(name, 'utf8')
  if (bytes > 1024) throw new UsageError(`lock NAME is ${bytes} UTF-8 bytes; at most 1024`)
  return name
}
