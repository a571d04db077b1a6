import type { Etcd3, IOptions } from 'etcd3'

/** TLS material for `etcds://` (PEM buffers); without it the system's roots are trusted. */
export interface EtcdTlsOptions {
  readonly rootCertificate?: Buffer
  readonly privateKey?: Buffer
  readonly certChain?: Buffer
}

/** How to build an `EtcdDriver`: exactly one of `url` and `client`. Frozen at construction. */
export interface EtcdDriverOptions {
  /**
   * `etcd://[user:password@]host:port[,host:port...]` (plain) or `etcds://...` (TLS). The driver
   * creates and owns the `Etcd3` client. Query `?prefix=P` sets `prefix`.
   */
  readonly url?: string
  /** An `Etcd3` client (not a namespace) to use; the driver only calls its KV, lease and watch APIs. */
  readonly client?: Etcd3
  /** Whether `close()` closes the client. Default: true for `url`, false for `client`. */
  readonly ownsClient?: boolean
  /** Prepended to every lock name (see `etcdLockName`). Default empty: Baton's `a` is `etcdctl lock a`. */
  readonly prefix?: string
  /** TLS material for `etcds://` URLs. */
  readonly tls?: EtcdTlsOptions
  /** Deadline of one unary call (txn, range, grant, revoke) and of one keepalive reply, in ms. Default 2000. */
  readonly operationTimeoutMs?: number
  /** A lease with no key left is kept alive this long for reuse, then revoked, in ms. Default 5000. */
  readonly leaseLingerMs?: number
  /** A waiter re-reads the queue at least this often even if no watch event came, in ms. Default 10 000. */
  readonly recheckMs?: number
}

/** Options after defaults, frozen. */
export interface ResolvedEtcdOptions {
  /** The client options when the driver creates the client; undefined for an injected client. */
  readonly clientOptions: IOptions | undefined
  readonly client: Etcd3 | undefined
  readonly ownsClient: boolean
  readonly prefix: string
  readonly operationTimeoutMs: number
  readonly leaseLingerMs: number
  readonly recheckMs: number
}

function positive(name: string, value: number): number {
  if (!(value > 0) || !Number.isFinite(value)) {
    throw new RangeError(`${name} must be a finite number > 0, got ${value}`)
  }
  return value
}

/**
 * Parses `etcd://` and `etcds://` URLs into `Etcd3` options: hosts, TLS and user credentials.
 * Never echoes the URL in an error (it may hold a password).
 */
export function parseEtcdUrl(
  url: string,
  tls: EtcdTlsOptions | undefined,
): { readonly options: IOptions; readonly prefix: string | undefined } {
  const match = /^(etcds?):\/\/(?:([^@/]*)@)?([^/?#]+)\/?(?:\?([^#]*))?$/i.exec(url)
  if (match === null) {
    throw new TypeError('EtcdDriver url must look like etcd://host:port[,host:port...]')
  }
  const [, scheme = '', userinfo, hostList = '', query] = match
  const secure = scheme.toLowerCase() === 'etcds'
  const hosts = hostList.split(',').map((host) => {
    if (!/^(\[[0-9a-f:.]+\]|[^:[\]]+)(:\d{1,5})?$/i.test(host)) {
      throw new TypeError('EtcdDriver url has an empty or malformed host:port')
    }
    const withPort = /:\d+$/.test(host) ? host : `${host}:2379`
    return `${secure ? 'https' : 'http'}://${withPort}`
  })
  const options: {
    hosts: string[]
    credentials?: IOptions['credentials']
    auth?: IOptions['auth']
  } = { hosts }
  if (secure && tls?.rootCertificate !== undefined) {
    options.credentials = {
      rootCertificate: tls.rootCertificate,
      ...(tls.privateKey !== undefined ? { privateKey: tls.privateKey } : {}),
      ...(tls.certChain !== undefined ? { certChain: tls.certChain } : {}),
    }
  }
  if (userinfo !== undefined && userinfo !== '') {
    const colon = userinfo.indexOf(':')
    const username = decodeURIComponent(colon < 0 ? userinfo : userinfo.slice(0, colon))
    const password = colon < 0 ? '' : decodeURIComponent(userinfo.slice(colon + 1))
    options.auth = { username, password }
  }
  const prefix = new URLSearchParams(query ?? '').get('prefix') ?? undefined
  return { options, prefix }
}

/** Checks the options and applies defaults. */
export function resolveEtcdOptions(options: EtcdDriverOptions): ResolvedEtcdOptions {
  if ((options.url === undefined) === (options.client === undefined)) {
    throw new TypeError('EtcdDriver needs exactly one of { url } or { client }')
  }
  const parsed = options.url !== undefined ? parseEtcdUrl(options.url, options.tls) : undefined
  const prefix = options.prefix ?? parsed?.prefix ?? ''
  return Object.freeze({
    clientOptions: parsed?.options,
    client: options.client,
    ownsClient: options.ownsClient ?? options.url !== undefined,
    prefix,
    operationTimeoutMs: positive('operationTimeoutMs', options.operationTimeoutMs ?? 2_000),
    leaseLingerMs: positive('leaseLingerMs', options.leaseLingerMs ?? 5_000),
    recheckMs: positive('recheckMs', options.recheckMs ?? 10_000),
  })
}
