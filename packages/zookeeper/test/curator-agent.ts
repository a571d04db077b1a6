import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'

// Debian's libcurator-recipes-java (Curator 5.4) and libzookeeper-java, with a JDK
// (openjdk-17-jdk-headless): test-matrix/install-servers.sh installs them.
const JARS = [
  'curator-client',
  'curator-framework',
  'curator-recipes',
  'zookeeper',
  'zookeeper-jute',
  'guava',
  'slf4j-api',
  'slf4j-nop',
].map((name) => `/usr/share/java/${name}.jar`)

/** One reply line of the agent, split into words. */
export type AgentLine = readonly string[]

/**
 * Real Apache Curator `InterProcessMutex` clients in one JVM (fixtures/CuratorAgent.java,
 * compiled with javac into a temp dir), driven over stdin: JVM start-up is slow on a
 * loaded machine, so a test file starts one agent and opens every Curator client in it.
 */
export class CuratorAgent {
  readonly #proc: ChildProcess
  readonly #dir: string
  readonly #lines: AgentLine[] = []
  readonly #waiters = new Set<() => void>()

  private constructor(proc: ChildProcess, dir: string) {
    this.#proc = proc
    this.#dir = dir
    let buffer = ''
    proc.stdout?.on('data', (chunk: Buffer) => {
      buffer += chunk.toString()
      for (let at = buffer.indexOf('\n'); at >= 0; at = buffer.indexOf('\n')) {
        this.#lines.push(buffer.slice(0, at).trim().split(' '))
        if (process.env.AGENT_DEBUG) console.log('AGENT', buffer.slice(0, at))
        buffer = buffer.slice(at + 1)
      }
      for (const wake of this.#waiters) wake()
    })
  }

  /** Compiles and starts the agent against `connectString` (`host:port,...`), Curator sessions of `sessionMs`. */
  static async start(connectString: string, sessionMs: number): Promise<CuratorAgent> {
    const missing = JARS.filter((jar) => !existsSync(jar))
    if (missing.length > 0) {
      throw new Error(
        `Curator jars missing (${missing.join(', ')}): run sudo bash test-matrix/install-servers.sh`,
      )
    }
    const dir = mkdtempSync(join(tmpdir(), 'baton-curator-'))
    const source = join(import.meta.dirname, 'fixtures/CuratorAgent.java')
    // asynchronously: javac takes seconds on a loaded machine, and a blocked event loop
    // would let the test's other ZooKeeper sessions (an admin client) miss their pings
    await promisify(execFile)('javac', ['-cp', JARS.join(':'), '-d', dir, source])
    const proc = spawn(
      'java',
      [
        '-XX:+UseSerialGC',
        '-XX:TieredStopAtLevel=1',
        '-XX:-UsePerfData',
        '-cp',
        `${dir}:${JARS.join(':')}`,
      ].concat(['CuratorAgent', connectString, String(sessionMs)]),
      { stdio: ['pipe', 'pipe', 'inherit'] },
    )
    const agent = new CuratorAgent(proc, dir)
    await agent.next((w) => w[0] === 'ready', 120_000)
    return agent
  }

  /** Sends one command line. */
  send(line: string): void {
    this.#proc.stdin?.write(`${line}\n`)
  }

  /** Sends `line` and waits for the reply that matches. */
  async ask(
    line: string,
    match: (words: AgentLine) => boolean,
    timeoutMs = 60_000,
  ): Promise<AgentLine> {
    this.send(line)
    return this.next(match, timeoutMs)
  }

  /** Waits for (and consumes) the first reply line that matches; rejects on an error line about it. */
  next(match: (words: AgentLine) => boolean, timeoutMs = 60_000): Promise<AgentLine> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const at = this.#lines.findIndex(match)
        if (at < 0) return false
        const [line] = this.#lines.splice(at, 1)
        done()
        resolve(line ?? [])
        return true
      }
      const done = () => {
        clearTimeout(timer)
        this.#waiters.delete(onLine)
      }
      const onLine = () => {
        const error = this.#lines.find((w) => w[0] === 'error')
        if (error !== undefined) {
          done()
          reject(new Error(`Curator agent: ${error.join(' ')}`))
          return
        }
        check()
      }
      const timer = setTimeout(() => {
        done()
        reject(new Error(`Curator agent: no matching reply within ${timeoutMs} ms`))
      }, timeoutMs)
      this.#waiters.add(onLine)
      onLine()
    })
  }

  /** Opens a Curator client (own session) named `name`. */
  async newClient(name: string): Promise<void> {
    await this.ask(`new ${name}`, (w) => w[0] === 'new' && w[1] === name, 120_000)
  }

  /** Stops the JVM and removes the compiled classes. */
  async stop(): Promise<void> {
    if (this.#proc.exitCode === null) {
      const exited = new Promise((resolve) => this.#proc.once('exit', resolve))
      this.send('exit')
      const timer = setTimeout(() => this.#proc.kill('SIGKILL'), 10_000)
      await exited
      clearTimeout(timer)
    }
    rmSync(this.#dir, { recursive: true, force: true })
  }
}
