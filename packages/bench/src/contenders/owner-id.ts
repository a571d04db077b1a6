import { randomFillSync } from 'node:crypto'

const ID_BYTES = 16
const pool = Buffer.alloc(ID_BYTES * 256)
let offset = pool.length

/**
 * A random 128-bit owner id (32 lowercase hex), drawn like core's `newOwnerId`: from the OS
 * CSPRNG in batches of 256 ids, so a floor pays for its owner ids what Baton pays.
 */
export function ownerId(): string {
  if (offset >= pool.length) {
    randomFillSync(pool)
    offset = 0
  }
  const id = pool.toString('hex', offset, offset + ID_BYTES)
  offset += ID_BYTES
  return id
}
