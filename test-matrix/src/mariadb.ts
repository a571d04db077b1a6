import { execFileSync } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { isRoot, requireBinary, systemUser } from './binaries.js'
import { dockerAvailable, startContainer } from './docker-server.js'
import { mariadbContainer } from './docker-specs.js'
import { externalServer, externalUrl } from './external-server.js'
import { freePort } from './free-port.js'
import { NativeServer } from './native-server.js'
import { mysqlReady } from './probes.js'
import { runCommand } from './run-command.js'
import { makeServerDir } from './server-dir.js'
import type { ServerHandle } from './server-handle.js'
import { startWithPortRetry } from './server-start-error.js'
import { preparedTemplate } from './template-cache.js'

export interface MariadbOptions {
  /** Password of `root`@`127.0.0.1`; empty by default. The URL carries it. */
  password?: string
  /** Extra `mariadbd` arguments, e.g. ['--wait-timeout=5']. */
  args?: string[]
  name?: string
  startTimeoutMs?: number
}

// Same value at install and at every start, so InnoDB never resizes its redo log.
const LOG_FILE_SIZE = '--innodb-log-file-size=8M'

/**
 * A MariaDB server (MySQL protocol) on a free loopback port (or BATON_MYSQL_URL), with a `test`
 * database and `root` reachable over TCP from 127.0.0.1.
 */
export async function startMariadb(options: MariadbOptions = {}): Promise<ServerHandle> {
  const url = externalUrl('mysql')
  if (url) return externalServer('mysql', url)
  if (await dockerAvailable()) return startContainer(mariadbContainer(options))
  const mariadbd = requireBinary('mariadbd', 'mysql')
  const account = isRoot() ? systemUser('mysql') : undefined
  const template = await mariadbTemplate(account)
  return startWithPortRetry(async () => {
    const host = '127.0.0.1'
    const port = await freePort()
    const dir = await makeServerDir('mariadb', account)
    const data = join(dir, 'data')
    const password = options.password ?? ''
    const auth = password === '' ? '' : `:${encodeURIComponent(password)}`
    const server = new NativeServer({
      name: options.name ?? 'mariadb',
      host,
      port,
      url: `mysql://root${auth}@${host}:${port}/test`,
      dir,
      startTimeoutMs: options.startTimeoutMs ?? 60_000,
      probe: () => mysqlReady(host, port),
      spec: () => ({
        command: mariadbd,
        args: [
          '--no-defaults',
          `--datadir=${data}`,
          `--port=${port}`,
          `--bind-address=${host}`,
          `--socket=${join(dir, 'mysqld.sock')}`,
          `--pid-file=${join(dir, 'mysqld.pid')}`,
          `--tmpdir=${dir}`,
          `--init-file=${join(dir, 'init.sql')}`,
          ...(account ? ['--user=mysql'] : []),
          '--skip-name-resolve',
          '--skip-log-bin',
          '--max-connections=300',
          '--innodb-buffer-pool-size=32M',
          '--innodb-flush-log-at-trx-commit=0',
          '--innodb-doublewrite=0',
          LOG_FILE_SIZE,
          ...(options.args ?? []),
        ],
      }),
    })
    try {
      execFileSync('cp', ['-a', join(template, 'data'), data])
      await writeFile(join(dir, 'init.sql'), initSql(password))
      await server.start()
    } catch (error) {
      await server.stop()
      throw error
    }
    return server
  })
}

/** Runs at every start (before the server accepts connections), so `restart()` keeps it true. */
function initSql(password: string): string {
  const literal = `'${password.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`
  return [
    'CREATE DATABASE IF NOT EXISTS test;',
    `CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY ${literal};`,
    `ALTER USER 'root'@'127.0.0.1' IDENTIFIED BY ${literal};`,
    "GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;",
    '',
  ].join('\n')
}

async function mariadbTemplate(account?: { uid: number; gid: number }): Promise<string> {
  const mariadbd = requireBinary('mariadbd', 'mysql')
  const version = execFileSync(mariadbd, ['--version'], { encoding: 'utf8' })
  const release = /Ver\s+([\d.]+)/.exec(version)?.[1] ?? 'unknown'
  const key = `mariadb-${release}-uid${account?.uid ?? process.getuid?.()}`
  return preparedTemplate(key, async (dir) => {
    if (account) execFileSync('chown', [`${account.uid}:${account.gid}`, dir])
    await runCommand(
      requireBinary('mariadb-install-db', 'mysql'),
      [
        '--no-defaults',
        `--datadir=${join(dir, 'data')}`,
        ...(account ? ['--user=mysql'] : []),
        '--auth-root-authentication-method=normal',
        '--skip-test-db',
        '--skip-name-resolve',
        LOG_FILE_SIZE,
      ],
      { env: { TMPDIR: dir } },
    ) // mariadbd writes temp files to TMPDIR, which `mysql` may not own
  })
}
