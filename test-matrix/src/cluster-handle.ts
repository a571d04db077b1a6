import type { ClusterHandle, ServerHandle } from './server-handle.js'

/** Starts every member together; when one fails, stops the others and rethrows. */
export async function startAll(starts: (() => Promise<ServerHandle>)[]): Promise<ServerHandle[]> {
  const results = await Promise.allSettled(starts.map((start) => start()))
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')
  if (!failed) return results.map((r) => (r as PromiseFulfilledResult<ServerHandle>).value)
  await Promise.allSettled(
    results.map((r) => (r.status === 'fulfilled' ? r.value.stop() : undefined)),
  )
  throw failed.reason
}

/** Groups members into one handle; `stop()` stops them all, also when one of them fails. */
export function clusterOf(name: string, members: ServerHandle[], url: string): ClusterHandle {
  return {
    name,
    members,
    url,
    external: members.some((m) => m.external),
    async stop() {
      // A graceful stop of a quorum system stalls on leader hand-offs; the data goes anyway.
      await Promise.allSettled(members.filter((m) => !m.external).map((m) => m.kill()))
      const results = await Promise.allSettled(members.map((m) => m.stop()))
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')
      if (failed) throw failed.reason
    },
    logs() {
      return members
        .map((m) => `===== ${m.name} (${m.host}:${m.port}) =====\n${m.logs()}`)
        .join('\n')
    },
  }
}
