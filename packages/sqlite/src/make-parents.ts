import { mkdirSync, statSync } from 'node:fs'
import { dirname } from 'node:path'

/**
 * Creates directory `dir` (absolute) and its missing parents, with one non-recursive
 * `mkdir` per missing component: bounded by the number of components, whatever the file
 * system answers. Not `mkdirSync(dir, { recursive: true })`: on Node 20 that loops for
 * ever, synchronously, where `mkdir` fails with ENOENT under a parent that exists
 * (procfs: `/proc/nope`), and no timeout can interrupt a synchronous call.
 *
 * Throws the raw `fs` error (ENOTDIR when a component is a file, EACCES, EROFS, ENOENT).
 */
export function makeParents(dir: string): void {
  const missing: string[] = []
  // dirname() shortens the path on every step until the root, where it returns its input.
  for (let current = dir; ; current = dirname(current)) {
    const stat = statSync(current, { throwIfNoEntry: false })
    if (stat !== undefined) {
      if (!stat.isDirectory()) throw notADirectory(current)
      break
    }
    if (dirname(current) === current) break
    missing.push(current)
  }
  for (const component of missing.reverse()) {
    try {
      mkdirSync(component)
    } catch (err) {
      // Another process may create it at the same moment: that is as good.
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      if (!statSync(component).isDirectory()) throw notADirectory(component)
    }
  }
}

function notADirectory(path: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`ENOTDIR: not a directory, '${path}'`), {
    code: 'ENOTDIR',
    path,
  })
}
