export type { SqliteDriverOptions } from './sqlite-driver.js'
export { SqliteDriver } from './sqlite-driver.js'
