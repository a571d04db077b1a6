import type { LockInfo } from './driver.js'
import { isLockError, LockAbortedError } from './errors.js'
import type { LockHandle } from './lock-handle.js'
import type { CampaignOptions, LeadOptions } from './locker-options.js'
import { sleep } from './sleep.js'

/** What an election needs from its Locker. */
export interface ElectionHost {
  acquire(options: CampaignOptions): Promise<LockHandle>
  inspect(): Promise<LockInfo>
}

/** The current leader as the backend reports it. */
export interface LeaderInfo {
  /** The leader's advertised value, where the backend stores it (etcd, ZooKeeper, Redis, SQLite, memory). */
  readonly value?: string
  /** The leadership's fence, where the backend can tell. */
  readonly fence?: bigint
  /** The leadership's owner id, where the backend can tell. */
  readonly owner?: string
  /** The leadership's remaining lease in ms, where the backend can tell. */
  readonly ttlRemainingMs?: number
}

/** Pause between losing leadership and campaigning again (`recampaign`). */
const RECAMPAIGN_PAUSE_MS = 200

/**
 * A leader election made by `locker.election(key, options)`. The leader holds the key's
 * exclusive lock, so leadership is an ordinary `LockHandle`: its fence orders the leaders'
 * writes, its `signal` aborts the moment leadership is lost, and it is renewed in the
 * background. One Election object campaigns for one candidate at a time.
 */
export class Election {
  /** The user's key, without namespace. */
  readonly key: string
  /** What this candidate advertises while it leads. */
  readonly value: string
  readonly #host: ElectionHost
  #leadership: LockHandle | undefined
  #campaign: { readonly promise: Promise<LockHandle>; readonly stop: AbortController } | undefined
  /** Aborted by `resign()` while `lead()` runs `fn`, so that `fn` is told to stop. */
  #term: AbortController | undefined

  constructor(key: string, value: string, host: ElectionHost) {
    this.key = key
    this.value = value
    this.#host = host
  }

  /** The leadership while this candidate leads and it is valid; otherwise undefined. */
  get leadership(): LockHandle | undefined {
    return this.#leadership?.isValid() === true ? this.#leadership : undefined
  }

  /** True while this candidate leads (a synchronous clock check, like `isValid()`). */
  isLeader(): boolean {
    return this.leadership !== undefined
  }

  /**
   * Waits until this candidate leads and returns the leadership. While it leads already,
   * returns the same leadership; while a campaign runs, joins it. `resign()` stops a
   * campaign with `LockAbortedError`.
   */
  campaign(options: CampaignOptions = {}): Promise<LockHandle> {
    const current = this.leadership
    if (current !== undefined) return Promise.resolve(current)
    if (this.#campaign !== undefined) return this.#campaign.promise
    if (options === null || typeof options !== 'object') {
      return Promise.reject(new TypeError('campaign options must be an object'))
    }
    const stop = new AbortController()
    const signal =
      options.signal === undefined ? stop.signal : AbortSignal.any([stop.signal, options.signal])
    let asked: Promise<LockHandle>
    try {
      asked = this.#host.acquire({ waitMs: options.waitMs ?? Number.POSITIVE_INFINITY, signal })
    } catch (err) {
      // Bad options or a closed Locker: a rejection, like every other failure of campaign().
      return Promise.reject(err)
    }
    const promise = asked
      .then(
        async (leadership) => {
          // resign() struck while the grant was on its way: it must not lead.
          if (stop.signal.aborted) {
            await leadership.release().catch(() => undefined)
            throw new LockAbortedError(this.key, 'resigned')
          }
          this.#leadership = leadership
          return leadership
        },
        (err: unknown) => {
          if (stop.signal.aborted && isLockError(err, 'LOCK_ABORTED')) {
            throw new LockAbortedError(this.key, 'resigned')
          }
          throw err
        },
      )
      .finally(() => {
        if (this.#campaign?.promise === promise) this.#campaign = undefined
      })
    this.#campaign = { promise, stop }
    return promise
  }

  /** Gives up leadership (releasing the lock) or stops a running campaign; idempotent. */
  async resign(): Promise<void> {
    this.#campaign?.stop.abort()
    this.#term?.abort(new LockAbortedError(this.key, 'resigned'))
    const leadership = this.#leadership
    this.#leadership = undefined
    await leadership?.release()
  }

  /**
   * The current leader as the backend reports it, whoever it is; null when nobody leads.
   * Needs a driver with `inspect` (`LockUnsupportedError` otherwise).
   */
  async leader(): Promise<LeaderInfo | null> {
    const info = await this.#host.inspect()
    // Shared holders of the key (a reader of the same lock) are no leader.
    if (!info.held || info.mode === 'shared') return null
    const { value, fence, owner, ttlRemainingMs } = info
    return {
      ...(value === undefined ? {} : { value }),
      ...(fence === undefined ? {} : { fence }),
      ...(owner === undefined ? {} : { owner }),
      ...(ttlRemainingMs === undefined ? {} : { ttlRemainingMs }),
    }
  }

  /**
   * Campaigns, then runs `fn` while this candidate leads. `fn` gets the leadership and a
   * signal that aborts when leadership is lost or `options.signal` aborts; it should
   * return then. When `fn` returns, the candidate resigns and `lead` resolves, unless the
   * leadership was lost and `recampaign` is set: then it campaigns again after a short
   * pause. When `fn` throws, the candidate resigns and `lead` rejects with that error.
   * Aborting `options.signal`, or calling `resign()`, stops a campaign and aborts `fn`'s
   * signal (reason `LockAbortedError` for `resign()`); `lead` resolves once `fn` returned.
   */
  async lead(
    fn: (leadership: LockHandle, signal: AbortSignal) => unknown,
    options: LeadOptions = {},
  ): Promise<void> {
    if (typeof fn !== 'function') throw new TypeError(`lead needs a function, got ${typeof fn}`)
    const { recampaign = false, signal } = options
    for (;;) {
      if (signal?.aborted) return
      let leadership: LockHandle
      try {
        leadership = await this.campaign(signal === undefined ? {} : { signal })
      } catch (err) {
        if (isLockError(err, 'LOCK_ABORTED')) return
        throw err
      }
      const term = new AbortController()
      this.#term = term
      const stops = [leadership.signal, term.signal]
      const running = AbortSignal.any(signal === undefined ? stops : [...stops, signal])
      try {
        await fn(leadership, running)
      } catch (err) {
        await this.resign()
        throw err
      } finally {
        if (this.#term === term) this.#term = undefined
      }
      const lost = leadership.state === 'lost'
      await this.resign()
      // A resign() while fn ran ends lead() like its signal does: no new campaign.
      if (!lost || !recampaign || signal?.aborted || term.signal.aborted) return
      await sleep(RECAMPAIGN_PAUSE_MS, signal)
    }
  }
}
