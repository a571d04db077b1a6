import { type ChildProcess, spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { setTimeout as sleep } from 'node:timers/promises'
import { registerDir, registerGroup, unregisterDir, unregisterGroup } from './cleanup-registry.js'
import { LogBuffer } from './log-buffer.js'
import { ownsListener, processTree, signalTree, waitForTreeState } from './process-tree.js'
import type { ServerHandle } from './server-handle.js'
import { PORT_IN_USE, ServerStartError } from './server-start-error.js'

/** How to launch one server process; called again for every (re)start. */
export interface ProcessSpec {
  command: string
  args: string[]
  env?: Record<string, string>
  cwd?: string
  /** Run as this uid/gid (PostgreSQL refuses to run as root). */
  uid?: number
  gid?: number
}

export interface NativeServerOptions {
  name: string
  host: string
  port: number
  url: string
  /** The server's own temp directory: removed by `stop()` and at process exit. */
  dir: string
  spec: () => ProcessSpec
  /** A real protocol check: resolves true once the server serves requests. */
  probe: () => Promise<boolean>
  /** Signal for a graceful stop (PostgreSQL: SIGINT, "fast" shutdown). */
  stopSignal?: NodeJS.Signals
  startTimeoutMs: number
  stopTimeoutMs?: number
}

/** A server process the harness spawned in its own process group, stopped by PID. */
export class NativeServer implements ServerHandle {
  readonly name: string
  readonly host: string
  readonly port: number
  readonly url: string
  readonly external = false
  readonly dir: string
  readonly #options: NativeServerOptions
  readonly #log = new LogBuffer()
  #child: ChildProcess | undefined
  #exited: Promise<void> = Promise.resolve()
  #stopped = false

  constructor(options: NativeServerOptions) {
    this.#options = options
    this.name = options.name
    this.host = options.host
    this.port = options.port
    this.url = options.url
    this.dir = options.dir
    registerDir(options.dir)
  }

  /** PID of the process group leader while it runs. */
  get pid(): number | undefined {
    return this.#child?.pid
  }

  logs(): string {
    return this.#log.text()
  }

  /** Spawns the process and waits until the probe answers; kills it and throws on timeout or exit. */
  async start(): Promise<void> {
    if (this.#stopped) throw new Error(`${this.name} was stopped; start a new server instead`)
    const spec = this.#options.spec()
    const child = spawn(spec.command, spec.args, {
      cwd: spec.cwd ?? this.dir,
      env: { ...process.env, TMPDIR: this.dir, ...spec.env },
      uid: spec.uid,
      gid: spec.gid,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let exitCode: string | undefined
    this.#exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        exitCode = signal ?? String(code)
        this.#log.append(`[harness] ${this.name} exited (${exitCode})\n`)
        if (child.pid) unregisterGroup(child.pid)
        resolve()
      })
      child.once('error', (error) => {
        exitCode = error.message
        this.#log.append(`[harness] ${this.name} failed to spawn: ${error.message}\n`)
        resolve()
      })
    })
    if (child.pid) registerGroup(child.pid)
    this.#child = child
    for (const stream of [child.stdout, child.stderr]) {
      stream?.setEncoding('utf8')
      stream?.on('data', (text: string) => this.#log.append(text))
      ;(stream as { unref?: () => void } | null)?.unref?.()
    }
    child.unref()

    const deadline = performance.now() + this.#options.startTimeoutMs
    let pauseMs = 20
    while (exitCode === undefined) {
      if (await this.#options.probe().catch(() => false)) {
        // The answer must come from this server, not from one another worker started on the
        // same port in the moment between picking the port and binding it.
        if (child.pid === undefined || ownsListener(child.pid, this.port) !== false) return
        exitCode = 'port taken by another process'
        this.#log.append(
          `[harness] ${this.host}:${this.port} answers, but not from ${this.name}: address already in use\n`,
        )
        break
      }
      if (performance.now() > deadline) break
      await sleep(pauseMs)
      pauseMs = Math.min(pauseMs * 1.5, 200)
    }
    const reason =
      exitCode === undefined
        ? `did not become ready within ${this.#options.startTimeoutMs} ms`
        : `exited during start-up (${exitCode})`
    await this.#killGroup()
    const tail = this.#log.tail(40)
    throw new ServerStartError(
      `${this.name} on ${this.host}:${this.port} ${reason}. Log tail:\n${tail}`,
      PORT_IN_USE.test(tail),
    )
  }

  async stop(): Promise<void> {
    if (this.#stopped) return
    this.#stopped = true
    await keepAlive(async () => {
      await this.#stopProcess()
      await rm(this.dir, { recursive: true, force: true, maxRetries: 3 })
      unregisterDir(this.dir)
    })
  }

  async kill(): Promise<void> {
    this.#assertNotStopped('kill')
    await keepAlive(() => this.#killGroup())
  }

  async pause(): Promise<void> {
    this.#assertNotStopped('pause')
    this.#signalGroup('SIGSTOP')
    await this.#settle(true)
  }

  async resume(): Promise<void> {
    this.#assertNotStopped('resume')
    this.#signalGroup('SIGCONT')
    await this.#settle(false)
  }

  /** Waits until the kernel shows every thread stopped (or running again). */
  async #settle(stopped: boolean): Promise<void> {
    const pid = this.#child?.pid
    if (pid === undefined) return
    if (!(await waitForTreeState(pid, stopped))) {
      this.#log.append(`[harness] ${this.name} did not ${stopped ? 'stop' : 'continue'} in 2 s\n`)
    }
  }

  async restart(): Promise<void> {
    this.#assertNotStopped('restart')
    await keepAlive(() => this.#stopProcess())
    this.#log.append(`[harness] restarting ${this.name}\n`)
    await this.start()
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop()
  }

  #assertNotStopped(action: string): void {
    if (this.#stopped) throw new Error(`cannot ${action} ${this.name}: it was stopped`)
  }

  #running(): boolean {
    const child = this.#child
    return child !== undefined && child.exitCode === null && child.signalCode === null
  }

  #signalGroup(signal: NodeJS.Signals): void {
    const pid = this.#child?.pid
    if (!pid || !this.#running()) throw new Error(`${this.name} is not running`)
    signalTree(pid, signal)
  }

  async #stopProcess(): Promise<void> {
    const pid = this.#child?.pid
    if (!pid || !this.#running()) return this.#killGroup()
    try {
      process.kill(pid, this.#options.stopSignal ?? 'SIGTERM')
      signalTree(pid, 'SIGCONT') // a paused server must run to shut down
    } catch {
      // exited meanwhile
    }
    const stopTimeoutMs = this.#options.stopTimeoutMs ?? 10_000
    const timedOut = await Promise.race([
      this.#exited.then(() => false),
      sleep(stopTimeoutMs, true, { ref: false }),
    ])
    if (timedOut) this.#log.append(`[harness] no exit within ${stopTimeoutMs} ms; SIGKILL\n`)
    await this.#killGroup()
  }

  /** SIGKILL to the whole group (the leader and anything it forked), then waits for the leader. */
  async #killGroup(): Promise<void> {
    const pid = this.#child?.pid
    if (!pid) return
    const tree = this.#running() ? processTree(pid) : []
    signalTree(pid, 'SIGKILL')
    await this.#exited
    // Children of the leader (e.g. PostgreSQL backends) may outlive it by a moment.
    for (let i = 0; i < 50 && (groupAlive(pid) || tree.some(alive)); i++) await sleep(20)
  }
}

/**
 * The server process and its pipes are unref'd (a forgotten server must not keep a test process
 * alive), so nothing else holds the event loop open while we wait for one to exit.
 */
async function keepAlive<T>(fn: () => Promise<T>): Promise<T> {
  const timer = setInterval(() => {}, 1_000)
  try {
    return await fn()
  } finally {
    clearInterval(timer)
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ')
  } catch {
    return false
  }
}

function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0)
    return true
  } catch {
    return false
  }
}
