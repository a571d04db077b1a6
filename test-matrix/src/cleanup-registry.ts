import { type ChildProcess, spawn } from 'node:child_process'
import { rmSync } from 'node:fs'
import type { Writable } from 'node:stream'
import { signalTree } from './process-tree.js'

// Two layers make sure no server outlives the process that started it:
// 1. 'exit', SIGINT, SIGTERM and SIGHUP handlers kill every registered process group and
//    remove every registered directory synchronously (test failures, Ctrl-C, a runner's SIGTERM).
//    Inside vitest, a worker whose parent (the vitest main process) died does the same.
// 2. A watchdog shell, started once per process, reads registrations on its stdin. When this
//    process dies in any way (even SIGKILL), the kernel closes the pipe, the watchdog reads EOF
//    and does the same cleanup. It runs in its own session so Ctrl-C does not reach it first.
const WATCHDOG_SCRIPT = `
trap '' INT TERM HUP
declare -A groups dirs
while read -r op arg; do
  case "$op" in
    +group) groups["$arg"]=1 ;;
    -group) unset 'groups[$arg]' ;;
    +dir) dirs["$arg"]=1 ;;
    -dir) unset 'dirs[$arg]' ;;
  esac
done
# A process and its descendants from /proc (no ps on minimal images). PostgreSQL backends
# leave the postmaster's process group, so the group alone is not enough.
tree() {
  local target=$1 f s pid
  echo "$target"
  for f in /proc/[0-9]*/stat; do
    read -r s < "$f" 2>/dev/null || continue
    set -- \${s##*) }
    if [ "$2" = "$target" ]; then pid=\${f#/proc/}; tree "\${pid%/stat}"; fi
  done
}
for g in "\${!groups[@]}"; do
  pids=$(tree "$g")
  kill -STOP -- "-$g" $pids 2>/dev/null
  kill -KILL -- "-$g" $pids 2>/dev/null
done
for i in 1 2 3 4 5 6 7 8 9 10; do
  alive=0
  for g in "\${!groups[@]}"; do kill -0 -- "-$g" 2>/dev/null && alive=1; done
  [ "$alive" = 0 ] && break
  sleep 0.1
done
for d in "\${!dirs[@]}"; do rm -rf -- "$d"; done
`

interface Registry {
  groups: Set<number>
  dirs: Set<string>
  watchdog: ChildProcess | undefined
  installed: boolean
}

// One registry per process, not per module instance: vitest re-imports modules for every test
// file in a worker, and a second set of signal handlers would keep the process from dying.
const KEY = Symbol.for('baton.test-matrix.cleanup-registry')
const shared = globalThis as { [KEY]?: Registry }
shared[KEY] ??= { groups: new Set(), dirs: new Set(), watchdog: undefined, installed: false }
const registry: Registry = shared[KEY]

function tell(line: string): void {
  const stdin = registry.watchdog?.stdin
  if (stdin && !stdin.destroyed) stdin.write(`${line}\n`)
}

function ensureWatchdog(): void {
  if (registry.watchdog) return
  const watchdog = spawn('bash', ['-c', WATCHDOG_SCRIPT], {
    detached: true,
    stdio: ['pipe', 'ignore', 'ignore'],
  })
  registry.watchdog = watchdog
  watchdog.on('error', () => {
    registry.watchdog = undefined
  })
  watchdog.stdin?.on('error', () => {}) // EPIPE if the watchdog died; the handlers still run
  watchdog.unref()
  // The pipe must not keep this process alive; the kernel still closes it when we die.
  ;(watchdog.stdin as (Writable & { unref?: () => void }) | null)?.unref?.()
}

/** Kills every registered process tree and removes every registered directory, synchronously. */
export function cleanupNow(): void {
  for (const group of registry.groups) {
    signalTree(group, 'SIGCONT')
    signalTree(group, 'SIGKILL')
  }
  registry.groups.clear()
  for (const dir of registry.dirs) rmSync(dir, { recursive: true, force: true, maxRetries: 3 })
  registry.dirs.clear()
}

function onSignal(signal: NodeJS.Signals): void {
  cleanupNow()
  // Keep the default behaviour (terminate) unless someone else handles the signal too.
  if (process.listenerCount(signal) === 1) {
    process.removeListener(signal, onSignal)
    process.kill(process.pid, signal)
  }
}

function installHandlers(): void {
  if (registry.installed) return
  registry.installed = true
  process.on('exit', cleanupNow)
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, onSignal)
  watchParent()
}

/**
 * A vitest worker outlives a killed `vitest` main process (it is re-parented and runs its test
 * to the end), and so would its servers. Inside vitest (or with BATON_TEST_MATRIX_WATCH_PARENT=1)
 * the servers go as soon as the parent does. Not by default elsewhere: a benchmark whose shell
 * exits must keep its servers.
 */
function watchParent(): void {
  const enabled = process.env.BATON_TEST_MATRIX_WATCH_PARENT ?? (process.env.VITEST ? '1' : '0')
  if (enabled !== '1') return
  const parent = process.ppid
  const timer = setInterval(() => {
    if (process.ppid === parent) return
    clearInterval(timer)
    process.stderr.write(
      `@baton-lock/test-matrix: parent process ${parent} is gone; stopping every server\n`,
    )
    cleanupNow()
  }, 250)
  timer.unref()
}

/** Registers a server's process group (its leader's PID, spawned with `detached: true`). */
export function registerGroup(pid: number): void {
  installHandlers()
  ensureWatchdog()
  registry.groups.add(pid)
  tell(`+group ${pid}`)
}

export function unregisterGroup(pid: number): void {
  registry.groups.delete(pid)
  tell(`-group ${pid}`)
}

/** Registers a temp directory that is removed at exit if nobody removed it before. */
export function registerDir(dir: string): void {
  installHandlers()
  ensureWatchdog()
  registry.dirs.add(dir)
  tell(`+dir ${dir}`)
}

export function unregisterDir(dir: string): void {
  registry.dirs.delete(dir)
  tell(`-dir ${dir}`)
}

/** PID of the watchdog shell, for tests of the harness. */
export function watchdogPid(): number | undefined {
  return registry.watchdog?.pid
}
