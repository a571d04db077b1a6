import { accessSync, constants, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

const EXTRA_DIRS = ['/usr/sbin', '/usr/local/sbin', '/sbin']

/** Absolute path of an executable on PATH (plus the sbin directories), or undefined. */
export function which(command: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(':').filter(Boolean), ...EXTRA_DIRS]
  for (const dir of dirs) {
    const path = join(dir, command)
    try {
      accessSync(path, constants.X_OK)
      return path
    } catch {
      // not here
    }
  }
  return undefined
}

/** Like `which`, but throws an error that says how to install the missing server. */
export function requireBinary(command: string, backend: string): string {
  const path = which(command)
  if (path) return path
  throw new Error(
    `${command} not found. Install the test servers with \`sudo bash test-matrix/install-servers.sh\`` +
      ` or point the tests at a running server with BATON_${backend.toUpperCase()}_URL.`,
  )
}

/** The bin directory of the newest PostgreSQL found (Debian: /usr/lib/postgresql/<major>/bin). */
export function postgresBinDir(): string {
  const override = process.env.BATON_PG_BIN
  if (override) return override
  try {
    const majors = readdirSync('/usr/lib/postgresql')
      .filter((entry) => /^\d+$/.test(entry))
      .sort((a, b) => Number(b) - Number(a))
    for (const major of majors) {
      const dir = `/usr/lib/postgresql/${major}/bin`
      if (isExecutable(join(dir, 'postgres'))) return dir
    }
  } catch {
    // not a Debian layout
  }
  const postgres = requireBinary('postgres', 'postgres')
  return postgres.slice(0, postgres.lastIndexOf('/'))
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK)
    return true
  } catch {
    return false
  }
}

/** uid and gid of a system account (e.g. `postgres`), read from /etc/passwd. */
export function systemUser(name: string): { uid: number; gid: number } | undefined {
  for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
    const [user, , uid, gid] = line.split(':')
    if (user === name && uid !== undefined && gid !== undefined) {
      return { uid: Number(uid), gid: Number(gid) }
    }
  }
  return undefined
}

/** True when this process runs as root (servers that refuse root then run as their own user). */
export function isRoot(): boolean {
  return process.getuid?.() === 0
}
