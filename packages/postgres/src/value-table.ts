import type { DriverLease } from '@baton-lock/core/driver'
import type { LockSession } from './lock-session.js'

/** Duplicate-object errors when two drivers create the table at the same moment. */
const ALREADY_CREATED = new Set(['23505', '42P07'])

/**
 * The table of election values (`<fenceSchema>.<fenceSequence>_values`), created by the
 * first grant with a value that finds it missing, once per driver. Plain locks never use it.
 */
export class ValueTable {
  readonly #session: () => Promise<LockSession | undefined>
  #ready: Promise<void> | undefined

  constructor(session: () => Promise<LockSession | undefined>) {
    this.#session = session
  }

  /** Resolves once the table exists; a failure is retried by the next call. */
  ensure(): Promise<void> {
    if (this.#ready === undefined) {
      const ready = this.#session().then(async (session) => {
        if (session === undefined) throw new Error('postgres driver closed')
        try {
          await session.query(session.statements.createValueTable)
        } catch (err) {
          if (!ALREADY_CREATED.has(String((err as { code?: unknown }).code))) throw err
        }
      })
      this.#ready = ready
      ready.catch(() => {
        if (this.#ready === ready) this.#ready = undefined
      })
    }
    return this.#ready
  }

  /** Records `value` of `lease` holding advisory key `hash` on `session` (the holder's), creating the table if missing. */
  async store(
    session: LockSession,
    hash: bigint,
    lease: DriverLease,
    value: string,
  ): Promise<void> {
    const store = () =>
      session.query(
        session.statements.storeValue,
        [hash.toString(), lease.owner, lease.fence.toString(), value],
        'baton_value',
      )
    await store().catch(async (err: unknown) => {
      if (!isMissingTable(err)) throw err
      await this.ensure()
      return store()
    })
  }

  /** The owner, fence and value that the holder backend `pid` recorded for `hash`, if it still lives. */
  async read(
    session: LockSession,
    hash: bigint,
    pid: number,
  ): Promise<{ owner: string; fence: bigint; value: string } | undefined> {
    try {
      const { rows } = await session.query<{ owner: string; fence: string; value: string }>(
        session.statements.readValue,
        [hash.toString(), pid],
        'baton_read_value',
      )
      const row = rows[0]
      return row && { owner: row.owner, fence: BigInt(row.fence), value: row.value }
    } catch (err) {
      if (isMissingTable(err)) return undefined
      throw err
    }
  }
}

/** True for "relation does not exist" (42P01): the table was not created yet. */
export function isMissingTable(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === '42P01'
}
