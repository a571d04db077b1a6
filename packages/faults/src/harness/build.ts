import { ensureBuilt } from '@baton-lock/test-matrix'

/** Client processes run plain Node on the built packages: build what they load, if stale. */
export function buildForClients(): void {
  ensureBuilt([
    'packages/core',
    'packages/sqlite',
    'packages/redis',
    'packages/postgres',
    'packages/mysql',
    'packages/etcd',
    'packages/zookeeper',
    'packages/baton',
    'packages/faults',
  ])
}
