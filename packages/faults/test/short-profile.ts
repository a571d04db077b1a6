import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import {
  type BackendName,
  buildForClients,
  type Deployment,
  deploy,
  knownLimitOf,
  NEMESES,
  runScenario,
} from '../src/index.js'
import { formatResult } from './format.js'

/**
 * The short profile for one backend: one deployment, then each nemesis that applies to its
 * topology once, on a fresh key with fresh clients; every checker must find nothing.
 */
export function shortProfile(backend: BackendName, seed = 1): void {
  describe(`${backend}: every nemesis once`, () => {
    let d: Deployment | undefined
    beforeAll(async () => {
      buildForClients()
      d = await deploy(backend)
    }, 240_000)
    afterAll(async () => {
      await d?.stop()
    })
    for (const nemesis of NEMESES) {
      test(nemesis.name, async (context) => {
        if (!d) throw new Error('deployment did not start')
        context.skip(!nemesis.applies(d), `${nemesis.name} does not apply to ${d.topology}`)
        const result = await runScenario(d, nemesis, { seed })
        console.info(formatResult(result))
        // Only a known limit of the backend's model (known-limits.ts, with its cause and bound) may appear.
        const unexplained = result.verdict.violations.filter(
          (v) => !knownLimitOf(backend, nemesis.name, v),
        )
        expect(unexplained).toEqual([])
        expect(result.verdict.grants).toBeGreaterThan(3)
      })
    }
  })
}
