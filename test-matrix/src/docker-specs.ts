import type { ContainerSpec } from './docker-server.js'
import { etcdReady, mysqlReady, postgresReady, redisReady, zookeeperReady } from './probes.js'

// Images for the Docker path; docker-compose.yml at the repository root uses the same ones.
export const IMAGES = {
  redis: 'redis:7.0',
  postgres: 'postgres:15',
  mariadb: 'mariadb:10.11',
  etcd: 'quay.io/coreos/etcd:v3.5.17',
  zookeeper: 'zookeeper:3.8',
} as const

/** Persistence, password and extra arguments of a test Redis, native or in a container. */
export function redisPersistenceArgs(options: {
  password?: string
  appendonly?: boolean
  args?: string[]
}): string[] {
  return [
    '--save',
    '',
    '--appendonly',
    options.appendonly ? 'yes' : 'no',
    ...(options.appendonly ? ['--appendfsync', 'always'] : []),
    ...(options.password === undefined ? [] : ['--requirepass', options.password]),
    ...(options.args ?? []),
  ]
}

export function redisContainer(options: {
  password?: string
  appendonly?: boolean
  args?: string[]
}): ContainerSpec {
  const auth = options.password === undefined ? '' : `:${encodeURIComponent(options.password)}@`
  return {
    name: 'redis',
    image: IMAGES.redis,
    containerPort: 6379,
    command: ['redis-server', ...redisPersistenceArgs(options)],
    probe: (host, port) => redisReady(host, port, options.password),
    url: (host, port) => `redis://${auth}${host}:${port}`,
    startTimeoutMs: 30_000,
  }
}

export function postgresContainer(options: { password?: string }): ContainerSpec {
  const auth = options.password === undefined ? '' : `:${encodeURIComponent(options.password)}`
  return {
    name: 'postgres',
    image: IMAGES.postgres,
    containerPort: 5432,
    env:
      options.password === undefined
        ? { POSTGRES_HOST_AUTH_METHOD: 'trust' }
        : { POSTGRES_PASSWORD: options.password },
    command: ['postgres', '-c', 'fsync=off', '-c', 'max_connections=300'],
    probe: postgresReady,
    url: (host, port) => `postgres://postgres${auth}@${host}:${port}/postgres`,
    startTimeoutMs: 60_000,
  }
}

export function mariadbContainer(options: { password?: string }): ContainerSpec {
  const password = options.password ?? ''
  const auth = password === '' ? '' : `:${encodeURIComponent(password)}`
  return {
    name: 'mariadb',
    image: IMAGES.mariadb,
    containerPort: 3306,
    env: {
      MARIADB_DATABASE: 'test',
      ...(password === ''
        ? { MARIADB_ALLOW_EMPTY_ROOT_PASSWORD: '1' }
        : { MARIADB_ROOT_PASSWORD: password }),
    },
    command: ['--max-connections=300', '--skip-log-bin'],
    probe: mysqlReady,
    url: (host, port) => `mysql://root${auth}@${host}:${port}/test`,
    startTimeoutMs: 90_000,
  }
}

export function etcdContainer(): ContainerSpec {
  return {
    name: 'etcd',
    image: IMAGES.etcd,
    containerPort: 2379,
    command: [
      'etcd',
      '--listen-client-urls=http://0.0.0.0:2379',
      '--advertise-client-urls=http://127.0.0.1:2379',
    ],
    probe: etcdReady,
    url: (host, port) => `etcd://${host}:${port}`,
    startTimeoutMs: 30_000,
  }
}

export function zookeeperContainer(): ContainerSpec {
  return {
    name: 'zookeeper',
    image: IMAGES.zookeeper,
    containerPort: 2181,
    env: {
      ZOO_4LW_COMMANDS_WHITELIST: 'srvr,ruok,mntr',
      ZOO_ADMINSERVER_ENABLED: 'false',
      ZOO_TICK_TIME: '250',
      ZOO_CFG_EXTRA: 'forceSync=no', // the official image appends it to zoo.cfg
    },
    probe: zookeeperReady,
    url: (host, port) => `zk://${host}:${port}`,
    startTimeoutMs: 60_000,
  }
}
