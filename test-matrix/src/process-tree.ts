import { readdirSync, readFileSync } from 'node:fs'

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
