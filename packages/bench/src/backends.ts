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
import { mysqlFloor, mysqlServerWait } from './contenders/mysql-floor.js'
import { postgresFloor, postgresServerWait } from './contenders/postgres-floor.js'
import { advisoryLockPeer } from './contenders/postgres-peers.js'
import { redisFloor } from './contenders/redis-floor.js'
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
import { postgresProbe, redisProbe } from './probes/round-trip-probe.js'
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
    createDriver: redisDriver,
    peers: [redlockPeer, redisSemaphorePeer],
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
    crossProcess: true,
  },
  {
    name: 'mysql',
    start: startMysqlBackend,
    floor: mysqlFloor,
    createDriver: mysqlDriver,
    peers: [],
    handoffFloors: [mysqlServerWait],
    crossProcess: true,
  },
  {
    name: 'zookeeper',
    start: startZookeeperBackend,
    floor: zookeeperFloor,
    createDriver: zookeeperDriver,
    peers: [],
    handoffFloors: [zookeeperRawWatch],
    crossProcess: true,
  },
  {
    name: 'sqlite',
    start: startSqliteBackend,
    floor: sqliteFloor,
    createDriver: sqliteDriver,
    peers: [],
    crossProcess: true,
  },
  {
    name: 'memory',
    start: startMemoryBackend,
    floor: memoryFloor,
    createDriver: memoryDriver,
    peers: [],
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

/** Contenders of the uncontended scenario: floor first, then Baton, then peers. */
export function uncontendedContenders(spec: BackendSpec): ContenderSpec[] {
  return [spec.floor, batonOf(spec), batonTryOf(spec), ...spec.peers]
}

/** Contenders of the handoff scenario (multi-process); empty for in-process backends. */
export function handoffContenders(spec: BackendSpec): ContenderSpec[] {
  if (!spec.crossProcess) return []
  return [...(spec.handoffFloors ?? []), batonOf(spec), ...spec.peers.filter((p) => p.waits)]
}

/** Finds a contender of a backend by its table name (worker processes receive names, not code). */
export function contenderNamed(backend: string, name: string): ContenderSpec {
  const spec = backendNamed(backend)
  const all = [...uncontendedContenders(spec), ...handoffContenders(spec)]
  const found = all.find((c) => c.name === name)
  if (found === undefined)
    throw new RangeError(`backend ${backend} has no contender ${JSON.stringify(name)}`)
  return found
}
