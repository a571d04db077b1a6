import { readFileSync } from 'node:fs'

/**
 * One line of a history. Every time `t` (and `validUntil`, `from`, `to`) is milliseconds on the
 * host's monotonic clock, `Number(process.hrtime.bigint()) / 1e6`: CLOCK_MONOTONIC is one clock
 * for every process on a host, so the histories of separate client processes line up.
 * `client` names a client process, `op` numbers its acquire attempts; (client, op) is a handle.
 */
export type HistoryEvent =
  | { type: 'start'; client: string; t: number; pid: number }
  | {
      type: 'acquire'
      client: string
      op: number
      t: number
      waitMs: number
      abortAfterMs?: number
    }
  | { type: 'grant'; client: string; op: number; t: number; fence: string; validUntil: number }
  | { type: 'timeout'; client: string; op: number; t: number }
  | { type: 'abort'; client: string; op: number; t: number; abortedAt: number }
  | { type: 'acquire-error'; client: string; op: number; t: number; error: string }
  /** `validUntil` moved (a renewal confirmed), seen by the client's 10 ms sampler. */
  | { type: 'extend'; client: string; op: number; t: number; validUntil: number }
  | { type: 'read'; client: string; op: number; t: number; value: number; fence: string }
  /**
   * `isValid()` returned true just before a write: `checkedAt` is when it was called (older
   * histories: `t`), `validUntil` the validity end then.
   */
  | {
      type: 'valid'
      client: string
      op: number
      t: number
      checkedAt?: number
      validUntil: number
    }
  /** The first time the client saw `isValid()` false for this handle (before releasing it). */
  | { type: 'invalid'; client: string; op: number; t: number }
  /** The client did not write: the handle was no longer valid. */
  | { type: 'skip'; client: string; op: number; t: number }
  /** A write sent to the fenced store (`t`: just before sending). */
  | { type: 'write'; client: string; op: number; t: number; fence: string; value: number }
  | {
      type: 'write-result'
      client: string
      op: number
      t: number
      accepted: boolean | null
      error?: string
    }
  /** The handle's `signal` aborted. */
  | { type: 'lost'; client: string; op: number; t: number; reason: string }
  /** `release()` called (`t`: before the call). */
  | { type: 'release'; client: string; op: number; t: number }
  | { type: 'released'; client: string; op: number; t: number; error?: string }
  /** The client's event loop did not run from `from` to `to` (stopped, starved). */
  | { type: 'lag'; client: string; t: number; from: number; to: number }
  | { type: 'end'; client: string; t: number; ops: number }
  | NemesisEvent
  | ProbeEvent

/** What the harness did; `target` is a client or a server name. */
export interface NemesisEvent {
  type: 'nemesis'
  name: string
  phase: 'start' | 'heal'
  t: number
  target?: string
  /** For holder faults: the handle that held the key when the fault began. */
  holder?: { client: string; op: number }
}

/** Measurements the harness took itself (S4 probes, H1 leftovers). */
export type ProbeEvent =
  | {
      type: 's4'
      kind: 'timeout' | 'abort'
      /** When the acquire gave up (timeout or abort observed). */
      t: number
      /** When the holder's release returned, so the key should be free from then on. */
      releasedAt: number
      /** How long the holder's release took (not counted against the bound). */
      releaseMs?: number
      /** When a fresh tryAcquire first succeeded; null if never within the probe. */
      freeAt: number | null
      /** tryAcquire calls the checker made (1: the key was free at the first look). */
      attempts?: number
      /**
       * When the key never became free: what blocked it at the end of the window, as each
       * probe driver's inspect saw it (the one naming an owner holds the blocking lock).
       */
      blocker?: string
      /**
       * Set when the probe's holder waited this long for the key in vain: it was taken before
       * the probe began (left by the run), so no acquire was given up.
       */
      takenBeforeMs?: number
      boundMs: number
    }
  | { type: 'h1'; t: number; what: string; count: number; detail?: string }

/** One entry of the fenced store's own log (authoritative: what it accepted or rejected). */
export interface StoreEntry {
  seq: number
  client: string
  op: number
  fence: string
  /** The value the writer read before writing. */
  readValue: number
  value: number
  accepted: boolean
  /** The fence of the last accepted write when this one arrived. */
  lastFence: string
  /**
   * The highest fence any read or accepted write had presented when this write arrived (the
   * writer's own read included). The store accepts only a fence above `lastFence` and at least
   * this one. Absent in logs of stores that took fences on writes only.
   */
  seenFence?: string
}

/** Milliseconds on the shared monotonic clock. */
export function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6
}

/** Parses JSON lines; a torn last line (a client SIGKILLed mid-write) is dropped. */
export function parseJsonLines<T>(text: string): T[] {
  const out: T[] = []
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue
    try {
      out.push(JSON.parse(line) as T)
    } catch {
      // a line cut short by SIGKILL
    }
  }
  return out
}

export function readJsonLines<T>(path: string): T[] {
  return parseJsonLines<T>(readFileSync(path, 'utf8'))
}
