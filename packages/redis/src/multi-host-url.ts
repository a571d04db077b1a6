/** One `host:port` of a multi-host URL. */
export interface HostPort {
  readonly host: string
  readonly port: number
}

/** A parsed `redis+cluster://`, `redis+sentinel://` or `redlock://` URL. */
export interface MultiHostUrl {
  /** The scheme without colon, lowercase: `redis+cluster`, `rediss+sentinel`, `redlock`, ... */
  readonly scheme: string
  readonly tls: boolean
  readonly username: string | undefined
  readonly password: string | undefined
  readonly hosts: readonly HostPort[]
  /** Path segments after the host list (sentinel: master name, then an optional db). */
  readonly path: readonly string[]
  /** Query parameters (`?layout=plain`, ...). */
  readonly params: URLSearchParams
}

const SCHEMES = new Set([
  'redis+cluster',
  'rediss+cluster',
  'redis+sentinel',
  'rediss+sentinel',
  'redlock',
  'rediss+redlock',
])

/** True for the multi-host schemes this package serves besides `redis:` / `rediss:`. */
export function isMultiHostUrl(url: string): boolean {
  const at = url.indexOf('://')
  return at > 0 && SCHEMES.has(url.slice(0, at).toLowerCase())
}

/**
 * Parses `scheme://[user:password@]host[:port],host[:port]/...[?params]` without echoing the
 * URL in errors (it may hold a password). Port defaults to 6379 (26379 for sentinels).
 */
export function parseMultiHostUrl(url: string): MultiHostUrl {
  const at = url.indexOf('://')
  const scheme = at > 0 ? url.slice(0, at).toLowerCase() : ''
  if (!SCHEMES.has(scheme)) {
    throw new TypeError(
      `invalid Redis URL: expected one of ${[...SCHEMES].map((s) => `${s}://`).join(', ')}`,
    )
  }
  let rest = url.slice(at + 3)
  const hash = rest.indexOf('#')
  if (hash >= 0) rest = rest.slice(0, hash)
  const query = rest.indexOf('?')
  const params = new URLSearchParams(query >= 0 ? rest.slice(query + 1) : '')
  if (query >= 0) rest = rest.slice(0, query)
  let username: string | undefined
  let password: string | undefined
  const atSign = rest.lastIndexOf('@')
  if (atSign >= 0) {
    const userinfo = rest.slice(0, atSign)
    rest = rest.slice(atSign + 1)
    const colon = userinfo.indexOf(':')
    username = decode(colon >= 0 ? userinfo.slice(0, colon) : userinfo) || undefined
    password = colon >= 0 ? decode(userinfo.slice(colon + 1)) : undefined
  }
  const slash = rest.indexOf('/')
  const hostList = slash >= 0 ? rest.slice(0, slash) : rest
  const path =
    slash >= 0
      ? rest
          .slice(slash + 1)
          .split('/')
          .filter(Boolean)
          .map(decode)
      : []
  const defaultPort = scheme.endsWith('sentinel') ? 26379 : 6379
  const hosts = hostList
    .split(',')
    .filter((h) => h.length > 0)
    .map((h) => parseHost(h, defaultPort))
  if (hosts.length === 0) throw new TypeError(`invalid ${scheme} URL: no host`)
  return {
    scheme,
    tls: scheme.startsWith('rediss'),
    username,
    password,
    hosts,
    path,
    params,
  }
}

function parseHost(text: string, defaultPort: number): HostPort {
  let host = text
  let port = defaultPort
  const bracket = text.startsWith('[') ? text.indexOf(']') : -1
  const colon = text.lastIndexOf(':')
  if (colon > bracket && colon >= 0 && (bracket >= 0 || text.indexOf(':') === colon)) {
    host = text.slice(0, colon)
    const portText = text.slice(colon + 1)
    port = Number(portText)
    if (!/^\d{1,5}$/.test(portText) || port < 1 || port > 65535) {
      throw new TypeError('invalid Redis URL: a port is not a number from 1 to 65535')
    }
  }
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1)
  if (host === '') throw new TypeError('invalid Redis URL: an empty host')
  return { host, port }
}

function decode(text: string): string {
  try {
    return decodeURIComponent(text)
  } catch {
    throw new TypeError('invalid Redis URL: bad percent-encoding in the user name or password')
  }
}
