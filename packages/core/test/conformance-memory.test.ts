import { MemoryDriver } from '@baton-lock/core'
import { runConformance } from '@baton-lock/core/conformance'
import { MemoryStore } from '@baton-lock/core/driver'

// The whole file a driver author writes (DESIGN section 5). Drivers sharing one store
// contend like separate connections to one server.
const store = new MemoryStore()

runConformance({
  name: 'memory',
  createDriver: () => new MemoryDriver({ store }),
  faults: {
    dropLock: async (lock) => {
      store.drop(lock.key, { owner: lock.owner })
    },
  },
})
