import type { LeaseTable } from './lease-table.js'

/** Options of a `LeaseTableDriver`. */
export interface LeaseTableDriverOptions {
  /** The lease service to talk to; several drivers sharing it exclude each other. */
  readonly table: LeaseTable
  /** Longest pause between two polls of a held key, in ms. Default 50. */
  readonly pollMaxMs?: number
}
