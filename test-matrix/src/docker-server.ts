import { existsSync } from 'node:fs'
import { request } from 'node:http'
import { setTimeout as sleep } from 'node:timers/promises'
import { freePort } from './free-port.js'
import { LogBuffer } from './log-buffer.js'
import type { ServerHandle } from './server-handle.js'

/** What the harness needs to run one backend in a container. */
export interface ContainerSpec {
  name: string
  image: string
  /** The port the server listens on inside the container. */
  containerPort: number
  env?: Record<string, string>
  command?: string[]
  probe: (host: string, port: number) => Promise<boolean>
  url: (host: string, port: number) => string
  startTimeoutMs: number
}

let available: Promise<boolean> | undefined

/**
 * True when a Docker engine answers /_ping within 1.5 s. BATON_TEST_MATRIX_PROVIDER=native skips
 * the check; =docker insists on Docker (and fails at start if it does not answer).
 */
export function dockerAvailable(): Promise<boolean> {
  const provider = process.env.BATON_TEST_MATRIX_PROVIDER
  if (provider === 'native') return Promise.resolve(false)
  if (provider === 'docker') return Promise.resolve(true)
  available ??= ping()
  return available
}

function ping(): Promise<boolean> {
  const dockerHost = process.env.DOCKER_HOST ?? 'unix:///var/run/docker.sock'
  const target = dockerHost.startsWith('unix://')
    ? { socketPath: dockerHost.slice('unix://'.length) }
    : (() => {
        const url = new URL(dockerHost.replace(/^tcp:/, 'http:'))
        return { host: url.hostname, port: Number(url.port || 2375) }
      })()
  if ('socketPath' in target && !existsSync(target.socketPath)) return Promise.resolve(false)
  return new Promise((resolve) => {
    const req = request({ ...target, path: '/_ping', timeout: 1_500 }, (res) => {
      res.resume()
      resolve(res.statusCode === 200)
    })
    req.on('timeout', () => req.destroy())
    req.on('error', () => resolve(false))
    req.end()
  })
}

/**
 * Starts a container through testcontainers (imported only now), with the server port bound to
 * a free host port chosen here, so `restart()` keeps it. Ryuk removes the container if this
 * process dies. kill/pause/resume act on the container (docker kill, pause, unpause).
 */
export async function startContainer(spec: ContainerSpec): Promise<ServerHandle> {
  const { GenericContainer, getContainerRuntimeClient } = await import('testcontainers')
  const hostPort = await freePort()
  let builder = new GenericContainer(spec.image)
    .withExposedPorts({ container: spec.containerPort, host: hostPort })
    .withEnvironment(spec.env ?? {})
  if (spec.command) builder = builder.withCommand(spec.command)
  const started = await builder.start().catch((error: unknown) => {
    throw new Error(
      `${spec.name}: starting ${spec.image} through Docker (testcontainers) failed: ${String(error)}. ` +
        'Set BATON_TEST_MATRIX_PROVIDER=native to use native binaries instead.',
      { cause: error },
    )
  })
  const runtime = await getContainerRuntimeClient()
  const container = runtime.container.getById(started.getId())
  const host = started.getHost()
  const log = new LogBuffer()
  const follow = async () => {
    const stream = await started.logs()
    stream.on('data', (chunk: Buffer | string) => log.append(chunk.toString()))
    stream.on('error', () => {})
  }
  const waitReady = async () => {
    const deadline = performance.now() + spec.startTimeoutMs
    while (!(await spec.probe(host, hostPort).catch(() => false))) {
      if (performance.now() > deadline) {
        throw new Error(
          `${spec.name} container did not become ready within ${spec.startTimeoutMs} ms. Log tail:\n${log.tail()}`,
        )
      }
      await sleep(100)
    }
  }
  await follow()
  try {
    await waitReady()
  } catch (error) {
    await started.stop()
    throw error
  }
  let stopped = false
  const guard = (action: string) => {
    if (stopped) throw new Error(`cannot ${action} ${spec.name}: it was stopped`)
  }
  return {
    name: spec.name,
    host,
    port: hostPort,
    url: spec.url(host, hostPort),
    external: false,
    async stop() {
      if (stopped) return
      stopped = true
      await started.stop({ timeout: 10_000 })
    },
    async kill() {
      guard('kill')
      await container.kill({ signal: 'SIGKILL' })
    },
    async pause() {
      guard('pause')
      await container.pause()
    },
    async resume() {
      guard('resume')
      await container.unpause()
    },
    async restart() {
      guard('restart')
      const state = (await container.inspect()).State
      if (state.Paused) await container.unpause()
      if (state.Running) await container.stop({ t: 10 })
      await container.start()
      await follow()
      await waitReady()
    },
    logs: () => log.text(),
  }
}
