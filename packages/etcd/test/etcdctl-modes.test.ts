import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { promisify } from 'node:util'
import { Locker } from '@baton-lock/core'
import { startEtcd } from '@baton-lock/test-matrix'
import { afterAll, afterEach, beforeAll, expect, test } from 'vitest'
import { EtcdDriver, lockPrefix, readPrefix } from '../src/index.js'
import { endpointsOf, etcdctlLock, Lines, stop, until } from './helpers.js'

// Interop of the new modes with the real etcdctl (Debian etcd-client): `etcdctl elect` is
// Go's concurrency.Election; etcdctl has no read-write lock, so the RWMutex layout is
// checked with raw puts as Go's recipe.RWMutex makes them (`NAME/read/<n>`, `NAME/write/<n>`).
let server: Awaited<ReturnType<typeof startEtcd>>
const children: ChildProcess[] = []
const lockers: Locker[] = []
const run = promisify(execFile)

beforeAll(async () => {
  server = await startEtcd()
}, 120_000)
afterEach(async () => {
  await Promise.all(children.splice(0).map((c) => stop(c, 'SIGKILL')))
  await Promise.all(lockers.splice(0).map((l) => l.close()))
})
afterAll(async () => {
  await server?.stop()
})

function endpoints(): string {
  return `--endpoints=${endpointsOf(server.url).join(',')}`
}

/** Runs one etcdctl command and returns its stdout. */
async function etcdctl(...args: string[]): Promise<string> {
  const { stdout } = await run('etcdctl', [endpoints(), ...args], {
    env: { ...process.env, ETCDCTL_API: '3' },
    timeout: 10_000,
  })
  return stdout
}

/** A long-running etcdctl (elect, elect -l, lock) whose lines a test can wait for. */
function background(args: string[]): { proc: ChildProcess; lines: Lines } {
  const proc = spawn('etcdctl', [endpoints(), ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ETCDCTL_API: '3' },
  })
  children.push(proc)
  return { proc, lines: new Lines(proc) }
}

function locker(): Locker {
  const l = new Locker(new EtcdDriver({ url: server.url }))
  lockers.push(l)
  return l
}

/** A lease granted through etcdctl, in hex as `put --lease` takes it. */
async function leaseHex(ttlSeconds: number): Promise<string> {
  const out = await etcdctl('lease', 'grant', String(ttlSeconds))
  const id = /lease ([0-9a-f]+) granted/.exec(out)?.[1]
  if (id === undefined) throw new Error(`unexpected etcdctl lease grant output: ${out}`)
  return id
}

async function keys(prefix: string): Promise<string[]> {
  const out = await etcdctl('get', '--prefix', '--keys-only', prefix)
  return out.split('\n').filter((l) => l.length > 0)
}

test('etcdctl elect leads: a Baton campaign waits, sees its value, and leads after etcdctl ends', async () => {
  const name = `elect-a-${process.pid}`
  const go = background(['elect', name, 'go-proposal'])
  await go.lines.next(/^go-proposal$/, 10_000)
  const election = locker().election(name, { value: 'baton-a', ttlMs: 5_000 })
  expect(await election.leader()).toMatchObject({ value: 'go-proposal' })
  const campaign = election.campaign({ waitMs: 20_000 })
  await until(async () => (await keys(lockPrefix(name))).length === 2, 5_000, 'Baton queued')
  expect(election.isLeader()).toBe(false)
  await stop(go.proc)
  const leadership = await campaign
  expect(election.isLeader()).toBe(true)
  expect(await election.leader()).toMatchObject({ value: 'baton-a', fence: leadership.fence })
  await election.resign()
})

test('Baton leads: etcdctl elect -l prints its value; a queued etcdctl elect takes over on resign', async () => {
  const name = `elect-b-${process.pid}`
  const election = locker().election(name, { value: 'baton-b', ttlMs: 5_000 })
  const leadership = await election.campaign()
  const listener = background(['elect', '-l', name])
  await listener.lines.next(/^baton-b$/, 10_000)
  const [leaderKey] = await keys(lockPrefix(name))
  expect(leaderKey).toMatch(new RegExp(`^${name}/[0-9a-f]+$`))
  const go = background(['elect', name, 'go-next'])
  await until(async () => (await keys(lockPrefix(name))).length === 2, 10_000, 'etcdctl queued')
  await new Promise((r) => setTimeout(r, 1_500))
  expect(go.lines.lines).toEqual([])
  expect(leadership.isValid()).toBe(true)
  await election.resign()
  await go.lines.next(/^go-next$/, 5_000)
  await listener.lines.next(/^go-next$/, 5_000)
  expect(await election.leader()).toMatchObject({ value: 'go-next' })
})

test('RWMutex layout: a Go writer key blocks Baton readers and writers; a Go reader shares', async () => {
  const name = `rw-go-${process.pid}`
  const lease = await leaseHex(30)
  const writerKey = `${name}/write/${process.hrtime.bigint()}`
  await etcdctl('put', `--lease=${lease}`, writerKey, '')
  const l = locker()
  expect(await l.tryAcquire(name, { mode: 'shared' })).toBeNull()
  expect(await l.tryAcquire(name)).toBeNull()
  const reading = l.acquire(name, { mode: 'shared', ttlMs: 5_000, waitMs: 20_000 })
  await until(async () => (await keys(readPrefix(name))).length === 1, 5_000, 'Baton reader queued')
  await etcdctl('del', writerKey)
  const reader = await reading
  await reader.release()
  // A Go reader (`NAME/read/<n>`) shares with Baton readers and blocks Baton's exclusive mode.
  await etcdctl('put', `--lease=${lease}`, `${name}/read/${process.hrtime.bigint()}`, '')
  const shared = await l.tryAcquire(name, { mode: 'shared' })
  expect(shared).not.toBeNull()
  await shared?.release()
  expect(await l.tryAcquire(name)).toBeNull()
  await etcdctl('lease', 'revoke', lease)
  const exclusive = await l.acquire(name, { waitMs: 5_000 })
  await exclusive.release()
})

test('a Baton reader is seen as NAME/read/<owner> and blocks etcdctl lock until released', async () => {
  const name = `rw-lock-${process.pid}`
  const reader = await locker().acquire(name, { mode: 'shared', ttlMs: 5_000 })
  expect(await keys(readPrefix(name))).toEqual([`${readPrefix(name)}${reader.owner}`])
  const lock = etcdctlLock(server.url, name)
  children.push(lock)
  const lines = new Lines(lock)
  await until(async () => (await keys(lockPrefix(name))).length === 2, 10_000, 'etcdctl queued')
  await new Promise((r) => setTimeout(r, 1_000))
  expect(lines.lines).toEqual([])
  await reader.release()
  await lines.next(new RegExp(`^${name}/[0-9a-f]+$`), 5_000)
})
