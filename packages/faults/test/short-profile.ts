import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import {
  type BackendName,
  buildForClients,
  type Deployment,
  deploy,
  knownLimitOf,
  NEMESES,
  nemesesFor,
  runScenario,
} from '../src/index.js'
import { formatResult } from './format.js'

const PROCESS_NEMESES = ['holder-kill', 'holder-pause']
const CLUSTER_ONLY = ['leader-kill', 'member-kill', 'minority-partition']
const QUORUM_ONLY = ['member-pause', 'cut-holder-node', 'hold-holder-node']
const LINK_NEMESES = ['cut-holder', 'cut-all', 'hold-holder', 'hold-all', 'slow-link']

/**
 * The nemeses each topology runs: memory and SQLite have no server; etcd and ZooKeeper are
 * leader-based clusters; Redlock is a leaderless quorum (single nodes and single links fail,
 * never a majority of nodes at once).
 */
function expectedNemeses(backend: BackendName): string[] {
  if (backend === 'memory' || backend === 'sqlite') return PROCESS_NEMESES
  if (backend === 'redlock')
    return [...PROCESS_NEMESES, ...LINK_NEMESES, 'member-kill', ...QUORUM_ONLY]
  const all = NEMESES.map((n) => n.name).filter((n) => !QUORUM_ONLY.includes(n))
  // etcd and ZooKeeper run with proxies on their members' peer links (minority-partition)
  if (backend === 'etcd' || backend === 'zookeeper') return all
  return all.filter((n) => !CLUSTER_ONLY.includes(n))
}

/**
 * The short profile for one backend: one deployment, then each nemesis that applies to its
 * topology once, on a fresh key with fresh clients; every checker must find nothing.
 */
export interface ShortOptions {
  seed?: number
  /** Running time before each fault, ms (default: the scenario's 1000). */
  warmupMs?: number
  /** Nemeses of the topology left to the long profile (to keep this file's time down). */
  longOnly?: readonly string[]
}

export function shortProfile(backend: BackendName, options: ShortOptions = {}): void {
  const seed = options.seed ?? 1
  const longOnly = options.longOnly ?? []
  describe(`${backend}: every nemesis once`, () => {
    let d: Deployment | undefined
    beforeAll(async () => {
      buildForClients()
      d = await deploy(backend)
    }, 240_000)
    afterAll(async () => {
      await d?.stop()
    })
    test('runs exactly the nemeses of its topology', () => {
      if (!d) throw new Error('deployment did not start')
      expect(nemesesFor(d).map((n) => n.name)).toEqual(
        NEMESES.map((n) => n.name).filter((n) => expectedNemeses(backend).includes(n)),
      )
    })
    const short = NEMESES.filter(
      (n) => expectedNemeses(backend).includes(n.name) && !longOnly.includes(n.name),
    )
    for (const nemesis of short) {
      test(nemesis.name, async () => {
        if (!d) throw new Error('deployment did not start')
        expect(nemesis.applies(d)).toBe(true)
        const result = await runScenario(d, nemesis, {
          seed,
          ...(options.warmupMs === undefined ? {} : { warmupMs: options.warmupMs }),
        })
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
