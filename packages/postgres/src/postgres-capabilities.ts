import { defineCapabilities } from '@baton-lock/core/driver'

/**
 * What PostgreSQL session advisory locks promise (see README "Capabilities"); the same on
 * every server, so a constant. A lock lives as long as its session (`expiry: 'session'`);
 * the fence sequence is WAL-logged (`fencing: 'durable'`).
 */
export const POSTGRES_CAPABILITIES = defineCapabilities({
  expiry: 'session',
  ttlResolutionMs: 100,
  nativeWait: true,
  fair: false,
  // a waiting acquire's one driver call tries, then blocks in pg_advisory_lock (the
  // server's lock queue): core sends no try of its own in front (one round trip less)
  queuedWait: true,
  fencing: 'durable',
  lossSignal: true,
  maxKeyBytes: 65_536,
  inspect: true,
  sharedLocks: true,
  semaphores: true,
})
