export { cleanupNow } from './cleanup-registry.js'
export { dockerAvailable } from './docker-server.js'
export { IMAGES } from './docker-specs.js'
export { ensureBuilt, repoRoot } from './ensure-built.js'
export type { EtcdCluster, EtcdOptions } from './etcd.js'
export { startEtcd, startEtcdCluster } from './etcd.js'
export type { Direction, FaultControls, FaultProxy, ProxyTarget } from './fault-proxy.js'
export { ProxyConnection, startProxy } from './fault-proxy.js'
export { freePort } from './free-port.js'
export type { MariadbOptions } from './mariadb.js'
export { startMariadb } from './mariadb.js'
export type { PostgresOptions } from './postgres.js'
export { startPostgres } from './postgres.js'
export { fourLetterWord } from './probes.js'
export type {
  RedisClusterHandle,
  RedisClusterOptions,
  RedisOptions,
  RedisSentinelHandle,
  RedisSentinelOptions,
} from './redis.js'
export { startRedis, startRedisCluster, startRedisNodes, startRedisSentinel } from './redis.js'
export { harnessTmpdir } from './server-dir.js'
export type { ClusterHandle, ServerHandle } from './server-handle.js'
export { canInjectFaults, ExternalServerError } from './server-handle.js'
export { ServerStartError } from './server-start-error.js'
export { templateRoot } from './template-cache.js'
export type { ZookeeperEnsemble, ZookeeperOptions } from './zookeeper.js'
export { startZookeeper, startZookeeperEnsemble } from './zookeeper.js'
