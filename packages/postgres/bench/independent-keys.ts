/**
 * Independent keys in one process: K loops, each cycling tryAcquire + release on its own
 * key, against the reference of one dedicated `pg` connection per key (try-lock + unlock).
 * Contenders run interleaved in shuffled blocks so machine load hits them alike.
 * Not part of the published API. Run after a build:
 * `pnpm --filter @baton-lock/postgres bench [keys,...] [blockMs] [rounds]`.
 */
import { createHash } from 'node:crypto'
import { loadavg } from 'node:os'
import { Locker } from '@baton-lock/core'
import { PostgresDriver } from '@baton-lock/postgres'
import { startPostgres } from '@baton-lock/test-matrix'
import pg from 'pg'

const KEYS = (process.argv[2] ?? '1,4,16').split(',').map(Number)
const BLOCK_MS = Number(process.argv[3] ?? 300)
const ROUNDS = Number(process.argv[4] ?? 6)

interface Contender {
  readonly name: string
  /** One cycle on loop `i` (its own key). */
  cycle(i: number): Promise<void>
  close(): Promise<void>
}

function advisoryKey(key: string): string {
  return createHash('sha256').update(key).digest().readBigInt64BE(0).toString()
}

async function perKeyConnections(url: string, keys: number): Promise<Contender> {
  const clients = await Promise.all(
    Array.from({ length: keys }, async () => {
      const c = new pg.Client({ connectionString: url })
      await c.connect()
      return c
    }),
  )
  const ids = clients.map((_, i) => advisoryKey(`ref-${i}`))
  return {
    name: 'reference: one connection per key',
    async cycle(i) {
      const c = clients[i] as pg.Client
      const id = ids[i] as string
      const { rows } = await c.query({
        name: 'ref_try',
        text: 'SELECT pg_try_advisory_lock($1::int8) AS ok',
        values: [id],
      })
      if (rows[0]?.ok !== true) throw new Error('reference key taken')
      await c.query({
        name: 'ref_unlock',
        text: 'SELECT pg_advisory_unlock($1::int8)',
        values: [id],
      })
    },
    close: async () => void (await Promise.all(clients.map((c) => c.end()))),
  }
}

async function baton(url: string): Promise<Contender & { sessions(): number }> {
  const driver = new PostgresDriver({ url })
  await driver.ready()
  const locker = new Locker(driver, { ttlMs: 30_000 })
  return {
    name: 'Baton: tryAcquire + release',
    async cycle(i) {
      const handle = await locker.tryAcquire(`baton-${i}`)
      if (handle === null) throw new Error('baton key taken')
      await handle.release()
    },
    sessions: () => driver.sessionCount,
    close: () => locker.close(),
  }
}

/** Cycles/s of `c` with `keys` loops for `ms`. */
async function block(c: Contender, keys: number, ms: number): Promise<number> {
  const endMs = performance.now() + ms
  let cycles = 0
  await Promise.all(
    Array.from({ length: keys }, async (_, i) => {
      while (performance.now() < endMs) {
        await c.cycle(i)
        cycles++
      }
    }),
  )
  return cycles / (ms / 1000)
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)] as number
}

async function main(): Promise<void> {
  const server = await startPostgres()
  console.log(
    `load average at start: ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  )
  try {
    for (const keys of KEYS) {
      const ref = await perKeyConnections(server.url, keys)
      const bat = await baton(server.url)
      const contenders = [ref, bat]
      for (const c of contenders) await block(c, keys, 100) // warm up
      const rates = new Map<Contender, number[]>(contenders.map((c) => [c, []]))
      for (let r = 0; r < ROUNDS; r++) {
        const order = r % 2 === 0 ? contenders : [...contenders].reverse()
        for (const c of order) rates.get(c)?.push(await block(c, keys, BLOCK_MS))
      }
      const refRate = median(rates.get(ref) ?? [])
      const batRate = median(rates.get(bat) ?? [])
      console.log(
        `${keys} keys: reference ${refRate.toFixed(0)}/s, Baton ${batRate.toFixed(0)}/s = ` +
          `${(batRate / refRate).toFixed(2)}x, Baton sessions ${bat.sessions()}`,
      )
      await Promise.all(contenders.map((c) => c.close()))
    }
  } finally {
    await server.stop()
    console.log(
      `load average at end: ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
    )
  }
}

await main()
