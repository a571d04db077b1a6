export { SQLITE_CAPABILITIES } from './sqlite-capabilities.js'
export { SqliteDriver } from './sqlite-driver.js'
export type { SqliteDriverOptions } from './sqlite-options.js'
export { DEFAULT_SQLITE_PATH, sqlitePathOf } from './sqlite-options.js'
