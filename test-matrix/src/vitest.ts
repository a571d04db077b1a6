// Vitest helpers. A separate entry (`@baton-lock/test-matrix/vitest`), so the core harness stays
// importable without vitest (the bench uses it from plain Node).
import { afterAll, beforeAll, beforeEach, type TestContext } from 'vitest'
import { redactUrl } from './external-server.js'
import { type ClusterHandle, canInjectFaults, type ServerHandle } from './server-handle.js'

export interface UseServerOptions {
  /** Lines of the server log printed when a test fails (default 200). */
  logLines?: number
}

/**
 * Starts a server in `beforeAll`, stops it in `afterAll`, and prints its log tail when a test of
 * the enclosing suite fails. Returns an accessor, valid inside tests and hooks:
 *
 *   const redis = useServer(() => startRedis())
 *   test('...', async () => { const client = new Redis(redis().url) })
 */
export function useServer<T extends ServerHandle | ClusterHandle>(
  start: () => Promise<T>,
  options: UseServerOptions = {},
): () => T {
  let handle: T | undefined
  beforeAll(async () => {
    handle = await start()
  })
  afterAll(async () => {
    await handle?.stop()
    handle = undefined
  })
  beforeEach((context) => {
    context.onTestFailed(() => {
      if (!handle) return
      console.error(formatLogs(handle, options.logLines ?? 200))
    })
  })
  return () => {
    if (!handle) throw new Error('useServer(): the server is only available inside tests and hooks')
    return handle
  }
}

/** The tail of a handle's log under a header naming the server; used when a test fails. */
export function formatLogs(handle: ServerHandle | ClusterHandle, lines = 200): string {
  const tail = (text: string, n: number) => text.split('\n').slice(-n).join('\n')
  // A cluster's log is its members' logs one after another: the tail of that would be the
  // last member's alone, while a cluster failure (an election, a rejoin) needs every one.
  if ('members' in handle) {
    const each = Math.max(80, Math.ceil(lines / Math.max(1, handle.members.length)))
    const text = handle.members
      .map((m) => `===== ${m.name} (${m.host}:${m.port}) =====\n${tail(m.logs(), each)}`)
      .join('\n')
    return `----- ${handle.name} log (${redactUrl(handle.url)}), last ${each} lines of each member -----\n${text}\n----- end of ${handle.name} log -----`
  }
  return `----- ${handle.name} log (${redactUrl(handle.url)}), last ${lines} lines -----\n${tail(handle.logs(), lines)}\n----- end of ${handle.name} log -----`
}

/**
 * Skips the running test, visibly and with the reason, when `handle` is an external server
 * (BATON_<BACKEND>_URL): kill, pause, resume and restart need a server the harness owns.
 */
export function skipIfExternal(context: TestContext, handle: ServerHandle | ClusterHandle): void {
  context.skip(
    !canInjectFaults(handle),
    `${handle.name} is an external server (BATON_*_URL): fault injection needs a server the harness started`,
  )
}
