import { driverRequest } from '@baton-lock/core/driver'
import { describe, expect, test } from 'vitest'
import { WaitStop } from '../src/wait-stop.js'

// What ends a wait early reaches its parts as plain callbacks (see wait-stop.ts): from the
// request's onAbort, from its signal when it has no onAbort, or from the driver's close.

function hub() {
  let listener: ((reason: unknown) => void) | undefined
  let removed = 0
  return {
    onAbort: (l: (reason: unknown) => void) => {
      listener = l
      return () => {
        removed++
        listener = undefined
      }
    },
    fire: (reason: unknown) => listener?.(reason),
    removed: () => removed,
  }
}

describe('WaitStop', () => {
  test("stops on the request's onAbort: callbacks once, with the reason, the signal made on demand; none after dispose", () => {
    const abort = hub()
    const live = new Set<WaitStop>()
    const req = { ...driverRequest('k'), onAbort: abort.onAbort }
    const stop = new WaitStop(req, live, new AbortController().signal)
    const heard: unknown[] = []
    stop.onStop((r) => heard.push(r))
    expect(live.has(stop)).toBe(true)
    abort.fire('timeout')
    abort.fire('again')
    expect(heard).toEqual(['timeout'])
    expect(stop.stopped).toBe(true)
    expect(stop.signal.reason).toBe('timeout')
    expect(live.has(stop)).toBe(false)
    stop.onStop((r) => heard.push(`late ${r}`))
    expect(heard).toEqual(['timeout', 'late timeout'])

    const other = hub()
    const kept = new WaitStop(
      { ...driverRequest('k'), onAbort: other.onAbort },
      live,
      new AbortController().signal,
    )
    kept.onStop((r) => heard.push(`kept ${r}`))
    kept.dispose()
    other.fire('after dispose')
    expect(other.removed()).toBe(1)
    expect(live.size).toBe(0)
    expect(kept.stopped).toBe(false)
    expect(heard).toEqual(['timeout', 'late timeout'])
  })

  test('without onAbort it follows the signal, and removes its listener on dispose', () => {
    const controller = new AbortController()
    const req = driverRequest('k', { signal: controller.signal })
    expect(req.onAbort).toBeUndefined()
    const live = new Set<WaitStop>()
    const stop = new WaitStop(req, live, new AbortController().signal)
    const heard: unknown[] = []
    stop.onStop((r) => heard.push(r))
    controller.abort('caller')
    expect(heard).toEqual(['caller'])

    const second = new AbortController()
    const disposed = new WaitStop(
      driverRequest('k', { signal: second.signal }),
      live,
      new AbortController().signal,
    )
    disposed.onStop((r) => heard.push(r))
    disposed.dispose()
    second.abort('too late')
    expect(heard).toEqual(['caller'])
    expect(disposed.stopped).toBe(false)
  })

  test('the driver closing (or closed) stops the wait', () => {
    const closing = new AbortController()
    closing.abort('closed')
    const stop = new WaitStop(driverRequest('k'), new Set(), closing.signal)
    expect(stop.stopped).toBe(true)
    expect(stop.signal.reason).toBe('closed')
    const heard: unknown[] = []
    stop.onStop((r) => heard.push(r))
    expect(heard).toEqual(['closed'])
  })
})
