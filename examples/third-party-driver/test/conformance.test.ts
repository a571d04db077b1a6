import { runConformance } from '@baton-lock/core/conformance'
import { LeaseTable, LeaseTableDriver } from '../src/index.js'

// One lease service; every driver is a separate client of it, as separate processes are.
const table = new LeaseTable()

runConformance({
  name: 'lease-table',
  createDriver: () => new LeaseTableDriver({ table }),
  faults: {
    // As an operator deleting the row would; the holder finds out at its next renewal.
    dropLock: async (lock) => {
      table.drop(lock.key, lock.owner)
    },
  },
})
