export type { InsertResult, LeaseRow } from './lease-table.js'
export { LeaseTable } from './lease-table.js'
export type { LeaseTableDriverOptions } from './lease-table-driver.js'
export { LeaseTableDriver } from './lease-table-driver.js'
