import { describe, expect, it } from 'vitest'
import { sleepUntilWoken, wake, wakeId } from '../src/wake-registry.js'

describe('wake registry', () => {
  it('ends a long sleep at once when the same key on the same file is woken', async () => {
    const id = wakeId('/tmp/a.db', 'k')
    const startMs = performance.now()
    const sleeping = sleepUntilWoken(id, 60_000, new AbortController().signal)
    wake(wakeId('/tmp/b.db', 'k')) // another file: no effect
    wake(wakeId('/tmp/a.db', 'K')) // another key: no effect
    setTimeout(() => wake(id), 20)
    await sleeping
    expect(performance.now() - startMs).toBeLessThan(10_000)
  })

  it('ends a sleep when the signal aborts, and after its time otherwise', async () => {
    const controller = new AbortController()
    const sleeping = sleepUntilWoken(wakeId('f', 'k'), 60_000, controller.signal)
    controller.abort()
    await sleeping
    const startMs = performance.now()
    await sleepUntilWoken(wakeId('f', 'k'), 30, new AbortController().signal)
    expect(performance.now() - startMs).toBeGreaterThanOrEqual(25)
  })
})
