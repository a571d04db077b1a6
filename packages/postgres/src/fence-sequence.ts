import type { LockSession } from './lock-session.js'

/** Duplicate-object errors when two drivers create the sequence at the same moment. */
const ALREADY_CREATED = new Set(['23505', '42P07'])

/**
 * Makes sure the fence sequence exists. One sequence serves every key: `nextval` is
 * strictly increasing across the whole database, so it is per key too (S3). With
 * `CACHE 1` no value is handed out twice or out of order, and the sequence is WAL-logged
 * ahead of use, so fences keep increasing across a server restart or crash ('durable'):
 * lock sessions run with `synchronous_commit = on`, so the grant waits for that WAL flush.
 */
export async function ensureFenceSequence(session: LockSession): Promise<void> {
  const { rows } = await session.query<{ present: boolean }>(session.statements.sequenceExists)
  if (rows[0]?.present === true) return
  try {
    await session.query(session.statements.createSequence)
  } catch (err) {
    if (!ALREADY_CREATED.has(String((err as { code?: unknown }).code))) throw err
  }
}

/** Creates the fence sequence once per driver, on the first grant that finds it missing. */
export class FenceSequence {
  readonly #session: () => Promise<LockSession | undefined>
  #ready: Promise<void> | undefined

  constructor(session: () => Promise<LockSession | undefined>) {
    this.#session = session
  }

  /** Resolves once the sequence exists; a failure is retried by the next call. */
  ensure(): Promise<void> {
    if (this.#ready === undefined) {
      const ready = this.#session().then((session) => {
        if (session === undefined) throw new Error('postgres driver closed')
        return ensureFenceSequence(session)
      })
      this.#ready = ready
      ready.catch(() => {
        if (this.#ready === ready) this.#ready = undefined
      })
    }
    return this.#ready
  }
}
