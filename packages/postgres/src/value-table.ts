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
}

/** True for "relation does not exist" (42P01): the table was not created yet. */
export function isMissingTable(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === '42P01'
}
