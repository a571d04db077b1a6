import type { BackendSpec } from './backend-spec.js'
import { batonContender } from './contenders/baton-contender.js'
import {
  memoryDriver,
  postgresDriver,
  redisDriver,
  sqliteDriver,
} from './contenders/baton-drivers.js'
import {
  etcd3LockPeer,
  etcdDriver,
  etcdFloor,
  etcdWatchRecipe,
  startEtcdBackend,
} from './contenders/etcd-contenders.js'
import { memoryFloor } from './contenders/memory-floor.js'
import { mysqlFloor, mysqlServerWait, mysqlUnfenced } from './contenders/mysql-floor.js'
import { postgresFloor, postgresServerWait } from './contenders/postgres-floor.js'
import { advisoryLockPeer } from './contenders/postgres-peers.js'
import { redisFloor, redisUnfenced } from './contenders/redis-floor.js'
import { redisSemaphorePeer, redlockPeer } from './contenders/redis-peers.js'
import { redlockBackend } from './contenders/redlock-peers.js'
import { sqliteFloor } from './contenders/sqlite-floor.js'
import {
  startZookeeperBackend,
  zookeeperDriver,
  zookeeperFloor,
  zookeeperRawWatch,
} from './contenders/zookeeper-contenders.js'
import type { ContenderSpec } from './lock-client.js'
import { mysqlDriver, startMysqlBackend } from './mysql-backend.js'
import { mysqlProbe, postgresProbe, redisProbe, zookeeperProbe } from './probes/round-trip-probe.js'
import { SHARED_WORKER, semaphoreWorker } from './scenarios/modes.js'
import {
  startMemoryBackend,
  startPostgresBackend,
  startRedisBackend,
  startSqliteBackend,
} from './servers.js'

/**
 * Every backend the benchmark knows, in table order. A new driver adds one entry: how to
 * start its server, the hand-written floor, Baton's driver factory and the peers.
 */
export const BACKENDS: readonly BackendSpec[] = [
  {
    name: 'redis',
    start: startRedisBackend,
    floor: redisFloor,
    references: [redisUnfenced],
    createDriver: redisDriver,
    peers: [redlockPeer, redisSemaphorePeer],
    keysFloor: 'shared',
    handoffReference: 'postgres',
    crossProcess: true,
    probe: redisProbe,
  },
  redlockBackend,
  {
    name: 'postgres',
    start: startPostgresBackend,
    floor: postgresFloor,
    createDriver: postgresDriver,
    peers: [advisoryLockPeer],
    handoffFloors: [postgresServerWait],
    keysFloor: 'per-key',
    handoffReference: 'own',
    crossProcess: true,
    probe: postgresProbe,
  },
  {
    name: 'etcd',
    start: startEtcdBackend,
    floor: etcdFloor,
    createDriver: etcdDriver,
    peers: [etcd3LockPeer],
    handoffFloors: [etcdWatchRecipe],
    // One gRPC channel multiplexes every request; etcd has no per-session statement queue.
    keysFloor: 'shared',
    handoffReference: 'own',
    crossProcess: true,
  },
  {
    name: 'mysql',
    start: startMysqlBackend,
    floor: mysqlFloor,
    references: [mysqlUnfenced],
    createDriver: mysqlDriver,
    peers: [],
    handoffFloors: [mysqlServerWait],
    keysFloor: 'per-key',
    handoffReference: 'postgres',
    crossProcess: true,
    probe: mysqlProbe,
  },
  {
    name: 'zookeeper',
    start: startZookeeperBackend,
    floor: zookeeperFloor,
    createDriver: zookeeperDriver,
    peers: [],
    handoffFloors: [zookeeperRawWatch],
    // One session pipelines requests (replies come in order).
    keysFloor: 'shared',
    handoffReference: 'own',
    crossProcess: true,
    probe: zookeeperProbe,
  },
  {
    name: 'sqlite',
    start: startSqliteBackend,
    floor: sqliteFloor,
    createDriver: sqliteDriver,
    peers: [],
    // One synchronous connection: a second one would only add lock contention on the file.
    keysFloor: 'shared',
    handoffReference: 'postgres',
    crossProcess: true,
  },
  {
    name: 'memory',
    start: startMemoryBackend,
    floor: memoryFloor,
    createDriver: memoryDriver,
    peers: [],
    keysFloor: 'shared',
    handoffReference: 'own',
    crossProcess: false,
  },
]

/** The backend called `name`; throws with the known names otherwise. */
export function backendNamed(name: string): BackendSpec {
  const spec = BACKENDS.find((b) => b.name === name)
  if (spec === undefined) {
    throw new RangeError(
      `unknown backend ${JSON.stringify(name)}; known: ${BACKENDS.map((b) => b.name).join(', ')}`,
    )
  }
  return spec
}

/** Baton's contender for a backend: `Locker.acquire` with a wait. */
export function batonOf(spec: BackendSpec): ContenderSpec {
  return batonContender(spec.createDriver)
}

/** Baton asked for one attempt (`Locker.tryAcquire`), to separate the cost of preparing a wait. */
function batonTryOf(spec: BackendSpec): ContenderSpec {
  return { ...batonContender(spec.createDriver, 'Baton: Locker.tryAcquire'), waits: false }
}

/** Contenders of the uncontended scenario: floor first, then references, Baton, peers. */
export function uncontendedContenders(spec: BackendSpec): ContenderSpec[] {
  return [spec.floor, ...(spec.references ?? []), batonOf(spec), batonTryOf(spec), ...spec.peers]
}

/**
 * Contenders of the handoff scenario (multi-process); empty for in-process backends. A
 * backend judged against another backend's floor (`handoffReference`) shows its own
 * handoff floors as references, so that each ratio group has one floor.
 */
export function handoffContenders(spec: BackendSpec): ContenderSpec[] {
  if (!spec.crossProcess) return []
  const own = (spec.handoffReference ?? 'own') === 'own'
  const floors = (spec.handoffFloors ?? []).map((f) =>
    own || f.role !== 'floor' ? f : { ...f, role: 'reference' as const },
  )
  return [...floors, batonOf(spec), ...spec.peers.filter((p) => p.waits)]
}

/**
 * The ratio group of a backend's handoff at `n` processes: the reference backend's floor is
 * its 1.0x. That floor is run in the backend's own passes when the reference backend is
 * running too (`paired`: the group is the backend's own); otherwise the group is the
 * reference backend's, whose floor was measured in its own turn of the run.
 */
export function handoffGroup(spec: BackendSpec, n: number, paired = false): string {
  const reference =
    paired || (spec.handoffReference ?? 'own') === 'own'
      ? spec.name
      : (spec.handoffReference as string)
  return `handoff/${n}/${reference}`
}

/**
 * The floor of `spec`'s handoff reference backend, to run in `spec`'s own passes; undefined
 * for a backend that is its own reference or when the reference backend is not running.
 */
export function pairedFloorOf<T>(
  spec: BackendSpec,
  running: readonly { readonly spec: BackendSpec; readonly target: T }[],
): { readonly backend: string; readonly target: T; readonly floor: ContenderSpec } | undefined {
  const reference = spec.handoffReference ?? 'own'
  if (reference === 'own' || reference === spec.name) return undefined
  const other = running.find((r) => r.spec.name === reference)
  const floor = other?.spec.handoffFloors?.find((f) => f.role === 'floor')
  if (other === undefined || floor === undefined) return undefined
  return { backend: reference, target: other.target, floor }
}

/**
 * Baton's contenders of the shared-lock and semaphore scenarios, by worker name:
 * `Baton: shared lock`, `Baton: semaphore, limit N`; undefined for any other name.
 */
function modeContender(spec: BackendSpec, name: string): ContenderSpec | undefined {
  if (name === SHARED_WORKER) return batonContender(spec.createDriver, name, { mode: 'shared' })
  const limit = /^Baton: semaphore, limit (\d+)$/.exec(name)?.[1]
  if (limit === undefined || semaphoreWorker(Number(limit)) !== name) return undefined
  return batonContender(spec.createDriver, name, { mode: 'semaphore', limit: Number(limit) })
}

/** Finds a contender of a backend by its table name (worker processes receive names, not code). */
export function contenderNamed(backend: string, name: string): ContenderSpec {
  const spec = backendNamed(backend)
  const all = [...uncontendedContenders(spec), ...handoffContenders(spec)]
  const found = all.find((c) => c.name === name) ?? modeContender(spec, name)
  if (found === undefined)
    throw new RangeError(`backend ${backend} has no contender ${JSON.stringify(name)}`)
  return found
}
