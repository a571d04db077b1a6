import { execFileSync } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { isRoot, postgresBinDir, systemUser } from './binaries.js'
import { dockerAvailable, startContainer } from './docker-server.js'
import { postgresContainer } from './docker-specs.js'
import { externalServer, externalUrl } from './external-server.js'
import { freePort } from './free-port.js'
import { NativeServer } from './native-server.js'
import { postgresReady } from './probes.js'
import { runCommand } from './run-command.js'
import { makeServerDir } from './server-dir.js'
import type { ServerHandle } from './server-handle.js'
import { startWithPortRetry } from './server-start-error.js'
import { preparedTemplate } from './template-cache.js'

export interface PostgresOptions {
  /**
   * Sets the `postgres` user's password and requires scram-sha-256 over TCP; the URL carries it.
   * Without it every TCP connection is trusted.
   */
  password?: string
  /** Extra server settings, passed as `-c name=value`. */
  settings?: Record<string, string | number>
  name?: string
  startTimeoutMs?: number
}

// Settings for throwaway test clusters: durability off, room for a connection per held lock.
const TEST_SETTINGS: Record<string, string | number> = {
  fsync: 'off',
  synchronous_commit: 'off',
  full_page_writes: 'off',
  max_connections: 300,
  shared_buffers: '32MB',
  log_min_messages: 'warning',
  // POSIX segments would live in /dev/shm and outlive a SIGKILLed server; mmap keeps them
  // in the data directory, which teardown removes.
  dynamic_shared_memory_type: 'mmap',
}

/** The account PostgreSQL runs as: it refuses to run as root, so root runs it as `postgres`. */
function serverAccount(): { uid: number; gid: number } | undefined {
  if (!isRoot()) return undefined
  const account = systemUser('postgres')
  if (!account)
    throw new Error('running as root, but there is no `postgres` account to run PostgreSQL as')
  return account
}

/** A PostgreSQL server on a free loopback port (or BATON_POSTGRES_URL); database and user `postgres`. */
export async function startPostgres(options: PostgresOptions = {}): Promise<ServerHandle> {
  const url = externalUrl('postgres')
  if (url) return externalServer('postgres', url)
  if (await dockerAvailable()) return startContainer(postgresContainer(options))
  const bin = postgresBinDir()
  const account = serverAccount()
  const template = await postgresTemplate(bin, account)
  return startWithPortRetry(async () => {
    const host = '127.0.0.1'
    const port = await freePort()
    const dir = await makeServerDir('postgres', account)
    const data = join(dir, 'data')
    const auth = options.password === undefined ? '' : `:${encodeURIComponent(options.password)}`
    const settings = { ...TEST_SETTINGS, ...options.settings }
    const server = new NativeServer({
      name: options.name ?? 'postgres',
      host,
      port,
      url: `postgres://postgres${auth}@${host}:${port}/postgres`,
      dir,
      stopSignal: 'SIGINT', // "fast" shutdown: rolls back and disconnects sessions
      startTimeoutMs: options.startTimeoutMs ?? 30_000,
      probe: () => postgresReady(host, port),
      spec: () => ({
        command: join(bin, 'postgres'),
        args: [
          ...['-D', data, '-p', String(port), '-h', host, '-k', dir],
          ...Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`]),
        ],
        uid: account?.uid,
        gid: account?.gid,
      }),
    })
    try {
      // cp -a keeps the owner and the 0700 mode PostgreSQL insists on.
      execFileSync('cp', ['-a', join(template, 'data'), data])
      if (options.password !== undefined) await requireScram(data)
      await server.start()
      if (options.password !== undefined) await setPassword(bin, dir, port, options.password)
    } catch (error) {
      await server.stop()
      throw error
    }
    return server
  })
}

async function postgresTemplate(
  bin: string,
  account?: { uid: number; gid: number },
): Promise<string> {
  const version = execFileSync(join(bin, 'postgres'), ['--version'], { encoding: 'utf8' })
  const major = /(\d+)(?:\.\d+)?/.exec(version)?.[1] ?? 'unknown'
  return preparedTemplate(
    `postgres-${major}-uid${account?.uid ?? process.getuid?.()}`,
    async (dir) => {
      if (account) execFileSync('chown', [`${account.uid}:${account.gid}`, dir])
      await runCommand(
        join(bin, 'initdb'),
        [
          '-D',
          join(dir, 'data'),
          '-U',
          'postgres',
          '-A',
          'trust',
          '-E',
          'UTF8',
          '--locale=C',
          '--no-sync',
        ],
        { uid: account?.uid, gid: account?.gid },
      )
    },
  )
}

async function requireScram(data: string): Promise<void> {
  const hba = [
    'local all all trust',
    'host all all 127.0.0.1/32 scram-sha-256',
    'host all all ::1/128 scram-sha-256',
    '',
  ].join('\n')
  await writeFile(join(data, 'pg_hba.conf'), hba)
}

async function setPassword(
  bin: string,
  socketDir: string,
  port: number,
  password: string,
): Promise<void> {
  const literal = `'${password.replaceAll("'", "''")}'`
  await runCommand(
    join(bin, 'psql'),
    [
      '-h',
      socketDir,
      '-p',
      String(port),
      '-U',
      'postgres',
      '-d',
      'postgres',
      '-qAt',
      '-v',
      'ON_ERROR_STOP=1',
    ],
    {
      input: `SET password_encryption = 'scram-sha-256';\nALTER USER postgres PASSWORD ${literal};\n`,
    },
  )
}
