/**
 * How a Baton key becomes an etcd lock name, the NAME of `etcdctl lock NAME` and of Go's
 * `concurrency.NewMutex(session, NAME)`.
 *
 * A lock NAME owns every etcd key under the prefix `NAME/` (the holder and its waiters are
 * `NAME/<lease id in lowercase hex>`). etcd's own clients range over that whole prefix, so
 * `etcdctl lock a` also sees the keys of `etcdctl lock a/b`. Baton keeps its keys apart by
 * escaping: `%` becomes `%25` and `/` becomes `%2F`, so no Baton name contains a `/` and no
 * Baton lock's range contains another's keys. A key with neither `%` nor `/` (what an
 * operator types: `invoice:42`) maps to itself, prefixed by the driver's `prefix` option
 * (default empty): Baton's `invoice:42` is `etcdctl lock invoice:42`.
 */
export function etcdLockName(key: string, prefix = ''): string {
  if (!key.includes('/') && !key.includes('%')) return prefix + key
  return prefix + key.replace(/[%/]/g, (c) => (c === '%' ? '%25' : '%2F'))
}

/** The Baton key of a lock name made by `etcdLockName` (undefined when `name` is not one). */
export function batonKeyOf(name: string, prefix = ''): string | undefined {
  if (!name.startsWith(prefix)) return undefined
  const escaped = name.slice(prefix.length)
  if (escaped.length === 0 || escaped.includes('/')) return undefined
  if (/%(?!25|2F)/.test(escaped)) return undefined
  return escaped.replace(/%25|%2F/g, (e) => (e === '%25' ? '%' : '/'))
}

/** The etcd key prefix every holder and waiter of lock `name` lives under: `name/`. */
export function lockPrefix(name: string): string {
  return `${name}/`
}

/** The key one lease puts for lock `name`: `name/<lease id in lowercase hex>`, as Go's Mutex does. */
export function waiterKey(name: string, leaseId: string): string {
  return `${lockPrefix(name)}${BigInt(leaseId).toString(16)}`
}

/**
 * The prefix of lock `name`'s shared holders and waiters: `name/read/`, the reader layout of
 * etcd's Go `recipe.RWMutex` (`experimental/recipes`). A lease id in hex never contains an
 * `r`, so no exclusive key `name/<lease hex>` sorts inside it.
 */
export function readPrefix(name: string): string {
  return `${lockPrefix(name)}read/`
}

/** The key of one shared acquire of lock `name`: `name/read/<owner id>` (unique per acquire). */
export function readerKey(name: string, owner: string): string {
  return `${readPrefix(name)}${owner}`
}

/**
 * The etcd name of the semaphore of lock name `name`: `name%sem`. An escaped lock name
 * never holds a `%` that is not `%25` or `%2F`, so no lock range contains a semaphore's
 * keys and no semaphore's range a lock's: `semaphore('k')` never blocks `acquire('k')`.
 */
export function semaphoreName(name: string): string {
  return `${name}%sem`
}

/** The key of one permit (holder or waiter) of semaphore `semName`: `semName/<owner id>`. */
export function permitKey(semName: string, owner: string): string {
  return `${lockPrefix(semName)}${owner}`
}

/**
 * Splits an etcd key `NAME/<hex>` or `NAME/read/<hex>` into its lock name and mode, or
 * undefined when it is not a lock key.
 */
export function lockNameOfKey(
  etcdKey: string,
): { readonly name: string; readonly shared: boolean } | undefined {
  const slash = etcdKey.lastIndexOf('/')
  if (slash <= 0 || !/^[0-9a-f]+$/.test(etcdKey.slice(slash + 1))) return undefined
  const parent = etcdKey.slice(0, slash)
  if (parent.endsWith('/read')) return { name: parent.slice(0, -'/read'.length), shared: true }
  return { name: parent, shared: false }
}
