import { readdirSync, readFileSync, readlinkSync } from 'node:fs'

/**
 * `pid` and all its descendants, parents first, read from /proc. Signalling the process group is
 * not enough: PostgreSQL backends call setsid() and leave the postmaster's group.
 */
export function processTree(pid: number): number[] {
  const children = new Map<number, number[]>()
  let entries: string[]
  try {
    entries = readdirSync('/proc')
  } catch {
    return [pid]
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue
    let stat: string
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
    } catch {
      continue // exited meanwhile
    }
    // "pid (comm) state ppid ...": comm may contain spaces and parentheses.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
    const list = children.get(ppid) ?? []
    list.push(Number(entry))
    children.set(ppid, list)
  }
  const tree: number[] = []
  const queue = [pid]
  while (queue.length > 0) {
    const next = queue.shift() as number
    tree.push(next)
    queue.push(...(children.get(next) ?? []))
  }
  return tree
}

/** Sends `signal` to the process group of `pid` and to every descendant; ignores the gone. */
export function signalTree(pid: number, signal: NodeJS.Signals): void {
  const tree = processTree(pid)
  const targets = signal === 'SIGCONT' ? tree.reverse() : tree
  try {
    process.kill(-pid, signal)
  } catch {
    // the group is gone or was never a group
  }
  for (const target of targets) {
    try {
      process.kill(target, signal)
    } catch {
      // exited meanwhile
    }
  }
}

/**
 * Whether the process tree of `pid` holds the socket listening on TCP `port`: true, false, or
 * undefined where /proc cannot tell. Guards against a readiness probe that reached another
 * process's server on a port this one failed to bind.
 */
export function ownsListener(pid: number, port: number): boolean | undefined {
  const inodes = new Set<string>()
  const portHex = port.toString(16).toUpperCase().padStart(4, '0')
  try {
    for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
      let text: string
      try {
        text = readFileSync(table, 'utf8')
      } catch {
        continue
      }
      for (const line of text.split('\n').slice(1)) {
        const fields = line.trim().split(/\s+/)
        // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
        if (fields[1]?.endsWith(`:${portHex}`) && fields[3] === '0A' && fields[9])
          inodes.add(fields[9])
      }
    }
  } catch {
    return undefined
  }
  if (inodes.size === 0) return false
  for (const member of processTree(pid)) {
    let fds: string[]
    try {
      fds = readdirSync(`/proc/${member}/fd`)
    } catch {
      continue
    }
    for (const fd of fds) {
      try {
        const target = readlinkSync(`/proc/${member}/fd/${fd}`)
        if (inodes.has(/^socket:\[(\d+)\]$/.exec(target)?.[1] ?? '')) return true
      } catch {
        // closed meanwhile
      }
    }
  }
  return false
}

/**
 * Waits until every thread of `pid`'s tree is stopped (`stopped`: true) or running again.
 * SIGSTOP is asynchronous: a thread already returning from a syscall can still answer one
 * request after `kill()` returned, so pause() is only done once /proc shows state T.
 * Gives up after `timeoutMs` (returns false) rather than hanging a test.
 */
export async function waitForTreeState(
  pid: number,
  stopped: boolean,
  timeoutMs = 2_000,
): Promise<boolean> {
  const deadline = performance.now() + timeoutMs
  for (;;) {
    if (processTree(pid).every((member) => threadsStopped(member) === stopped)) return true
    if (performance.now() > deadline) return false
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

/** Whether every thread of `pid` is in state T/t; true for a process that is gone. */
function threadsStopped(pid: number): boolean {
  let tasks: string[]
  try {
    tasks = readdirSync(`/proc/${pid}/task`)
  } catch {
    return true
  }
  return tasks.every((task) => {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${task}/stat`, 'utf8')
      const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3)
      return state === 'T' || state === 't' || state === 'Z' || state === 'X'
    } catch {
      return true
    }
  })
}
