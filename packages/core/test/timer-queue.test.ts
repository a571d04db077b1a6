import { describe, expect, it } from 'vitest'
import { type DueEntry, TimerQueue } from '../src/timer-queue.js'
import { CountingClock, FakeClock } from './fake-clock.js'

const T0 = 1_000

/** An entry that records the fake time of each call. */
function entry(clock: FakeClock, log: Array<[string, number]>, name: string): DueEntry {
  return {
    dueAtMs: 0,
    dueIndex: -1,
    dueSeq: 0,
    onDue: () => log.push([name, clock.now()]),
  }
}

function setUp() {
  const clock = new FakeClock(T0)
  const counting = new CountingClock(clock)
  const queue = new TimerQueue(counting)
  const log: Array<[string, number]> = []
  return { clock, counting, queue, log, make: (name: string) => entry(clock, log, name) }
}

describe('TimerQueue (fake clock)', () => {
  it('runs each entry at its own due time, in time order, on one clock timer', async () => {
    const { clock, counting, queue, log, make } = setUp()
    const times = [700, 100, 400, 100, 900, 250]
    times.forEach((dueMs, i) => {
      queue.schedule(make(`e${i}`), T0 + dueMs)
    })
    expect(counting.pendingTimers).toBe(1)
    await clock.advanceTo(T0 + 399)
    expect(log).toEqual([
      ['e1', T0 + 100],
      ['e3', T0 + 100],
      ['e5', T0 + 250],
    ])
    await clock.advanceTo(T0 + 1_000)
    expect(log.map(([name]) => name)).toEqual(['e1', 'e3', 'e5', 'e2', 'e0', 'e4'])
    expect(log.map(([, atMs]) => atMs - T0)).toEqual([100, 100, 250, 400, 700, 900])
    expect(queue.size).toBe(0)
    expect(counting.pendingTimers).toBe(0)
  })

  it('a cancelled entry never runs; a rescheduled one runs at its new time only', async () => {
    const { clock, queue, log, make } = setUp()
    const a = make('a')
    const b = make('b')
    const c = make('c')
    queue.schedule(a, T0 + 100)
    queue.schedule(b, T0 + 200)
    queue.schedule(c, T0 + 300)
    queue.cancel(a)
    queue.cancel(a) // twice is nothing
    queue.schedule(c, T0 + 50) // earlier than the timer was armed for
    queue.schedule(b, T0 + 500) // later
    await clock.advanceTo(T0 + 1_000)
    expect(log).toEqual([
      ['c', T0 + 50],
      ['b', T0 + 500],
    ])
    expect(a.dueIndex).toBe(-1)
  })

  it('keeps the timer armed when its entry is cancelled, then re-arms for the next entry', async () => {
    const { clock, counting, queue, log, make } = setUp()
    const first = make('first')
    queue.schedule(first, T0 + 100)
    queue.cancel(first)
    // the usual acquire+release cycle: no clear, no re-arm
    expect(counting.pendingTimers).toBe(1)
    queue.schedule(make('later'), T0 + 300)
    expect(counting.pendingTimers).toBe(1)
    await clock.advanceTo(T0 + 150)
    expect(log).toEqual([])
    expect(counting.pendingTimers).toBe(1)
    await clock.advanceTo(T0 + 300)
    expect(log).toEqual([['later', T0 + 300]])
    expect(counting.pendingTimers).toBe(0)
  })

  it('runs an entry scheduled by another entry on a later timer, never in the same loop', async () => {
    const { clock, queue, log, make } = setUp()
    const again = make('again')
    const first: DueEntry = {
      dueAtMs: 0,
      dueIndex: -1,
      dueSeq: 0,
      onDue: () => {
        log.push(['first', clock.now()])
        queue.schedule(again, clock.now()) // due at once
      },
    }
    queue.schedule(first, T0 + 10)
    await clock.advanceTo(T0 + 10)
    expect(log).toEqual([
      ['first', T0 + 10],
      ['again', T0 + 10],
    ])
  })

  it('an entry that throws does not stop the others', async () => {
    const { clock, queue, log, make } = setUp()
    const thrown: unknown[] = []
    const original = queueMicrotask
    globalThis.queueMicrotask = (fn) =>
      original(() => {
        try {
          fn()
        } catch (err) {
          thrown.push(err)
        }
      })
    try {
      queue.schedule(
        {
          dueAtMs: 0,
          dueIndex: -1,
          dueSeq: 0,
          onDue: () => {
            throw new Error('boom')
          },
        },
        T0 + 10,
      )
      queue.schedule(make('after'), T0 + 10)
      await clock.advanceTo(T0 + 10)
    } finally {
      globalThis.queueMicrotask = original
    }
    expect(log).toEqual([['after', T0 + 10]])
    expect(thrown).toEqual([new Error('boom')])
  })

  it('a deadline past the longest Node timer re-arms instead of running early', async () => {
    const { clock, counting, queue, log, make } = setUp()
    const farMs = 40 * 86_400_000 // 40 days
    queue.schedule(make('far'), T0 + farMs)
    await clock.advanceTo(T0 + 2_147_483_647)
    expect(log).toEqual([])
    expect(counting.pendingTimers).toBe(1)
    await clock.advanceTo(T0 + farMs)
    expect(log).toEqual([['far', T0 + farMs]])
  })

  it('stop clears the timer and forgets every entry', async () => {
    const { clock, counting, queue, log, make } = setUp()
    const a = make('a')
    queue.schedule(a, T0 + 10)
    queue.schedule(make('b'), T0 + 20)
    queue.stop()
    expect(counting.pendingTimers).toBe(0)
    expect(queue.size).toBe(0)
    expect(a.dueIndex).toBe(-1)
    await clock.advanceTo(T0 + 100)
    expect(log).toEqual([])
  })

  it('keeps heap order through many random schedules and cancels', async () => {
    const { clock, queue, log, make } = setUp()
    const entries = Array.from({ length: 200 }, (_, i) => make(`e${i}`))
    const due = new Map<string, number>()
    let seed = 12345
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31
      return seed / 2 ** 31
    }
    for (let round = 0; round < 1_000; round++) {
      const i = Math.floor(random() * entries.length)
      const e = entries[i] as DueEntry
      if (random() < 0.3) {
        queue.cancel(e)
        due.delete(`e${i}`)
      } else {
        const atMs = T0 + 1 + Math.floor(random() * 500)
        queue.schedule(e, atMs)
        due.set(`e${i}`, atMs)
      }
    }
    expect(queue.size).toBe(due.size)
    await clock.advanceTo(T0 + 1_000)
    expect(log).toHaveLength(due.size)
    for (const [name, atMs] of log) expect(atMs).toBe(due.get(name))
    const firedAt = log.map(([, atMs]) => atMs)
    expect(firedAt).toEqual([...firedAt].sort((x, y) => x - y))
  })
})
