/** Releases a lock taken through a `LockClient`. */
export type Release = () => Promise<void>

/**
 * The one shape every contender takes in the benchmark: the hand-written floor, Baton and
 * each peer library. `acquire` resolves to a release function, or null when the key was not
 * granted within `waitMs` (0 = one attempt).
 */
export interface LockClient {
  acquire(key: string, waitMs: number): Promise<Release | null>
  close(): Promise<void>
}

/** Where a backend's server (or file) lives; handed to worker processes as plain data. */
export interface BackendTarget {
  /** Connection URL (`redis://…`, `postgres://…`) or database file path for SQLite. */
  readonly url: string
}

/**
 * Role of a contender in the table: ratios are taken against the floor of the same scenario.
 * A `reference` is a second yardstick shown beside the floor (e.g. the unfenced Redis
 * protocol, or a backend's own server-side wait where another backend's is the floor).
 */
export type ContenderRole = 'floor' | 'baton' | 'peer' | 'reference'

/** One contender: a name for the table and a factory a worker process can call again. */
export interface ContenderSpec {
  readonly name: string
  readonly role: ContenderRole
  /** Opens a fresh client (its own connections) against `target`. */
  open(target: BackendTarget): Promise<LockClient>
  /** Contenders that do not implement waits (attempt-only floors) cannot join the handoff. */
  readonly waits: boolean
}
