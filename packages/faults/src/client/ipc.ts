import type { ToClient, ToHarness } from './client-config.js'

type Reply = Extract<ToClient, { kind: 'reply' }>
const pending = new Map<number, { resolve: (r: unknown) => void; reject: (e: Error) => void }>()
let nextId = 1
const lostListeners = new Map<number, () => void>()
let onStop: () => void = () => {}

/** Routes the harness's messages; call once at start. */
export function listen(stop: () => void): void {
  onStop = stop
  process.on('message', (message: ToClient) => {
    if (message.kind === 'stop') onStop()
    else if (message.kind === 'lease-lost') lostListeners.get(message.lease)?.()
    else if (message.kind === 'reply') settle(message)
  })
  process.on('disconnect', () => onStop())
}

function settle(message: Reply): void {
  const waiter = pending.get(message.id)
  if (!waiter) return
  pending.delete(message.id)
  if (message.error !== undefined) waiter.reject(new Error(message.error))
  else waiter.resolve(message.result)
}

/** Sends a request to the harness and resolves with its reply. */
type WithoutId<M> = M extends unknown ? Omit<M, 'id'> : never

export function request<T>(message: WithoutId<ToHarness>): Promise<T> {
  const id = nextId++
  return new Promise<T>((resolve, reject) => {
    pending.set(id, { resolve: resolve as (r: unknown) => void, reject })
    send({ ...message, id } as ToHarness)
  })
}

/** The id the next `request` will use (for an abort that must name it). */
export function peekId(): number {
  return nextId
}

export function send(message: ToHarness): void {
  if (process.connected) process.send?.(message)
}

export function onLeaseLost(lease: number, fn: () => void): void {
  lostListeners.set(lease, fn)
}

export function forgetLease(lease: number): void {
  lostListeners.delete(lease)
}
