import { mkdtempSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { harnessTmpdir } from '@baton-lock/test-matrix'
import { checkHistory, type HistoryVerdict } from '../checkers/check-history.js'
import type { ClientConfig, Control } from '../client/client-config.js'
import { prng } from '../client/client-config.js'
import { type HistoryEvent, nowMs, readJsonLines, type StoreEntry } from '../history.js'
import { CLIENTS } from './backends.js'
import { ClientProcess } from './client-process.js'
import type { Deployment } from './deployment.js'
import { FileStore } from './file-store.js'
import type { Nemesis } from './nemeses.js'
import { createPostgresStore, postgresStoreEntries } from './pg-store.js'
import { probeH1, probeS4 } from './probes.js'

export interface ScenarioOptions {
  seed: number
  /** A negative control for every client (see controls.ts). */
  control?: Control
  /** Running time before the fault, ms (default 1000). */
  warmupMs?: number
  /** Time between read and write, ms (default [30, max(60, TTL/5)]). */
  holdMs?: [number, number]
  /** Keep the history directory (default: removed when there is no violation). */
  keep?: boolean
}

export interface ScenarioResult {
  backend: string
  nemesis: string
  seed: number
  verdict: HistoryVerdict
  events: HistoryEvent[]
  store: StoreEntry[]
  durationMs: number
  dir: string
}

/** One scenario: fresh clients on a fresh key, one fault, quiesce, probes, every checker. */
export async function runScenario(
  d: Deployment,
  nemesis: Nemesis,
  options: ScenarioOptions,
): Promise<ScenarioResult> {
  const startedAt = performance.now()
  const rand = prng(options.seed)
  const dir = mkdtempSync(join(harnessTmpdir(), `faults-${d.backend}-${nemesis.name}-`))
  const key = `faults/${nemesis.name}/${options.seed}`
  const events: HistoryEvent[] = []
  const fileStore = d.store.kind === 'file' ? new FileStore(join(dir, 'store.jsonl')) : undefined
  if (d.store.kind === 'postgres') await createPostgresStore(d.store.url)
  const ttl = d.ttlMs
  const clients: ClientProcess[] = []
  try {
    for (let i = 0; i < CLIENTS; i++) {
      const config: ClientConfig = {
        client: `c${i}`,
        url: d.clientUrl(i),
        key,
        ttlMs: ttl,
        historyPath: join(dir, `c${i}.jsonl`),
        store: d.store,
        holdMs: options.holdMs ?? [30, Math.max(60, Math.round(ttl / 5))],
        waitMs: [Math.round(ttl / 4), ttl * 2],
        abortShare: 0.15,
        seed: (options.seed * 31 + i) >>> 0,
        maxRunMs: 180_000,
        ...(options.control ? { control: options.control } : {}),
      }
      const client = new ClientProcess(config)
      d.memoryHost?.attach(client.child)
      fileStore?.attach(client.child)
      clients.push(client)
    }
    await Promise.all(clients.map((c) => c.started()))
    await sleep(options.warmupMs ?? 1_000)
    await nemesis.run({
      deployment: d,
      clients,
      rand,
      record: (e) => events.push({ type: 'nemesis', t: nowMs(), ...e }),
    })
    await afterFault(d, nemesis, clients)
  } finally {
    await Promise.all(clients.map((c) => c.stop(15_000)))
  }
  events.push(...(await probeS4(d, key)))
  events.push(...(await probeH1(d, key)))
  for (const c of clients) events.push(...readJsonLines<HistoryEvent>(join(dir, `${c.name}.jsonl`)))
  const store = fileStore
    ? fileStore.entries()
    : await postgresStoreEntries((d.store as { url: string }).url)
  const bound = nemesis.bound(d)
  const verdict = checkHistory(events, store, bound ? { [nemesis.name]: bound } : {})
  if ((verdict.violations.length === 0 || options.control) && !options.keep)
    rmSync(dir, { recursive: true, force: true })
  return {
    backend: d.backend,
    nemesis: nemesis.name,
    seed: options.seed,
    verdict,
    events: events.sort((a, b) => a.t - b.t),
    store,
    durationMs: performance.now() - startedAt,
    dir,
  }
}

/** Runs on until two grants followed the fault (or its L1 bound passed), plus half a second. */
async function afterFault(
  d: Deployment,
  nemesis: Nemesis,
  clients: ClientProcess[],
): Promise<void> {
  const bound = nemesis.bound(d)?.boundMs ?? 5_000
  const deadline = performance.now() + bound + 1_000
  const before = clients.reduce((n, c) => n + c.grants, 0)
  while (performance.now() < deadline) {
    if (clients.reduce((n, c) => n + c.grants, 0) >= before + 2) break
    await sleep(20)
  }
  await sleep(500)
}
