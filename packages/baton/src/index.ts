// One import serves an app: connect(url) and the whole public API of @baton-lock/core
// (Locker, LockHandle, the errors and isLockError), which baton-lock depends on.
export * from '@baton-lock/core'
export { connect, defaultUrl } from './connect.js'
export { createDriver } from './create-driver.js'
export type { LockScheme, LockUrl } from './lock-url.js'
export { DEFAULT_URL, parseLockUrl } from './lock-url.js'
