import { lockKeys, RedlockDriver } from '@baton-lock/redis'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { type Deployment, deploy } from '../src/index.js'

// H1 on Redlock must see a lock key left on a minority of nodes, which the quorum's own
// inspect does not report (a majority must name an owner).
let d: Deployment
beforeAll(async () => {
  d = await deploy('redlock')
}, 120_000)
afterAll(() => d?.stop())

test('a lock key on one node of three is a leftover the quorum inspect does not see', async () => {
  const key = 'faults/h1-minority'
  const lock = lockKeys('baton', key).lock
  const driver = await RedlockDriver.connect({ url: d.directUrl, onWarning: () => undefined })
  try {
    expect(await d.serverLeftovers()).toEqual([expect.objectContaining({ count: 0 })])
    await driver.clients[0]?.set(lock, 'someone-gone', 'PX', 30_000)
    expect(await driver.inspect(key)).toBeNull()
    expect(await d.serverLeftovers()).toEqual([expect.objectContaining({ count: 1 })])
    await driver.clients[0]?.del(lock)
    expect(await d.serverLeftovers()).toEqual([expect.objectContaining({ count: 0 })])
  } finally {
    await driver.close()
  }
})
