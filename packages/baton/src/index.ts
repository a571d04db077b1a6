export { connect, defaultUrl } from './connect.js'
export { createDriver } from './create-driver.js'
export type { LockScheme, LockUrl } from './lock-url.js'
export { DEFAULT_URL, parseLockUrl } from './lock-url.js'
