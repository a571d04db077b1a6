import { type ChildProcess, fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'

/*
 * Worker processes run the same module files as the parent. When the parent runs from the
 * TypeScript sources (the smoke test, local runs), children load them through the hooks in
 * test/ts-register.mjs; from the build they are plain JavaScript.
 */
const fromSources = import.meta.url.endsWith('.ts')

/** Forks `src/<name>.ts` or `dist/<name>.js` with `extraExecArgv` (e.g. --expose-gc). */
export function forkWorker(name: string, extraExecArgv: readonly string[] = []): ChildProcess {
  const file = fileURLToPath(new URL(`./${name}.${fromSources ? 'ts' : 'js'}`, import.meta.url))
  const loader = fromSources
    ? ['--import', new URL('../test/ts-register.mjs', import.meta.url).href]
    : []
  return fork(file, [], {
    execArgv: [...loader, ...extraExecArgv],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    serialization: 'advanced',
  })
}

/** Resolves with the next message from `child` that satisfies `accept`; rejects if it exits first or after `timeoutMs`. */
export function nextMessage<T>(
  child: ChildProcess,
  accept: (message: unknown) => message is T,
  timeoutMs: number,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(
      () => finish(new Error(`worker ${child.pid} sent nothing within ${timeoutMs} ms`)),
      timeoutMs,
    )
    const onMessage = (message: unknown) => {
      if (accept(message)) finish(undefined, message)
      else if (isFailure(message)) finish(new Error(message.error))
    }
    const onExit = (code: number | null, signal: string | null) =>
      finish(
        new Error(`worker ${child.pid} exited (code ${code}, signal ${signal}) before answering`),
      )
    const finish = (error: Error | undefined, message?: T) => {
      clearTimeout(timer)
      child.off('message', onMessage).off('exit', onExit)
      if (error) reject(error)
      else resolve(message as T)
    }
    child.on('message', onMessage).on('exit', onExit)
  })
}

/** Every worker says `{ type: 'hello' }` once it listens for its instructions. */
export function isHello(m: unknown): m is { type: 'hello' } {
  return (m as { type?: unknown } | null)?.type === 'hello'
}

/** A worker reports a fatal error as `{ type: 'failed', error }`. */
export interface WorkerFailure {
  readonly type: 'failed'
  readonly error: string
}

function isFailure(message: unknown): message is WorkerFailure {
  return (message as { type?: unknown } | null)?.type === 'failed'
}

/** Waits (bounded) for a worker to exit by itself, then ends it by its PID with SIGKILL. */
export async function endWorker(child: ChildProcess, graceMs = 5_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
  await exited
  clearTimeout(timer)
}
