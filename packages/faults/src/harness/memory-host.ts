import type { ChildProcess } from 'node:child_process'
import { type DriverLease, MemoryDriver } from '@baton-lock/core'
import type { ToClient, ToHarness } from '../client/client-config.js'
import { nowMs } from '../history.js'

type DriverMessage = Extract<ToHarness, { kind: 'driver' }>

/**
 * The harness side of `memory-bridge:`: one MemoryDriver (one in-memory store) serving every
 * client process over its IPC channel. A client that dies leaves its leases to expire by TTL,
 * as a crashed process would on any lease backend; its pending acquires are aborted.
 */
export class MemoryHost {
  readonly driver = new MemoryDriver()
  readonly #leases = new Map<number, DriverLease>()
  readonly #pending = new Map<string, AbortController>()
  #nextRef = 1

  attach(child: ChildProcess): void {
    const mine = new Set<string>()
    child.on('message', (m: ToHarness) => {
      if (m.kind === 'driver') void this.#handle(child, m, mine)
    })
    child.once('exit', () => {
      for (const id of mine) this.#pending.get(id)?.abort()
    })
  }

  async #handle(child: ChildProcess, m: DriverMessage, mine: Set<string>): Promise<void> {
    const reply = (result: unknown) => send(child, { kind: 'reply', id: m.id, result })
    try {
      if (m.op === 'capabilities') return reply(this.driver.capabilities)
      if (m.op === 'abort') return void this.#pending.get(`${child.pid}:${m.target}`)?.abort()
      if (m.op === 'acquire') {
        const id = `${child.pid}:${m.id}`
        const controller = new AbortController()
        this.#pending.set(id, controller)
        mine.add(id)
        try {
          const lease = await this.driver.acquire({
            mode: 'exclusive',
            ...m.req,
            signal: controller.signal,
          })
          if (lease === null) return reply(null)
          if (child.exitCode !== null || child.signalCode !== null) {
            await this.driver.release(lease)
            return
          }
          const ref = this.#nextRef++
          this.#leases.set(ref, lease)
          lease.lost.addEventListener(
            'abort',
            () => send(child, { kind: 'lease-lost', lease: ref }),
            {
              once: true,
            },
          )
          const grantedAt = nowMs() - (performance.now() - lease.sentAtMs)
          return reply({ ref, fence: String(lease.fence), ttlMs: lease.ttlMs, grantedAt })
        } finally {
          this.#pending.delete(id)
          mine.delete(id)
        }
      }
      const lease = this.#leases.get(m.lease)
      if (!lease) return send(child, { kind: 'reply', id: m.id, error: 'unknown lease' })
      if (m.op === 'renew') return reply(await this.driver.renew(lease, m.ttlMs ?? lease.ttlMs))
      this.#leases.delete(m.lease)
      return reply(await this.driver.release(lease))
    } catch (err) {
      send(child, {
        kind: 'reply',
        id: m.id,
        error: err instanceof Error ? err.message : String(err),
      })
    }
  }

  async close(): Promise<void> {
    await this.driver.close()
  }
}

function send(child: ChildProcess, message: ToClient): void {
  if (child.connected) child.send(message)
}
