import { describe, expect, test } from 'vitest'
import type { StoreEntry } from '../src/history.js'
import {
  checkH1,
  checkHistory,
  checkL1,
  checkL3,
  checkN1,
  checkS1,
  checkS3,
  checkS4,
  checkStore,
} from '../src/index.js'
import { History } from './history-builder.js'

const entry = (
  seq: number,
  client: string,
  op: number,
  fence: number,
  readValue: number,
  accepted: boolean,
  seenFence = fence,
): StoreEntry => ({
  seq,
  client,
  op,
  fence: String(fence),
  readValue,
  value: readValue + 1,
  accepted,
  lastFence: '0',
  seenFence: String(seenFence),
})

describe('S1: validity windows never overlap', () => {
  test('back-to-back windows pass', () => {
    const h = new History().grant('a', 1, 0, 100, 1).release('a', 1, 50).grant('b', 1, 51, 150, 2)
    expect(checkS1(h.events)).toEqual([])
  })
  test('a grant inside an earlier window is flagged, naming both handles', () => {
    const h = new History().grant('a', 1, 0, 100, 1).grant('b', 1, 60, 160, 2)
    const [v, ...rest] = checkS1(h.events)
    expect(rest).toEqual([])
    expect(v?.checker).toBe('S1')
    expect(v?.message).toContain('b#1')
    expect(v?.message).toContain('a#1')
  })
  test('a renewal that extends the window past the next grant is flagged', () => {
    const h = new History()
      .grant('a', 1, 0, 100, 1)
      .extend('a', 1, 30, 200)
      .grant('b', 1, 150, 250, 2)
    expect(checkS1(h.events).map((v) => v.checker)).toEqual(['S1'])
  })
  test('a window cut short by the loss signal or an invalid check does not overlap what follows', () => {
    const h = new History().grant('a', 1, 0, 100, 1).lost('a', 1, 40).grant('b', 1, 50, 150, 2)
    expect(checkS1(h.events)).toEqual([])
    const i = new History().grant('a', 1, 0, 100, 1).invalid('a', 1, 40).grant('b', 1, 50, 150, 2)
    expect(checkS1(i.events)).toEqual([])
  })
  test('a SIGKILLed holder holds nothing after its death', () => {
    const h = new History()
      .grant('a', 1, 0, 1000, 1)
      .push({
        type: 'nemesis',
        name: 'holder-kill',
        phase: 'start',
        t: 100,
        target: 'a',
        holder: { client: 'a', op: 1 },
      })
      .grant('b', 1, 110, 1100, 2)
    expect(checkS1(h.events)).toEqual([])
    const paused = new History()
      .grant('a', 1, 0, 1000, 1)
      .push({
        type: 'nemesis',
        name: 'holder-pause',
        phase: 'start',
        t: 100,
        target: 'a',
        holder: { client: 'a', op: 1 },
      })
      .grant('b', 1, 110, 1100, 2)
    expect(checkS1(paused.events)).toHaveLength(1)
  })
  test('a long window overlapping a later, non-adjacent grant is found', () => {
    const h = new History()
      .grant('a', 1, 0, 1000, 1)
      .grant('b', 1, 10, 20, 2)
      .release('b', 1, 15)
      .grant('c', 1, 500, 600, 3)
    expect(checkS1(h.events)).toHaveLength(2)
  })
})

describe('S3: fences strictly increase in grant order', () => {
  test('increasing fences pass', () => {
    const h = new History().grant('a', 1, 0, 10, 1).release('a', 1, 5).grant('b', 1, 11, 20, 7)
    expect(checkS3(h.events)).toEqual([])
  })
  test('a repeated fence is flagged', () => {
    const h = new History().grant('a', 1, 0, 10, 1).release('a', 1, 5).grant('b', 1, 11, 20, 1)
    expect(checkS3(h.events).map((v) => v.checker)).toEqual(['S3'])
  })
  test('a lower fence later is flagged; a grant that arrived already expired does not count', () => {
    const h = new History().grant('a', 1, 0, 10, 5).release('a', 1, 5).grant('b', 1, 11, 20, 3)
    expect(checkS3(h.events)).toHaveLength(1)
    const late = new History()
      .grant('a', 1, 0, 10, 5)
      .grant('b', 1, 11, 11, 3)
      .grant('c', 1, 12, 20, 6)
    expect(checkS3(late.events)).toEqual([])
  })
})

describe('W1: the fenced store', () => {
  test('a clean sequence passes and counts accepted writes', () => {
    const h = new History()
      .grant('a', 1, 0, 100, 1)
      .write('a', 1, 10, 1, 1)
      .release('a', 1, 20)
      .grant('b', 1, 21, 120, 2)
      .write('b', 1, 30, 2, 2)
      .release('b', 1, 40)
    const r = checkStore(h.events, [entry(1, 'a', 1, 1, 0, true), entry(2, 'b', 1, 2, 1, true)])
    expect(r.violations).toEqual([])
    expect(r.summary).toMatchObject({ accepted: 2, rejectedByFence: 0, finalValue: 2 })
  })
  test('a lost update (two writes from one read) is flagged', () => {
    const h = new History()
      .grant('a', 1, 0, 100, 1)
      .write('a', 1, 10, 1, 1)
      .grant('b', 1, 101, 200, 2)
      .write('b', 1, 110, 2, 1)
    const r = checkStore(h.events, [entry(1, 'a', 1, 1, 0, true), entry(2, 'b', 1, 2, 0, true)])
    expect(r.violations.map((v) => v.message)).toEqual([expect.stringContaining('lost update')])
  })
  test('a write sent after its window without a check inside it is flagged, accepted or refused', () => {
    const h = new History()
      .grant('a', 1, 0, 100, 1)
      .grant('b', 1, 101, 300, 2)
      .write('a', 1, 150, 1, 1) // a's window ended at 100, and a never checked
      .write('b', 1, 160, 2, 2)
    const accepted = checkStore(h.events, [
      entry(1, 'a', 1, 1, 0, true),
      entry(2, 'b', 1, 2, 1, true),
    ])
    expect(accepted.violations.map((v) => v.message)).toEqual([
      expect.stringContaining('stale write accepted'),
    ])
    const rejected = checkStore(h.events, [
      entry(1, 'b', 1, 2, 0, true),
      entry(2, 'a', 1, 1, 0, false, 2),
    ])
    expect(rejected.violations.map((v) => v.message)).toEqual([
      expect.stringContaining('without a check inside its window'),
    ])
    expect(rejected.summary).toMatchObject({ rejectedByFence: 1, staleRejected: 1 })
  })
  // a checked at 90 (valid until 100), was stopped from 91 to 400 and sent its write at 400;
  // b was granted at 101 and reads and writes after a's write, or before it.
  const stoppedAfterCheck = () =>
    new History()
      .grant('a', 1, 0, 100, 1)
      .valid('a', 1, 90, 100, 400)
      .grant('b', 1, 101, 600, 2)
      .write('a', 1, 400, 1, 1)
      .lag('a', 91, 405)
      .write('b', 1, 450, 2, 2)
  test('a write checked inside its window and delayed by a stop of its process: the fence decides', () => {
    // refused (b had read first): fencing saved the store
    const refused = checkStore(stoppedAfterCheck().events, [
      entry(1, 'a', 1, 1, 0, false, 2),
      entry(2, 'b', 1, 2, 0, true),
    ])
    expect(refused.violations).toEqual([])
    expect(refused.summary).toMatchObject({ rejectedByFence: 1, staleRejected: 1, lateAccepted: 0 })
    // accepted before b reached the store: b then builds on it, nothing lost
    const early = checkStore(stoppedAfterCheck().events, [
      entry(1, 'a', 1, 1, 0, true, 1),
      entry(2, 'b', 1, 2, 1, true),
    ])
    expect(early.violations).toEqual([])
    expect(early.summary).toMatchObject({ accepted: 2, lateAccepted: 1, finalValue: 2 })
    // accepted although b's read had presented fence 2: the fence failed
    const afterRead = checkStore(stoppedAfterCheck().events, [entry(1, 'a', 1, 1, 0, true, 2)])
    expect(afterRead.violations.map((v) => v.message)).toEqual([
      expect.stringContaining('after a newer holder reached the store'),
    ])
  })
  test('a late write is excused only by a stop between its in-window check and the send', () => {
    const store = [entry(1, 'a', 1, 1, 0, true, 1)]
    const flagged = (h: History) => checkStore(h.events, store).violations.map((v) => v.checker)
    // no stop recorded: 310 ms between the check and the send are not the client's own steps
    const noLag = new History()
      .grant('a', 1, 0, 100, 1)
      .valid('a', 1, 90, 100)
      .write('a', 1, 400, 1, 1)
    expect(flagged(noLag)).toEqual(['W1'])
    // a stop before the check, or one far shorter than the gap, does not explain it
    expect(flagged(noLag.lag('a', 20, 60))).toEqual(['W1'])
    const short = new History()
      .grant('a', 1, 0, 100, 1)
      .valid('a', 1, 90, 100)
      .lag('a', 91, 150)
      .write('a', 1, 400, 1, 1)
    expect(flagged(short)).toEqual(['W1'])
    // the check itself after the window's end (the handle was lost at 80) excuses nothing
    const lateCheck = new History()
      .grant('a', 1, 0, 100, 1)
      .lost('a', 1, 80)
      .valid('a', 1, 90, 100, 400)
      .lag('a', 91, 405)
      .write('a', 1, 400, 1, 1)
    expect(flagged(lateCheck)).toEqual(['W1'])
    // the same stop spanning the gap, and a check inside the window: excused
    expect(flagged(stoppedAfterCheck())).toEqual([])
    // a send within the client's own synchronous steps of the check, just past the end
    const sync = new History()
      .grant('a', 1, 0, 100, 1)
      .valid('a', 1, 99.99, 100)
      .write('a', 1, 100.2, 1, 1)
    expect(flagged(sync)).toEqual([])
  })
})

describe('N1: the loss signal is no later than the end of validity', () => {
  test('a signal at validUntil passes; one 500 ms later is flagged', () => {
    const ok = new History().grant('a', 1, 0, 100, 1).lost('a', 1, 101).release('a', 1, 120)
    expect(checkN1(ok.events)).toEqual([])
    const late = new History()
      .grant('a', 1, 0, 100, 1)
      .invalid('a', 1, 105)
      .release('a', 1, 110)
      .lost('a', 1, 600)
    expect(checkN1(late.events).map((v) => v.checker)).toEqual(['N1'])
  })
  test('a handle that expired before its release and never signalled is flagged', () => {
    const h = new History().grant('a', 1, 0, 100, 1).invalid('a', 1, 300).release('a', 1, 310)
    expect(checkN1(h.events)).toHaveLength(1)
  })
  test('time the client was stopped is excused; a release while valid owes nothing', () => {
    const stopped = new History()
      .grant('a', 1, 0, 100, 1)
      .lag('a', 50, 900)
      .lost('a', 1, 905)
      .release('a', 1, 910)
    expect(checkN1(stopped.events)).toEqual([])
    const released = new History().grant('a', 1, 0, 100, 1).release('a', 1, 50)
    expect(checkN1(released.events)).toEqual([])
  })
  test('a release right after a stop that outlasted validity owes no signal, unless it was seen invalid', () => {
    const h = new History().grant('a', 1, 0, 100, 1).lag('a', 50, 900).release('a', 1, 890)
    expect(checkN1(h.events)).toEqual([])
    const seen = new History()
      .grant('a', 1, 0, 100, 1)
      .lag('a', 50, 900)
      .invalid('a', 1, 885)
      .release('a', 1, 890)
    expect(checkN1(seen.events)).toHaveLength(1)
  })
  test('a client killed while valid is not judged', () => {
    const h = new History().grant('a', 1, 0, 100, 1)
    expect(checkN1(h.events)).toEqual([])
  })
})

describe('L1: takeover and recovery within the bound', () => {
  const bounds = {
    'holder-kill': { measure: 'takeover' as const, boundMs: 1_000 },
    'server-kill': { measure: 'recovery' as const, boundMs: 1_000 },
  }
  test('takeover by another client within the bound passes and is measured', () => {
    const h = new History()
      .grant('a', 1, 0, 1000, 1)
      .push({
        type: 'nemesis',
        name: 'holder-kill',
        phase: 'start',
        t: 10,
        holder: { client: 'a', op: 1 },
      })
      .grant('a', 2, 20, 1000, 2) // the victim itself does not count
      .grant('b', 1, 600, 1600, 3)
    const r = checkL1(h.events, bounds)
    expect(r.violations).toEqual([])
    expect(r.measurements).toEqual([
      { nemesis: 'holder-kill', measure: 'takeover', ms: 590, boundMs: 1_000 },
    ])
  })
  test('a late takeover, and a recovery that never came, are flagged', () => {
    const h = new History()
      .push({
        type: 'nemesis',
        name: 'holder-kill',
        phase: 'start',
        t: 0,
        holder: { client: 'a', op: 1 },
      })
      .grant('b', 1, 1500, 2000, 3)
      .push({ type: 'nemesis', name: 'server-kill', phase: 'heal', t: 3000 })
    expect(checkL1(h.events, bounds).violations.map((v) => v.checker)).toEqual(['L1', 'L1'])
  })
})

describe('L3: waits and aborts honoured within 100 ms', () => {
  test('a timeout 50 ms after waitMs passes; 300 ms after is flagged', () => {
    const ok = new History()
      .acquire('a', 1, 0, 200)
      .push({ type: 'timeout', client: 'a', op: 1, t: 250 })
    expect(checkL3(ok.events)).toEqual([])
    const late = new History()
      .acquire('a', 1, 0, 200)
      .push({ type: 'timeout', client: 'a', op: 1, t: 500 })
    expect(checkL3(late.events).map((v) => v.checker)).toEqual(['L3'])
  })
  test('an abort is due 100 ms after the abort, not after waitMs', () => {
    const h = new History()
      .acquire('a', 1, 0, 5_000)
      .push({ type: 'abort', client: 'a', op: 1, t: 400, abortedAt: 100 })
    expect(checkL3(h.events)).toHaveLength(1)
  })
  test('a grant after the wait ran out, and an acquire that never ended, are flagged; a stopped client is excused', () => {
    const grant = new History().acquire('a', 1, 0, 100).grant('a', 1, 400, 900, 1)
    expect(checkL3(grant.events)).toHaveLength(1)
    const hung = new History()
      .acquire('a', 1, 0, 100)
      .push({ type: 'end', client: 'a', t: 2_000, ops: 1 })
    expect(checkL3(hung.events)).toHaveLength(1)
    const stopped = new History()
      .acquire('a', 1, 0, 100)
      .lag('a', 50, 1_000)
      .push({ type: 'timeout', client: 'a', op: 1, t: 1_020 })
    expect(checkL3(stopped.events)).toEqual([])
  })
})

describe('S4 and H1: probes', () => {
  test('a key free within the bound passes; late or never is flagged', () => {
    const ok = {
      type: 's4' as const,
      kind: 'timeout' as const,
      t: 0,
      releasedAt: 10,
      freeAt: 20,
      boundMs: 500,
    }
    expect(checkS4([ok])).toEqual([])
    expect(
      checkS4([
        { ...ok, freeAt: 900 },
        { ...ok, kind: 'abort', freeAt: null },
      ]),
    ).toHaveLength(2)
  })
  test('leftovers are flagged with what was left', () => {
    const v = checkH1([
      { type: 'h1', t: 0, what: 'etcd leases', count: 0 },
      { type: 'h1', t: 0, what: 'advisory locks', count: 2 },
    ])
    expect(v.map((x) => x.message)).toEqual(['left behind: 2 advisory locks'])
  })
})

test('checkHistory counts every checker, zeros included', () => {
  const h = new History().grant('a', 1, 0, 100, 1).grant('b', 1, 50, 150, 1)
  const verdict = checkHistory(h.events, [], {})
  expect(verdict.counts).toEqual({ S1: 1, S3: 1, W1: 0, N1: 0, L1: 0, L3: 0, S4: 0, H1: 0 })
  expect(verdict.grants).toBe(2)
})
