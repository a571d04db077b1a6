import { setTimeout as sleep } from 'node:timers/promises'
import type { ServerHandle } from '@baton-lock/test-matrix'
import type { LiveBound } from '../checkers/check-l1.js'
import { type NemesisEvent, nowMs } from '../history.js'
import type { ClientProcess } from './client-process.js'
import type { Deployment } from './deployment.js'

export interface NemesisContext {
  deployment: Deployment
  clients: readonly ClientProcess[]
  rand: () => number
  record(event: Omit<NemesisEvent, 'type' | 't'>): void
}

/** A fault, bounded in time; `bound` is what L1 then promises. */
export interface Nemesis {
  name: string
  /** What it does, for the report. */
  description: string
  applies(d: Deployment): boolean
  bound(d: Deployment): LiveBound | undefined
  run(ctx: NemesisContext): Promise<void>
}

const hasServer = (d: Deployment) => d.server !== undefined || d.cluster !== undefined
const isCluster = (d: Deployment) => d.cluster !== undefined
/** Single servers and leader-based clusters: every server at once, or the leader, is one fault. */
const notQuorum = (d: Deployment) => hasServer(d) && d.quorum !== true
const isQuorum = (d: Deployment) => d.quorum === true

/** A silent holder (paused, partitioned) loses its lock within the TTL, then someone takes over. */
export const silentBoundMs = (d: Deployment) => Math.round(d.ttlMs * 1.5) + 2_000
/** Session backends that end a session with its connection free a dead holder's lock at once. */
export const deathBoundMs = (d: Deployment) => (d.freesOnDisconnect ? 2_000 : silentBoundMs(d))
/** After a server or network fault heals, grants resume within this (restart, election, reconnect). */
export const recoveryBoundMs = (d: Deployment) => 2 * d.ttlMs + 8_000

/** Waits up to `ms` for a client that holds the key; the holder or undefined. */
async function holder(ctx: NemesisContext, ms = 10_000): Promise<ClientProcess | undefined> {
  const deadline = performance.now() + ms
  while (performance.now() < deadline) {
    const holding = ctx.clients.filter((c) => c.alive && c.holding)
    if (holding.length > 0) return holding[Math.floor(ctx.rand() * holding.length)]
    await sleep(5)
  }
  return undefined
}

/** Resolves when a client other than `except` is granted, or after `ms`. */
function nextGrantElsewhere(ctx: NemesisContext, except: ClientProcess, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const offs: (() => void)[] = []
    const done = () => {
      clearTimeout(timer)
      for (const off of offs) off()
      resolve()
    }
    const timer = setTimeout(done, ms)
    for (const c of ctx.clients)
      if (c !== except) offs.push(c.onEvent((e) => e.type === 'grant' && done()))
  })
}

function servers(d: Deployment): ServerHandle[] {
  return d.cluster ? [...d.cluster.members] : d.server ? [d.server] : []
}

/** The member most client connections go to (the one clients talk to). */
function busiestMember(ctx: NemesisContext): ServerHandle {
  const members = servers(ctx.deployment)
  const counts = members.map(() => 0)
  ctx.clients.forEach((_, i) => {
    ctx.deployment.proxiesOf(i).forEach((p, m) => {
      counts[m] = (counts[m] ?? 0) + p.connections().length
    })
  })
  const best = counts.indexOf(Math.max(...counts))
  return members[best] as ServerHandle
}

const holderKill: Nemesis = {
  name: 'holder-kill',
  description: 'SIGKILL of the client process that holds the key',
  applies: () => true,
  bound: (d) => ({ measure: 'takeover', boundMs: deathBoundMs(d) }),
  async run(ctx) {
    const victim = await holder(ctx)
    if (!victim?.holding) throw new Error('holder-kill: no client held the key within 10 s')
    ctx.record({
      name: 'holder-kill',
      phase: 'start',
      target: victim.name,
      holder: { client: victim.name, op: victim.holding.op },
    })
    victim.signal('SIGKILL')
    await victim.exited
  },
}

const holderPause: Nemesis = {
  name: 'holder-pause',
  description:
    'SIGSTOP of the holder until another client is granted (longer than the TTL), then SIGCONT',
  applies: () => true,
  bound: (d) => ({ measure: 'takeover', boundMs: silentBoundMs(d) }),
  async run(ctx) {
    const victim = await holder(ctx)
    if (!victim?.holding) throw new Error('holder-pause: no client held the key within 10 s')
    ctx.record({
      name: 'holder-pause',
      phase: 'start',
      target: victim.name,
      holder: { client: victim.name, op: victim.holding.op },
    })
    victim.signal('SIGSTOP')
    await nextGrantElsewhere(ctx, victim, silentBoundMs(ctx.deployment) + 1_000)
    victim.signal('SIGCONT')
    ctx.record({ name: 'holder-pause', phase: 'heal', target: victim.name })
  },
}

const serverKill: Nemesis = {
  name: 'server-kill',
  description: 'SIGKILL of the server (every member of a cluster), restart after 1 s',
  // Not on a Redlock quorum: every node restarting at once is a majority restart (known limits).
  applies: notQuorum,
  bound: (d) => ({ measure: 'recovery', boundMs: recoveryBoundMs(d) }),
  async run(ctx) {
    const all = servers(ctx.deployment)
    ctx.record({ name: 'server-kill', phase: 'start', target: all.map((s) => s.name).join(',') })
    await Promise.all(all.map((s) => s.kill()))
    await sleep(1_000)
    await Promise.all(all.map((s) => s.restart()))
    ctx.record({ name: 'server-kill', phase: 'heal' })
  },
}

const serverPause: Nemesis = {
  name: 'server-pause',
  description: 'SIGSTOP of the server (a cluster: its leader) for 1.5 TTL, then SIGCONT',
  applies: notQuorum,
  bound: (d) => ({ measure: 'recovery', boundMs: recoveryBoundMs(d) }),
  async run(ctx) {
    const d = ctx.deployment
    const target = d.leader ? await d.leader() : (d.server as ServerHandle)
    ctx.record({ name: 'server-pause', phase: 'start', target: target.name })
    await target.pause()
    await sleep(d.ttlMs * 1.5)
    await target.resume()
    ctx.record({ name: 'server-pause', phase: 'heal' })
  },
}

function proxyFault(
  name: string,
  description: string,
  scope: 'holder' | 'all' | 'holder-node',
  act: (p: import('@baton-lock/test-matrix').FaultProxy, d: Deployment) => void,
  holdMs: (d: Deployment) => number,
  measure: 'takeover' | 'recovery',
): Nemesis {
  return {
    name,
    description,
    // One link of one client (a minority of a quorum's nodes) only where no member is special.
    applies: scope === 'holder-node' ? isQuorum : hasServer,
    bound: (d) => ({
      measure,
      boundMs: measure === 'takeover' ? silentBoundMs(d) : recoveryBoundMs(d),
    }),
    async run(ctx) {
      const d = ctx.deployment
      let targets: number[]
      let holderOf: { client: string; op: number } | undefined
      if (scope !== 'all') {
        const victim = await holder(ctx)
        if (!victim?.holding) throw new Error(`${name}: no client held the key within 10 s`)
        holderOf = { client: victim.name, op: victim.holding.op }
        targets = [ctx.clients.indexOf(victim)]
      } else targets = ctx.clients.map((_, i) => i)
      let proxies = targets.flatMap((i) => d.proxiesOf(i))
      let node = ''
      if (scope === 'holder-node') {
        const m = Math.floor(ctx.rand() * proxies.length)
        proxies = proxies.slice(m, m + 1)
        node = `->${servers(d)[m]?.name ?? m}`
      }
      ctx.record({
        name,
        phase: 'start',
        target: targets.map((i) => ctx.clients[i]?.name).join(',') + node,
        ...(holderOf ? { holder: holderOf } : {}),
      })
      for (const p of proxies) act(p, d)
      const ms = holdMs(d)
      if (ms > 0) await sleep(ms)
      for (const p of proxies) p.heal()
      ctx.record({ name, phase: 'heal' })
    },
  }
}

const leaderKill: Nemesis = {
  name: 'leader-kill',
  description: 'SIGKILL of the cluster leader, restart after 1 s',
  applies: (d) => isCluster(d) && d.leader !== undefined,
  bound: (d) => ({ measure: 'recovery', boundMs: recoveryBoundMs(d) }),
  async run(ctx) {
    const leader = await (ctx.deployment.leader as () => Promise<ServerHandle>)()
    ctx.record({ name: 'leader-kill', phase: 'start', target: leader.name })
    await leader.kill()
    await sleep(1_000)
    await leader.restart()
    ctx.record({ name: 'leader-kill', phase: 'heal' })
  },
}

const memberKill: Nemesis = {
  name: 'member-kill',
  description: 'SIGKILL of the member most client connections use, restart after 1 s',
  applies: isCluster,
  bound: (d) => ({ measure: 'recovery', boundMs: recoveryBoundMs(d) }),
  async run(ctx) {
    const member = busiestMember(ctx)
    ctx.record({ name: 'member-kill', phase: 'start', target: member.name })
    await member.kill()
    await sleep(1_000)
    await member.restart()
    ctx.record({ name: 'member-kill', phase: 'heal' })
  },
}

const memberPause: Nemesis = {
  name: 'member-pause',
  description:
    'SIGSTOP of the node most client connections use for 1.5 TTL (a minority), then SIGCONT',
  applies: isQuorum,
  bound: (d) => ({ measure: 'recovery', boundMs: recoveryBoundMs(d) }),
  async run(ctx) {
    const member = busiestMember(ctx)
    ctx.record({ name: 'member-pause', phase: 'start', target: member.name })
    await member.pause()
    try {
      await sleep(ctx.deployment.ttlMs * 1.5)
    } finally {
      await member.resume()
    }
    ctx.record({ name: 'member-pause', phase: 'heal' })
  },
}

const minorityPartition: Nemesis = {
  name: 'minority-partition',
  description:
    'the leader cut off from the other members for 1.5 TTL (peer links); clients still reach it',
  applies: (d) => d.isolate !== undefined && d.healPartition !== undefined,
  bound: (d) => ({ measure: 'recovery', boundMs: recoveryBoundMs(d) }),
  async run(ctx) {
    const d = ctx.deployment
    const leader = await (d.leader as () => Promise<ServerHandle>)()
    const index = (d.cluster?.members ?? []).indexOf(leader)
    if (index < 0) throw new Error('minority-partition: the leader is not a member')
    ctx.record({ name: 'minority-partition', phase: 'start', target: leader.name })
    ;(d.isolate as (i: number) => void)(index)
    try {
      await sleep(d.ttlMs * 1.5)
    } finally {
      ;(d.healPartition as () => void)()
    }
    ctx.record({ name: 'minority-partition', phase: 'heal' })
  },
}

/** Every nemesis, in the order the short profile runs them. */
export const NEMESES: readonly Nemesis[] = [
  holderKill,
  holderPause,
  serverKill,
  serverPause,
  proxyFault(
    'cut-holder',
    "RST of the holder's connections (fault proxy)",
    'holder',
    (p) => p.cut(),
    () => 0,
    'recovery',
  ),
  proxyFault(
    'cut-all',
    'RST of every client connection',
    'all',
    (p) => p.cut(),
    () => 0,
    'recovery',
  ),
  proxyFault(
    'hold-holder',
    "the holder's traffic held both ways for 1.5 TTL (a silent partition of one client)",
    'holder',
    (p) => p.hold(),
    (d) => d.ttlMs * 1.5,
    'takeover',
  ),
  proxyFault(
    'hold-all',
    'every client connection held for 1.5 TTL',
    'all',
    (p) => p.hold(),
    (d) => d.ttlMs * 1.5,
    'recovery',
  ),
  proxyFault(
    'slow-link',
    'every client connection delayed by TTL/8 (+ jitter TTL/16) for 2 TTL',
    'all',
    (p, d) => p.delay(Math.round(d.ttlMs / 8), Math.round(d.ttlMs / 16)),
    (d) => d.ttlMs * 2,
    'recovery',
  ),
  leaderKill,
  memberKill,
  minorityPartition,
  memberPause,
  proxyFault(
    'cut-holder-node',
    "RST of the holder's connection to one node (a minority; fault proxy)",
    'holder-node',
    (p) => p.cut(),
    () => 0,
    'recovery',
  ),
  proxyFault(
    'hold-holder-node',
    "the holder's link to one node held both ways for 1.5 TTL (a minority)",
    'holder-node',
    (p) => p.hold(),
    (d) => d.ttlMs * 1.5,
    'recovery',
  ),
]

export function nemesesFor(d: Deployment): Nemesis[] {
  return NEMESES.filter((n) => n.applies(d))
}

export { nowMs }
