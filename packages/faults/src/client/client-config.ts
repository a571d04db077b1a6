/** What a client process is told (as JSON in argv[2]). */
export interface ClientConfig {
  client: string
  /** A lock URL for `connect()`, or `memory-bridge:` for the MemoryDriver the harness hosts. */
  url: string
  key: string
  ttlMs: number
  historyPath: string
  store: { kind: 'file' } | { kind: 'postgres'; url: string }
  /** Time between the store read and the write, ms: [min, max]. */
  holdMs: [number, number]
  waitMs: [number, number]
  /** Share of acquires aborted through their signal before waitMs runs out. */
  abortShare: number
  seed: number
  /** Negative controls (see `controls.ts`). */
  control?: Control
  /** Exits by itself after this long even if never told to stop. */
  maxRunMs: number
}

export type Control = 'renew-blind' | 'constant-fence' | 'late-signal' | 'no-check'

/** Messages between a client and the harness over the fork IPC channel. */
export type ToHarness =
  | { kind: 'event'; event: unknown }
  | { kind: 'store'; id: number; op: 'read'; fence: string }
  | {
      kind: 'store'
      id: number
      op: 'write'
      fence: string
      readValue: number
      value: number
      client: string
      clientOp: number
    }
  | {
      kind: 'driver'
      id: number
      op: 'acquire'
      req: { key: string; owner: string; ttlMs: number; waitMs: number }
    }
  | { kind: 'driver'; id: number; op: 'renew' | 'release'; lease: number; ttlMs?: number }
  | { kind: 'driver'; id: number; op: 'abort'; target: number }
  | { kind: 'driver'; id: number; op: 'capabilities' }

export type ToClient =
  | { kind: 'stop' }
  | { kind: 'reply'; id: number; result?: unknown; error?: string }
  | { kind: 'lease-lost'; lease: number }

/** A small seeded PRNG (mulberry32): schedules replay from their seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export const between = (rand: () => number, [min, max]: [number, number]): number =>
  Math.round(min + rand() * (max - min))
