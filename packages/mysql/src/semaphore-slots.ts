import { LockLimitMismatchError } from '@baton-lock/core/driver'
import type { FenceTable } from './fence-table.js'
import { type LockSession, lastRow } from './lock-session.js'
import { grantedFence } from './lock-statements.js'
import type { SemaphoreNames } from './mysql-key.js'

/** Slot names tried per statement: the try of a semaphore of up to 64 permits is one round trip. */
const SLOTS_PER_TRY = 64
/** Names checked per counting statement (about 60 bytes of SQL each). */
const NAMES_PER_COUNT = 500
/** `Table ... doesn't exist`: the fence table is not there yet. */
const ER_NO_SUCH_TABLE = 1146

/** A permit taken: its slot and the semaphore's new fence. */
export interface SlotGrant {
  readonly slot: number
  readonly fence: bigint
}

/** What the fence row of a semaphore records in its `owner` column: the limit of its last grant. */
export function limitTag(limit: number): string {
  return `limit=${limit}`
}

/** The limit a fence row's tag records, or undefined. */
function taggedLimit(tag: unknown): number | undefined {
  const text = Buffer.isBuffer(tag) ? tag.toString('utf8') : tag == null ? '' : String(tag)
  const match = /^limit=([0-9]{1,5})$/.exec(text)
  return match === null ? undefined : Number(match[1])
}

/**
 * The fence bump of a permit on the semaphore's base row: `LAST_INSERT_ID` carries the new
 * fence; values base, key, tag, tag (the tag records the limit).
 */
function bump(table: string, granted: string): string {
  return (
    `INSERT INTO ${table} (name, fence, lock_key, owner, holder) ` +
    `SELECT ?, LAST_INSERT_ID(1), ?, ?, CONNECTION_ID() FROM DUAL WHERE ${granted} ` +
    'ON DUPLICATE KEY UPDATE fence = LAST_INSERT_ID(fence + 1), owner = ?, holder = CONNECTION_ID()'
  )
}

const trySql = new Map<string, string>()

/**
 * One round trip for up to 64 slots: a `CASE` takes the FIRST free slot of the list with
 * `GET_LOCK(slot, 0)` (CASE stops at the first true branch, so at most one name is taken),
 * reads the limit the semaphore's last grant recorded, and bumps the fence only when a slot
 * was taken and the recorded limit is ours (or none is recorded).
 */
function trySlotsSql(table: string, first: number, count: number): string {
  const id = `${table}\u0000${first}\u0000${count}`
  let sql = trySql.get(id)
  if (sql === undefined) {
    let cases = ''
    for (let i = 0; i < count; i++) cases += `WHEN GET_LOCK(?, 0) = 1 THEN ${first + i} `
    sql =
      `SET @baton_slot = CASE ${cases}ELSE NULL END, ` +
      `@baton_tag = (SELECT owner FROM ${table} WHERE name = ?); ` +
      `${bump(table, '@baton_slot IS NOT NULL AND (@baton_tag IS NULL OR @baton_tag = ?)')}; ` +
      'SELECT @baton_slot AS slot, @baton_tag AS tag'
    trySql.set(id, sql)
  }
  return sql
}

/**
 * Tries every slot of a `limit`-permit semaphore once on `session` (which holds no slot of
 * it, so `GET_LOCK`'s re-entry can never hand one slot out twice): the slot and fence, or
 * null when all are taken. Throws `LockLimitMismatchError` when the last grant recorded
 * another limit and a slot of either limit is held by another connection; when none is,
 * the old holders are gone and the permit is granted under the new limit.
 */
export async function trySlots(
  session: LockSession,
  names: SemaphoreNames,
  key: string,
  limit: number,
  fences: FenceTable,
): Promise<SlotGrant | null> {
  const tag = limitTag(limit)
  for (let first = 0; first < limit; first += SLOTS_PER_TRY) {
    const count = Math.min(SLOTS_PER_TRY, limit - first)
    const slots = Array.from({ length: count }, (_, i) => names.slot(first + i))
    const sql = trySlotsSql(session.statements.table, first, count)
    const values = [...slots, names.base, names.base, key, tag, tag, tag]
    let result: unknown
    try {
      result = await runCreatingTable(session, sql, values, fences)
    } catch (err) {
      if (!session.ended) await sweepSlots(session, slots)
      throw err
    }
    const entries = result as unknown[]
    const row = lastRow(result)
    const fence = grantedFence(entries[entries.length - 2])
    const slot = row?.slot == null ? undefined : Number(row.slot)
    const heldLimit = taggedLimit(row?.tag)
    if (heldLimit !== undefined && heldLimit !== limit) {
      const span = Math.max(limit, heldLimit)
      if ((await countHeld(session, names, span, true)) > 0) {
        if (slot !== undefined) await sweepSlots(session, [names.slot(slot)])
        throw new LockLimitMismatchError(key, limit, heldLimit)
      }
      if (slot !== undefined && fence === null) {
        // the holders of the old limit are gone: the permit stands, under our limit
        const rebump = await session.query(bump(session.statements.table, '1'), [
          names.base,
          key,
          tag,
          tag,
        ])
        const newFence = grantedFence(rebump)
        if (newFence === null) throw new Error('mysql: the semaphore fence bump wrote no row')
        return { slot, fence: newFence }
      }
    }
    if (slot !== undefined && fence !== null) return { slot, fence }
    if (slot !== undefined) throw new Error('mysql: a semaphore slot was taken without a fence')
  }
  return null
}

/** Runs `sql`; creates a missing fence table once and runs it again (nothing was locked: the statement failed at prepare). */
async function runCreatingTable(
  session: LockSession,
  sql: string,
  values: unknown[],
  fences: FenceTable,
): Promise<unknown> {
  try {
    return await session.query(session.takeSettings() + sql, values)
  } catch (err) {
    if ((err as { errno?: unknown }).errno !== ER_NO_SUCH_TABLE || session.ended) throw err
    await sweepSlots(session, values.slice(0, -6) as string[])
    await fences.ensure()
    return session.query(session.takeSettings() + sql, values)
  }
}

/**
 * How many of slots 0 to `count - 1` are held; `othersOnly`: by connections other than
 * this session's. One round trip per 500 slots.
 */
export async function countHeld(
  session: LockSession,
  names: SemaphoreNames,
  count: number,
  othersOnly: boolean,
): Promise<number> {
  const check = othersOnly
    ? '(COALESCE(IS_USED_LOCK(?), CONNECTION_ID()) <> CONNECTION_ID())'
    : '(IS_USED_LOCK(?) IS NOT NULL)'
  let held = 0
  for (let first = 0; first < count; first += NAMES_PER_COUNT) {
    const n = Math.min(NAMES_PER_COUNT, count - first)
    const slots = Array.from({ length: n }, (_, i) => names.slot(first + i))
    const row = await session.row(`SELECT ${Array(n).fill(check).join(' + ')} AS held`, slots)
    held += Number(row?.held ?? 0)
  }
  return held
}

/** What the semaphore's fence row says: the last grant's fence and recorded limit; undefined without a row. */
export async function readSemaphoreRow(
  session: LockSession,
  names: SemaphoreNames,
): Promise<{ fence: bigint; limit: number | undefined } | undefined> {
  let row: Record<string, unknown> | undefined
  try {
    row = await session.row(`SELECT fence, owner FROM ${session.statements.table} WHERE name = ?`, [
      names.base,
    ])
  } catch (err) {
    if ((err as { errno?: unknown }).errno === ER_NO_SUCH_TABLE) return undefined
    throw err
  }
  if (row === undefined) return undefined
  return { fence: BigInt(String(row.fence)), limit: taggedLimit(row.owner) }
}

/** Releases whichever of `slots` this session holds (a failed or given-up try: S4); drops the session on doubt. */
export async function sweepSlots(session: LockSession, slots: readonly string[]): Promise<void> {
  if (slots.length === 0) return
  const each = 'IF(IS_USED_LOCK(?) = CONNECTION_ID(), RELEASE_LOCK(?), NULL)'
  try {
    await session.query(
      `SELECT ${Array(slots.length).fill(each).join(', ')}`,
      slots.flatMap((s) => [s, s]),
    )
  } catch {
    if (!session.ended) session.destroy()
  }
}
