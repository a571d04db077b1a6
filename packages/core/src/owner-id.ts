import { randomFillSync } from 'node:crypto'

const ID_BYTES = 16
const pool = Buffer.alloc(ID_BYTES * 256)
let offset = pool.length

/**
 * A random 128-bit owner id as 32 lowercase hex characters, from the OS CSPRNG. Bytes are
 * drawn in batches so an acquire does not pay a system call each time.
 */
export function newOwnerId(): string {
  if (offset >= pool.length) {
    randomFillSync(pool)
    offset = 0
  }
  const id = pool.toString('hex', offset, offset + ID_BYTES)
  offset += ID_BYTES
  return id
}
