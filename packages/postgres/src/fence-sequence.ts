import type { LockSession } from './lock-session.js'

/** Duplicate-object errors when two drivers create the sequence at the same moment. */
const ALREADY_CREATED = new Set(['23505', '42P07'])

/**
 * Makes sure the fence sequence exists. One sequence serves every key: `nextval` is
 * strictly increasing across the whole database, so it is per key too (S3). With
 * `CACHE 1` no value is handed out twice or out of order, and the sequence is WAL-logged
 * ahead of use, so fences keep increasing across a server restart or crash ('durable').
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
