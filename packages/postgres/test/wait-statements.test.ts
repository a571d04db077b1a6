import { Socket } from 'node:net'
import { type LockEvent, Locker } from '@baton-lock/core'
import { type DriverLease, driverRequest, uniqueKey } from '@baton-lock/core/driver'
import { startPostgres } from '@baton-lock/test-matrix'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { advisoryKey, PostgresDriver } from '../src/index.js'
import { holdersInSql, must, rawClient } from './driver-helpers.js'

// What a waiting acquire sends, counted on the wire (every socket write of this process):
// a try and then the wait the first time the key is found taken; while it stays contended,
// the wait alone (it tries first on the server and says whether it waited).

let server: Awaited<ReturnType<typeof startPostgres>>

beforeAll(async () => {
  server = await startPostgres()
})
afterAll(async () => {
  await server?.stop()
})

/**
 * Counts the Bind messages of each named statement this process writes to any socket (the
 * holders here are plain clients that send unnamed statements, so every `baton_*` Bind
 * is the driver's), until `restore()`.
 */
function countBinds() {
  const binds = new Map<string, number>()
  const write = Socket.prototype.write
  Socket.prototype.write = function (this: Socket, ...args: unknown[]) {
    const chunk = args[0]
    const text = Buffer.isBuffer(chunk) ? chunk.toString('latin1') : String(chunk)
    // Bind: 'B', int32 length, portal name (empty: a NUL), statement name, NUL
    for (const m of text.matchAll(/B[\s\S]{4}\0(baton_[a-z_]+)\0/g)) {
      const name = m[1] as string
      binds.set(name, (binds.get(name) ?? 0) + 1)
    }
    return (write as (...a: unknown[]) => boolean).apply(this, args)
  } as typeof write
  return {
    sent: () => ({ tries: binds.get('baton_try') ?? 0, waits: binds.get('baton_wait') ?? 0 }),
    restore: () => {
      Socket.prototype.write = write
    },
  }
}

/** A plain client holding `key`'s advisory lock, as psql would (`pg_advisory_lock`). */
async function plainHolder(url: string, key: string) {
  const client = await rawClient(url)
  const k = advisoryKey(key).toString()
  return {
    lock: () => client.query('SELECT pg_advisory_lock($1::bigint)', [k]),
    unlock: () => client.query('SELECT pg_advisory_unlock($1::bigint)', [k]),
    /** Starts `acquire` while holding the key and lets go 150 ms later (it waits meanwhile). */
    async handOverTo<T>(acquire: () => Promise<T>): Promise<T> {
      await this.lock()
      const waiting = acquire()
      await new Promise((r) => setTimeout(r, 150))
      await this.unlock()
      return waiting
    },
    end: () => client.end(),
  }
}

describe('a waiting acquire on the wire', () => {
  test('one try then the wait when the key is taken; the wait alone while it stays contended; a try again once it is free', async () => {
    const key = uniqueKey('wire')
    const holder = await plainHolder(server.url, key)
    const waiter = new PostgresDriver({ url: server.url })
    const client = await rawClient(server.url)
    const { sent, restore } = countBinds()
    try {
      // the first grant on a fresh server creates the fence sequence (its try runs twice)
      await waiter.release(must(await waiter.acquire(driverRequest(uniqueKey('warm')))))
      const contended: number[] = []
      const request = () =>
        driverRequest(key, { waitMs: 10_000, onContended: () => contended.push(1) })

      let before = sent()
      let lease: DriverLease = must(await holder.handOverTo(() => waiter.acquire(request())))
      // one try, one wait
      expect(sent()).toEqual({ tries: before.tries + 1, waits: before.waits + 1 })
      expect(contended).toHaveLength(1)
      await waiter.release(lease)

      // contended a moment ago, its session idle: the wait goes at once, without a try
      before = sent()
      lease = must(await holder.handOverTo(() => waiter.acquire(request())))
      expect(sent()).toEqual({ tries: before.tries, waits: before.waits + 1 })
      expect(contended).toHaveLength(2) // the server said it waited
      expect(await holdersInSql(client, key)).toHaveLength(1)
      await waiter.release(lease)
      expect(await holdersInSql(client, key)).toHaveLength(0) // held once: one unlock frees it

      // still remembered as contended, but free: the wait takes it at once and says so
      before = sent()
      lease = must(await waiter.acquire(request()))
      expect(sent()).toEqual({ tries: before.tries, waits: before.waits + 1 })
      expect(contended).toHaveLength(2)
      await waiter.release(lease)
      expect(await holdersInSql(client, key)).toHaveLength(0)

      // forgotten: the next acquire tries first again
      before = sent()
      lease = must(await waiter.acquire(request()))
      expect(sent()).toEqual({ tries: before.tries + 1, waits: before.waits })
      await waiter.release(lease)
    } finally {
      restore()
      await Promise.all([holder.end(), waiter.close(), client.end()])
    }
  })

  test('a wait sent without a try that times out reports contention and leaves nothing held', async () => {
    const key = uniqueKey('wire-timeout')
    const holder = await plainHolder(server.url, key)
    const waiter = new PostgresDriver({ url: server.url })
    const client = await rawClient(server.url)
    const { sent, restore } = countBinds()
    try {
      await waiter.release(must(await waiter.acquire(driverRequest(uniqueKey('warm')))))
      await holder.lock()
      // the first wait (a try, then the wait) marks the key contended
      expect(await waiter.acquire(driverRequest(key, { waitMs: 300 }))).toBeNull()
      const before = sent()
      const contended: number[] = []
      const started = performance.now()
      const second = waiter.acquire(
        driverRequest(key, { waitMs: 400, onContended: () => contended.push(1) }),
      )
      expect(await second).toBeNull()
      expect(performance.now() - started).toBeGreaterThanOrEqual(350)
      expect(sent()).toEqual({ tries: before.tries, waits: before.waits + 1 })
      expect(contended).toHaveLength(1)
      expect(await holdersInSql(client, key)).toHaveLength(1) // the holder's, nobody else's
      await holder.unlock()
      expect(await holdersInSql(client, key)).toHaveLength(0)
    } finally {
      restore()
      await Promise.all([holder.end(), waiter.close(), client.end()])
    }
  })
  test("through a Locker: core sends no try of its own in front of the driver's (queuedWait), and emits contended", async () => {
    const key = uniqueKey('wire-locker')
    const holder = await plainHolder(server.url, key)
    const events: LockEvent['type'][] = []
    const locker = new Locker(new PostgresDriver({ url: server.url }), {
      onEvent: (e) => events.push(e.type),
    })
    const { sent, restore } = countBinds()
    try {
      await (await locker.acquire(uniqueKey('warm'))).release()
      const before = sent()
      const handle = await holder.handOverTo(() => locker.acquire(key, { waitMs: 10_000 }))
      expect(sent()).toEqual({ tries: before.tries + 1, waits: before.waits + 1 })
      expect(events.slice(-2)).toEqual(['contended', 'acquired'])
      await handle.release()
    } finally {
      restore()
      await Promise.all([holder.end(), locker.close()])
    }
  })
})
