import { type LockEvent, Locker } from '@baton-lock/core'
import { type DriverLease, driverRequest, uniqueKey } from '@baton-lock/core/driver'
import { startMariadb } from '@baton-lock/test-matrix'
import type { Connection } from 'mysql2'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { lockName, MysqlDriver } from '../src/index.js'
import { LockSession } from '../src/lock-session.js'
import { holderOfName, must, rawConnection, sql } from './driver-helpers.js'

// What a waiting acquire sends, counted per statement the driver's sessions send: a try
// and then the wait the first time the name is found taken; while it stays contended, the
// wait alone (it tries first on the server and says whether it waited).

let server: Awaited<ReturnType<typeof startMariadb>>

beforeAll(async () => {
  server = await startMariadb()
})
afterAll(async () => {
  await server?.stop()
})

/** Counts the tries (the prepared `GET_LOCK(?, 0)` + fence bump) and waits the driver sends, until `restore()`. */
function countStatements() {
  let tries = 0
  let waits = 0
  const { query, execute } = LockSession.prototype
  const classify = (text: string) => {
    if (text.includes('SELECT @baton_got AS got')) waits++
    else if (text.includes('WHERE GET_LOCK(?, 0) = 1')) tries++
  }
  LockSession.prototype.query = function (this: LockSession, text, values) {
    classify(text)
    return query.call(this, text, values)
  }
  LockSession.prototype.execute = function (this: LockSession, text, values) {
    classify(text)
    return execute.call(this, text, values)
  }
  return {
    sent: () => ({ tries, waits }),
    restore: () => {
      LockSession.prototype.query = query
      LockSession.prototype.execute = execute
    },
  }
}

/** A plain client holding `key`'s name, as the mariadb client would (`GET_LOCK`). */
async function plainHolder(url: string, key: string) {
  const connection: Connection = await rawConnection(url)
  const name = lockName(key)
  return {
    lock: () => sql(connection, 'SELECT GET_LOCK(?, 10) AS got', [name]),
    unlock: () => sql(connection, 'SELECT RELEASE_LOCK(?) AS released', [name]),
    /** Starts `acquire` while holding the name and lets go 150 ms later (it waits meanwhile). */
    async handOverTo<T>(acquire: () => Promise<T>): Promise<T> {
      await this.lock()
      const waiting = acquire()
      await new Promise((r) => setTimeout(r, 150))
      await this.unlock()
      return waiting
    },
    end: () => new Promise<void>((resolve) => connection.end(() => resolve())),
  }
}

describe('a waiting acquire, statement by statement', () => {
  test('one try then the wait when the name is taken; the wait alone while it stays contended; a try again once it is free', async () => {
    const key = uniqueKey('wire')
    const holder = await plainHolder(server.url, key)
    const waiter = new MysqlDriver({ url: server.url })
    const admin = await rawConnection(server.url)
    const { sent, restore } = countStatements()
    try {
      // the first grant creates the fence table
      await waiter.release(must(await waiter.acquire(driverRequest(uniqueKey('warm')))))
      const contended: number[] = []
      const request = () =>
        driverRequest(key, { waitMs: 10_000, onContended: () => contended.push(1) })

      let before = sent()
      let lease: DriverLease = must(await holder.handOverTo(() => waiter.acquire(request())))
      expect(sent()).toEqual({ tries: before.tries + 1, waits: before.waits + 1 })
      expect(contended).toHaveLength(1)
      await waiter.release(lease)

      // contended a moment ago, a session idle: the wait goes at once, without a try
      before = sent()
      lease = must(await holder.handOverTo(() => waiter.acquire(request())))
      expect(sent()).toEqual({ tries: before.tries, waits: before.waits + 1 })
      expect(contended).toHaveLength(2) // the server said it waited
      await waiter.release(lease)
      // held once (GET_LOCK nests): one release frees it
      expect(await holderOfName(admin, lockName(key))).toBeNull()

      // still remembered as contended, but free: the wait takes it at once and says so
      before = sent()
      lease = must(await waiter.acquire(request()))
      expect(sent()).toEqual({ tries: before.tries, waits: before.waits + 1 })
      expect(contended).toHaveLength(2)
      await waiter.release(lease)
      expect(await holderOfName(admin, lockName(key))).toBeNull()

      // forgotten: the next acquire tries first again
      before = sent()
      lease = must(await waiter.acquire(request()))
      expect(sent()).toEqual({ tries: before.tries + 1, waits: before.waits })
      await waiter.release(lease)
    } finally {
      restore()
      await Promise.all([holder.end(), waiter.close()])
      admin.end()
    }
  })

  test('fences stay strictly increasing through waits sent with and without a try', async () => {
    const key = uniqueKey('wire-fence')
    const holder = await plainHolder(server.url, key)
    const waiter = new MysqlDriver({ url: server.url })
    try {
      const fences: bigint[] = []
      for (let i = 0; i < 4; i++) {
        const lease = must(
          await holder.handOverTo(() => waiter.acquire(driverRequest(key, { waitMs: 10_000 }))),
        )
        fences.push(lease.fence)
        await waiter.release(lease)
      }
      const direct = must(await waiter.acquire(driverRequest(key, { waitMs: 10_000 })))
      fences.push(direct.fence)
      await waiter.release(direct)
      for (let i = 1; i < fences.length; i++) {
        expect(fences[i] as bigint).toBeGreaterThan(fences[i - 1] as bigint)
      }
    } finally {
      await Promise.all([holder.end(), waiter.close()])
    }
  })

  test('a wait sent without a try that times out reports contention and leaves nothing held', async () => {
    const key = uniqueKey('wire-timeout')
    const holder = await plainHolder(server.url, key)
    const waiter = new MysqlDriver({ url: server.url })
    const admin = await rawConnection(server.url)
    const { sent, restore } = countStatements()
    try {
      await waiter.release(must(await waiter.acquire(driverRequest(uniqueKey('warm')))))
      const [held] = await holder.lock()
      expect(Number(held?.got)).toBe(1)
      const holderId = await holderOfName(admin, lockName(key))
      // the first wait (a try, then the wait) marks the name contended
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
      expect(await holderOfName(admin, lockName(key))).toBe(holderId) // the holder's, nobody else's
      await holder.unlock()
      expect(await holderOfName(admin, lockName(key))).toBeNull()
    } finally {
      restore()
      await Promise.all([holder.end(), waiter.close()])
      admin.end()
    }
  })

  test("through a Locker: core sends no try of its own in front of the driver's (queuedWait), and emits contended", async () => {
    const key = uniqueKey('wire-locker')
    const holder = await plainHolder(server.url, key)
    const events: LockEvent['type'][] = []
    const locker = new Locker(new MysqlDriver({ url: server.url }), {
      onEvent: (e) => events.push(e.type),
    })
    const { sent, restore } = countStatements()
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
