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

const PROCESS_NEMESES = ['holder-kill', 'holder-pause']
const CLUSTER_ONLY = ['leader-kill', 'member-kill', 'minority-partition']

/** The nemeses each topology runs: memory and SQLite have no server; etcd and ZooKeeper are clusters. */
function expectedNemeses(backend: BackendName): string[] {
  if (backend === 'memory' || backend === 'sqlite') return PROCESS_NEMESES
  const all = NEMESES.map((n) => n.name)
  // etcd and ZooKeeper run with proxies on their members' peer links (minority-partition)
  if (backend === 'etcd' || backend === 'zookeeper') return all
  return all.filter((n) => !CLUSTER_ONLY.includes(n))
}

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
    for (const nemesis of NEMESES.filter((n) => expectedNemeses(backend).includes(n.name))) {
      test(nemesis.name, async () => {
        if (!d) throw new Error('deployment did not start')
        expect(nemesis.applies(d)).toBe(true)
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
