import { randomBytes } from 'node:crypto'

/** A random 128-bit owner id (32 lowercase hex), as Baton makes one per acquisition. */
export function ownerId(): string {
  return randomBytes(16).toString('hex')
}
