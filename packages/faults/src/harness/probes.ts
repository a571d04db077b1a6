import { setTimeout as sleep } from 'node:timers/promises'
import { LockAbortedError, type LockDriver, Locker, LockTimeoutError } from '@baton-lock/core'
import { type HistoryEvent, nowMs } from '../history.js'
import type { Deployment } from './deployment.js'

type S4 = Extract<HistoryEvent, { type: 's4' }>
type H1 = Extract<HistoryEvent, { type: 'h1' }>

/** How long the probe's holder waits for the key (it is free unless the run left it taken). */
const HOLDER_WAIT_MS = 10_000

/**
 * S4 probe, with the harness's own Lockers on the deployment: a holder, then an acquire behind
 * it that times out (or is aborted); the holder releases, and a fresh tryAcquire must succeed
 * within the bound: the given-up attempt left nothing held.
 *
 * The bound is counted from the moment the holder's release returned (the key is deleted on
 * the server from then on), and the checking Locker has already talked to the server (one
 * lock on another key), so that neither the holder's release round trip nor the checker's
 * first connection and lease grant, each of which can take over a second on a loaded
 * machine with a 3-member cluster (issue #19), is counted as the given-up attempt's leftover.
 * Both are recorded (`releaseMs`, `attempts`) so that a report shows what the window held.
 */
export async function probeS4(d: Deployment, key: string): Promise<S4[]> {
  const boundMs = Math.min(1_000, d.ttlMs / 2)
  const out: S4[] = []
  for (const kind of ['timeout', 'abort'] as const) {
    const drivers = await Promise.all([0, 1, 2].map(() => d.driver()))
    const lockers = drivers.map((driver) => new Locker(driver, { ttlMs: d.ttlMs }))
    const [holderLocker, waiter, checker] = lockers as [Locker, Locker, Locker]
    try {
      // The checker's driver connects (and, on lease backends, gets its lease) before the window.
      const warm = await checker.acquire(`${key}:s4-checker`, { waitMs: 10_000 })
      await warm.release()
      const held = await holderLocker.acquire(key, { waitMs: HOLDER_WAIT_MS }).catch((err) => {
        if (err instanceof LockTimeoutError) return null
        throw err
      })
      if (held === null) {
        const at = nowMs()
        const blocker = await blockerOf(d, drivers, key)
        out.push({
          type: 's4',
          kind,
          blocker,
          t: at,
          releasedAt: at,
          freeAt: null,
          takenBeforeMs: HOLDER_WAIT_MS,
          boundMs,
        })
        continue
      }
      const signal = kind === 'abort' ? AbortSignal.timeout(150) : undefined
      let gaveUpAt = 0
      try {
        await waiter.acquire(key, {
          waitMs: kind === 'timeout' ? 150 : 5_000,
          ...(signal ? { signal } : {}),
        })
        throw new Error(`S4 probe: the ${kind} acquire was granted while another held the key`)
      } catch (err) {
        if (!(err instanceof LockTimeoutError || err instanceof LockAbortedError)) throw err
        gaveUpAt = nowMs()
      }
      const releaseStartedAt = nowMs()
      await held.release()
      const releasedAt = nowMs()
      let freeAt: number | null = null
      let attempts = 0
      const deadline = performance.now() + boundMs * 4
      while (performance.now() < deadline) {
        attempts++
        const handle = await checker.tryAcquire(key)
        if (handle) {
          freeAt = nowMs()
          await handle.release()
          break
        }
        await sleep(10)
      }
      const blocker = freeAt === null ? await blockerOf(d, drivers, key) : undefined
      out.push({
        type: 's4',
        kind,
        ...(blocker === undefined ? {} : { blocker }),
        t: gaveUpAt,
        releasedAt,
        releaseMs: releasedAt - releaseStartedAt,
        freeAt,
        attempts,
        boundMs,
      })
    } finally {
      await Promise.allSettled(lockers.map((l) => l.close()))
    }
  }
  return out
}

/**
 * What each of the probe's drivers (holder, waiter, checker) reports for a key that stayed
 * taken, and where the deployment can say so, what each member reports on its own.
 */
async function blockerOf(
  d: Deployment,
  drivers: readonly LockDriver[],
  key: string,
): Promise<string> {
  const names = ['holder', 'waiter', 'checker']
  const seen = await Promise.all(
    drivers.map((driver, i) =>
      (driver.inspect?.(key) ?? Promise.resolve(undefined)).then(
        (info) => `${names[i]}: ${JSON.stringify(info, bigintAsText)}`,
        (err: unknown) => `${names[i]}: inspect failed (${String(err)})`,
      ),
    ),
  )
  const members = await d.memberViews?.(key).catch((err: unknown) => `failed (${String(err)})`)
  return members === undefined ? seen.join('; ') : `${seen.join('; ')}; members: ${members}`
}

const bigintAsText = (_: string, v: unknown) => (typeof v === 'bigint' ? String(v) : v)

/**
 * H1: what is left on the backend once every client is gone. Lease backends keep a killed
 * client's lease until its TTL, so this polls (up to 1.5 TTL + 3 s) until all counts are 0.
 */
export async function probeH1(d: Deployment, key: string): Promise<H1[]> {
  const deadline = performance.now() + d.ttlMs * 1.5 + 3_000
  for (;;) {
    const counts = await leftovers(d, key)
    if (counts.every((c) => c.count === 0) || performance.now() > deadline) return counts
    await sleep(100)
  }
}

async function leftovers(d: Deployment, key: string): Promise<H1[]> {
  const t = nowMs()
  const out: H1[] = []
  let driver: LockDriver | undefined
  try {
    driver = await d.driver()
    const info = await driver.inspect?.(key)
    out.push({ type: 'h1', t, what: 'held key (inspect)', count: info?.held ? 1 : 0 })
    const listed = (await driver.list?.('faults/')) ?? []
    out.push({
      type: 'h1',
      t,
      what: 'listed locks',
      count: listed.length,
      detail: listed
        .map((l) => l.key)
        .slice(0, 5)
        .join(', '),
    })
  } catch (err) {
    out.push({
      type: 'h1',
      t,
      what: 'inspect failed',
      count: 1,
      detail: err instanceof Error ? err.message : String(err),
    })
  } finally {
    await driver?.close().catch(() => undefined)
  }
  for (const l of await d
    .serverLeftovers()
    .catch((err) => [{ what: 'server check failed', count: 1, detail: String(err) }]))
    out.push({ type: 'h1', t, ...l })
  return out
}
