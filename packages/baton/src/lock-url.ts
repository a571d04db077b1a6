import { redact } from '@baton-lock/core'
import { DRIVER_TABLE, type LockScheme, schemeOfPrefix } from './driver-table.js'

export type { LockScheme } from './driver-table.js'

/** The default lock URL: the embedded SQLite driver, in `.baton/` under the working directory. */
export const DEFAULT_URL = 'sqlite:.baton/locks.db'

/** A lock URL taken apart. Never carries the password in `display`. */
export interface LockUrl {
  readonly scheme: LockScheme
  /** The URL as given (credentials included): only for the driver. */
  readonly url: string
  /** The URL with credentials replaced by `***`: for messages and logs. */
  readonly display: string
  /** Database file for `sqlite:` URLs, relative to the working directory or absolute. */
  readonly path?: string
  /** Credential strings (raw and decoded) that must never appear in output. */
  readonly secrets: readonly string[]
}

const EXPECTED =
  'memory:, sqlite:PATH, redis://, rediss://, redis+cluster://, redis+sentinel://, redlock://, postgres://, postgresql://, mysql://, etcd://, zk://'

/**
 * Parses a lock URL (DESIGN section 9). Throws a TypeError that names the problem and
 * never echoes a credential: an unparsable URL is not shown at all.
 */
export function parseLockUrl(url: string): LockUrl {
  if (typeof url !== 'string' || url.trim() === '') {
    throw new TypeError(`lock URL must be a non-empty string (expected one of ${EXPECTED})`)
  }
  const schemeMatch = /^([a-z][a-z0-9+.-]*:)/i.exec(url)
  const scheme = schemeMatch === null ? undefined : schemeOfPrefix(schemeMatch[1] ?? '')
  if (scheme === undefined) {
    const shown = schemeMatch === null ? 'no scheme' : `scheme "${schemeMatch[1]}"`
    throw new TypeError(`unsupported lock URL (${shown}); expected one of ${EXPECTED}`)
  }
  const shape = DRIVER_TABLE[scheme].shape
  if (shape === 'memory') {
    if (url !== 'memory:' && url !== 'memory://') {
      throw new TypeError('memory URL takes no path or options: use "memory:"')
    }
    return { scheme, url, display: 'memory:', secrets: [] }
  }
  if (shape === 'path') return parseSqlite(url)
  if (shape === 'host-list') return parseHostListUrl(scheme, url)
  return parseServerUrl(scheme, url)
}

function parseSqlite(url: string): LockUrl {
  // sqlite:PATH (relative to the working directory), sqlite:///abs/path, sqlite:/abs/path.
  let path = url.slice('sqlite:'.length)
  if (path.startsWith('//')) path = path.slice(2)
  if (path === '') path = DEFAULT_URL.slice('sqlite:'.length)
  if (path.includes('\u0000')) throw new TypeError('sqlite URL path contains a NUL character')
  return { scheme: 'sqlite', url, display: `sqlite:${path}`, path, secrets: [] }
}

function parseServerUrl(scheme: LockScheme, url: string): LockUrl {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    // Do not echo the URL: a malformed one may hide a password the redactor cannot find.
    throw new TypeError(
      `invalid ${scheme} URL: could not parse it (percent-encode "@", "/", ":" or "#" in a user name or password)`,
    )
  }
  if (!url.slice(parsed.protocol.length).startsWith('//') || parsed.hostname === '') {
    throw new TypeError(`invalid ${scheme} URL: expected ${parsed.protocol}//HOST[:PORT]...`)
  }
  const secrets = [parsed.password, safeDecode(parsed.password)]
  for (const [name, value] of parsed.searchParams) {
    if (/pass|pwd|token|secret/i.test(name)) secrets.push(value)
  }
  const shown = new URL(url)
  if (shown.password !== '') shown.password = '***'
  for (const name of [...shown.searchParams.keys()]) {
    if (/pass|pwd|token|secret/i.test(name)) shown.searchParams.set(name, '***')
  }
  return {
    scheme,
    url,
    display: redact(shown.toString()),
    secrets: secrets.filter((s) => s.length > 0),
  }
}

/** `etcd://h1:p1,h2:p2` and `zk://h1:p1,h2:p2/chroot`: host lists a WHATWG URL cannot parse. */
function parseHostListUrl(scheme: LockScheme, url: string): LockUrl {
  const userinfo = /^[a-z][a-z0-9+.-]*:\/\/([^/@]*)@/i.exec(url)?.[1]
  const password = userinfo?.includes(':') ? userinfo.slice(userinfo.indexOf(':') + 1) : ''
  const secrets = [password, safeDecode(password)].filter((s) => s.length > 0)
  return { scheme, url, display: scrub(url, { secrets }), secrets }
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text)
  } catch {
    return text
  }
}

/** Replaces every secret of `url` in `text`, then applies core's generic `redact()`. */
export function scrub(text: string, url?: Pick<LockUrl, 'secrets'>): string {
  let out = text
  for (const secret of url?.secrets ?? []) out = out.split(secret).join('***')
  return redact(out)
}
