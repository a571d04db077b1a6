import { ExternalServerError, type ServerHandle } from './server-handle.js'

/** The environment variable that names an external server for a backend. */
export function externalUrlVariable(backend: string): string {
  return `BATON_${backend.toUpperCase()}_URL`
}

/** The external URL for a backend, if the environment names one. */
export function externalUrl(backend: string): string | undefined {
  const value = process.env[externalUrlVariable(backend)]?.trim()
  return value ? value : undefined
}

/** Replaces a password in a URL, so it can appear in messages and logs. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:/@]*):[^@/]*@/, '//$1:***@')
}

/** A handle for a server the harness does not own: connection facts only, faults throw. */
export function externalServer(backend: string, url: string): ServerHandle {
  // etcd://h1:p1,h2:p2 and zk://h1:p1,h2:p2/chroot list several hosts: the first one is named.
  const first = /^[a-z+]+:\/\/(?:[^@/]*@)?([^,/:]+|\[[^\]]+\]):?(\d+)?/i.exec(url)
  const host = first?.[1] ?? 'localhost'
  const port = Number(first?.[2] ?? 0)
  const refuse = (action: string) => async () => {
    throw new ExternalServerError(
      `cannot ${action} ${backend}: it is an external server (${externalUrlVariable(backend)}=${redactUrl(url)}); ` +
        'fault injection needs a server the harness started',
    )
  }
  return {
    name: backend,
    host,
    port,
    url,
    external: true,
    // Stopping an external server is a no-op: it is not ours to stop.
    stop: async () => {},
    kill: refuse('kill'),
    pause: refuse('pause'),
    resume: refuse('resume'),
    restart: refuse('restart'),
    logs: () => `(external ${backend} server ${redactUrl(url)}: no logs)`,
  }
}
