import type { LockSession } from './lock-session.js'

/**
 * Creates the fence table once per driver, on the first grant that finds it missing
 * (`CREATE TABLE IF NOT EXISTS`, so two drivers racing are fine). Needs the CREATE
 * privilege on the database once; after that only INSERT/UPDATE/SELECT on the table.
 */
export class FenceTable {
  readonly #session: () => Promise<LockSession | undefined>
  #ready: Promise<void> | undefined

  constructor(session: () => Promise<LockSession | undefined>) {
    this.#session = session
  }

  /** True once a statement used the table (or `ensure` created it): a wait may go first. */
  known = false

  /** Resolves once the table exists; a failure is retried by the next call. */
  ensure(): Promise<void> {
    if (this.#ready === undefined) {
      const ready = this.#session().then(async (session) => {
        if (session === undefined) throw new Error('mysql driver is closed')
        await session.query(session.statements.createTable)
        this.known = true
      })
      this.#ready = ready
      ready.catch(() => {
        if (this.#ready === ready) this.#ready = undefined
      })
    }
    return this.#ready
  }
}
