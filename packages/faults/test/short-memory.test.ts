import { afterAll, beforeAll, expect, test } from 'vitest'
import { buildForClients, type Deployment, deploy, nemesesFor, runScenario } from '../src/index.js'
import { formatResult } from './format.js'

let d: Deployment
beforeAll(async () => {
  buildForClients()
  d = await deploy('memory')
}, 240_000)
afterAll(() => d?.stop())

test.each(['holder-kill', 'holder-pause'])('memory under %s: zero violations', async (name) => {
  const nemesis = nemesesFor(d).find((n) => n.name === name)
  if (!nemesis) throw new Error(`no nemesis ${name} for memory`)
  const result = await runScenario(d, nemesis, { seed: 1 })
  console.info(formatResult(result))
  expect(result.verdict.violations).toEqual([])
  expect(result.verdict.grants).toBeGreaterThan(3)
})
