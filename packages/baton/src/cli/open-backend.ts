import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import type { LockDriver, LockerOptions } from '@baton-lock/core'
import { isLockError, Locker } from '@baton-lock/core'
import { defaultUrl } from '../connect.js'
import { createDriver } from '../create-driver.js'
import type { LockUrl } from '../lock-url.js'
import { parseLockUrl } from '../lock-url.js'
import { atStage, markConnectsOnFirstUse } from './backend-stage.js'
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

/** How a command uses the backend it opens. */
export interface OpenOptions {
  /**
   * A read-only command (`status`, `ls`, `release --force`): it must not create a lock
   * database, so a `sqlite:` file that does not exist is a usage error naming the path.
   */
  readonly existing?: boolean
}

/**
 * The driver a URL names, connected (`ready()`, where the driver has it, as stage
 * "connect"). A missing or unreleased driver package is a usage error (exit 2); a backend
 * that does not answer fails naming the stage and the redacted URL.
 */
export async function openDriver(url: LockUrl, options: OpenOptions = {}): Promise<LockDriver> {
  if (options.existing === true) checkDatabaseExists(url)
  let driver: LockDriver
  try {
    driver = await createDriver(url)
  } catch (err) {
    if (isLockError(err, 'LOCK_UNSUPPORTED') || err instanceof TypeError) {
      throw new UsageError(err.message)
    }
    throw err
  }
  const ready = driver.ready?.bind(driver)
  if (ready === undefined) {
    markConnectsOnFirstUse(driver)
    return driver
  }
  try {
    await atStage(url, undefined, 'connect to {url}', ready)
  } catch (err) {
    await driver.close().catch(() => undefined)
    throw err
  }
  return driver
}

/** A Locker on the URL's backend (connected as `openDriver` does). */
export async function openLocker(url: LockUrl, options: LockerOptions = {}): Promise<Locker> {
  const driver = await openDriver(url)
  const locker = new Locker(driver, options)
  if (driver.ready === undefined) markConnectsOnFirstUse(locker)
  return locker
}

/**
 * Opening a SQLite path creates the file (and its directories): checked here, before the
 * driver sees the path, so that `baton ls` in the wrong directory says so instead of
 * creating `.baton/locks.db` and answering "no locks held".
 */
function checkDatabaseExists(url: LockUrl): void {
  if (url.scheme !== 'sqlite' || url.path === undefined || url.path === ':memory:') return
  const file = resolve(url.path)
  if (!existsSync(file)) {
    throw new UsageError(
      `no lock database at ${file} (${url.display}): nothing has locked there yet; check --url or $BATON_URL`,
    )
  }
}

/** Checks a lock name as the CLI takes it: 1 to 1024 UTF-8 bytes. */
export function checkLockName(name: string | undefined): string {
  if (name === undefined || name === '') throw new UsageError('lock NAME must not be empty')
  const bytes = Buffer.byteLength(name, 'utf8')
  if (bytes > 1024) throw new UsageError(`lock NAME is ${bytes} UTF-8 bytes; at most 1024`)
  return name
}
