import { afterEach, describe, expect, test, vi } from 'vitest'
import { RecentContention } from '../src/driver-kit/index.js'

describe('RecentContention (driver kit)', () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  test('a noted key is recent for one second, then not; forget ends it at once', () => {
    vi.useFakeTimers({ toFake: ['performance'] })
    const recent = new RecentContention<bigint>()
    expect(recent.isRecent(1n)).toBe(false)
    recent.note(1n)
    recent.note(2n)
    expect(recent.isRecent(1n)).toBe(true)
    vi.advanceTimersByTime(999)
    expect(recent.isRecent(1n)).toBe(true)
    recent.note(2n) // noted again: its second starts over
    vi.advanceTimersByTime(1)
    expect(recent.isRecent(1n)).toBe(false)
    expect(recent.isRecent(2n)).toBe(true)
    recent.forget(2n)
    expect(recent.isRecent(2n)).toBe(false)
  })

  test('keeps at most 1,024 keys, dropping the one noted longest ago', () => {
    const recent = new RecentContention()
    for (let i = 0; i <= 1_024; i++) recent.note(`k${i}`)
    expect(recent.isRecent('k0')).toBe(false)
    expect(recent.isRecent('k1')).toBe(true)
    expect(recent.isRecent('k1024')).toBe(true)
    recent.note('k1') // noted again: now the newest, so k2 goes next
    recent.note('extra')
    expect(recent.isRecent('k1')).toBe(true)
    expect(recent.isRecent('k2')).toBe(false)
  })
})
