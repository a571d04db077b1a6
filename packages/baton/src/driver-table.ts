/** How a lock URL of a scheme is taken apart (see `parseLockUrl`). */
export type UrlShape = 'memory' | 'path' | 'server' | 'host-list'

/** One backend `connect(url)` can open: its URL prefixes, its package and the driver class it exports. */
export interface DriverEntry {
  /** URL schemes, with the colon, lowercase: `redis:`, `rediss:`. */
  readonly prefixes: readonly string[]
  /** How its URLs are parsed and redacted. */
  readonly shape: UrlShape
  /** The npm package to import (on first use) and to name in "npm install" hints. */
  readonly pkg: string
  /** The exported driver class; it has a static `fromUrl(url)` (`DriverFromUrl`). */
  readonly exportName: string
}

/**
 * Every backend a lock URL can name, in one place: adding a driver to `connect(url)` is
 * one entry here, and its class's static `fromUrl`.
 */
export const DRIVER_TABLE = {
  memory: {
    prefixes: ['memory:'],
    shape: 'memory',
    pkg: '@baton-lock/core',
    exportName: 'MemoryDriver',
  },
  sqlite: {
    prefixes: ['sqlite:'],
    shape: 'path',
    pkg: '@baton-lock/sqlite',
    exportName: 'SqliteDriver',
  },
  redis: {
    prefixes: ['redis:', 'rediss:'],
    shape: 'server',
    pkg: '@baton-lock/redis',
    exportName: 'RedisDriver',
  },
  'redis-cluster': {
    prefixes: ['redis+cluster:', 'rediss+cluster:'],
    shape: 'host-list',
    pkg: '@baton-lock/redis',
    exportName: 'RedisDriver',
  },
  'redis-sentinel': {
    prefixes: ['redis+sentinel:', 'rediss+sentinel:'],
    shape: 'host-list',
    pkg: '@baton-lock/redis',
    exportName: 'RedisDriver',
  },
  redlock: {
    prefixes: ['redlock:', 'rediss+redlock:'],
    shape: 'host-list',
    pkg: '@baton-lock/redis',
    exportName: 'RedlockDriver',
  },
  postgres: {
    prefixes: ['postgres:', 'postgresql:'],
    shape: 'server',
    pkg: '@baton-lock/postgres',
    exportName: 'PostgresDriver',
  },
  mysql: {
    prefixes: ['mysql:', 'mariadb:'],
    shape: 'server',
    pkg: '@baton-lock/mysql',
    exportName: 'MysqlDriver',
  },
  etcd: {
    prefixes: ['etcd:', 'etcds:'],
    shape: 'host-list',
    pkg: '@baton-lock/etcd',
    exportName: 'EtcdDriver',
  },
  zk: {
    prefixes: ['zk:'],
    shape: 'host-list',
    pkg: '@baton-lock/zookeeper',
    exportName: 'ZookeeperDriver',
  },
} as const satisfies Record<string, DriverEntry>

/** Backends a lock URL can name. */
export type LockScheme = keyof typeof DRIVER_TABLE

/** The scheme a URL prefix (`rediss:`, any case) belongs to, or undefined. */
export function schemeOfPrefix(prefix: string): LockScheme | undefined {
  const wanted = prefix.toLowerCase()
  for (const [scheme, entry] of Object.entries(DRIVER_TABLE) as Array<[LockScheme, DriverEntry]>) {
    if (entry.prefixes.includes(wanted)) return scheme
  }
  return undefined
}
