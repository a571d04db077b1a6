import type { ClusterHandle, ServerHandle } from './server-handle.js'

/** Groups members into one handle; `stop()` stops them all, also when one of them fails. */
export function clusterOf(name: string, members: ServerHandle[], url: string): ClusterHandle {
  return {
    name,
    members,
    url,
    external: members.some((m) => m.external),
    async stop() {
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
