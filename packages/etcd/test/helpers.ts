import { type ChildProcess, spawn } from 'node:child_process'
import { Locker } from '@baton-lock/core'
import { EtcdDriver } from '../src/index.js'

/** Host list of an `etcd://` URL, as etcdctl's `--endpoints` and Etcd3's `hosts` take it. */
export function endpointsOf(url: string): string[] {
  return url.replace(/^etcd:\/\//, '').split(',')
}

/** A Locker on its own driver (own client) for `url`. */
export function lockerFor(url: string, namespace?: string): Locker {
  return new Locker(new EtcdDriver({ url }), namespace === undefined ? {} : { namespace })
}

/** Collects a child's stdout lines and lets a test wait for one that matches. */
export class Lines {
  readonly lines: string[] = []
  readonly #waiters: Array<() => void> = []

  constructor(proc: ChildProcess) {
    let buffered = ''
    proc.stdout?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString()
      const parts = buffered.split('\n')
      buffered = parts.pop() ?? ''
      this.lines.push(...parts.filter((l) => l.length > 0))
      for (const wake of this.#waiters.splice(0)) wake()
    })
  }

  /** The first line matching `pattern`, waiting up to `timeoutMs`. */
  async next(pattern: RegExp, timeoutMs: number): Promise<string> {
    const until = performance.now() + timeoutMs
    for (;;) {
      const found = this.lines.find((l) => pattern.test(l))
      if (found !== undefined) return found
      const leftMs = until - performance.now()
      if (leftMs <= 0) throw new Error(`no line matching ${pattern} within ${timeoutMs} ms`)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, leftMs)
        this.#waiters.push(() => {
          clearTimeout(timer)
          resolve()
        })
      })
    }
  }
}

/** `etcdctl lock NAME` (exec-less: prints its key, holds until signalled) against `url`. */
export function etcdctlLock(url: string, name: string, ttlSeconds = 10): ChildProcess {
  return spawn(
    'etcdctl',
    [`--endpoints=${endpointsOf(url).join(',')}`, 'lock', `--ttl=${ttlSeconds}`, name],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ETCDCTL_API: '3' } },
  )
}

/** Sends `signal` and resolves when the process exited. */
export async function stop(proc: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return
  const exited = new Promise((resolve) => proc.once('exit', resolve))
  proc.kill(signal)
  await exited
}

/** Polls `cond` every 10 ms for up to `timeoutMs`; throws `message` if it never held. */
export async function until(
  cond: () => boolean | Promise<boolean>,
  timeoutMs: number,
  message: string,
): Promise<void> {
  const end = performance.now() + timeoutMs
  while (performance.now() < end) {
    if (await cond()) return
    await new Promise((r) => setTimeout(r, 10))
  }
  throw new Error(`timed out after ${timeoutMs} ms: ${message}`)
}
