import { spawn } from 'node:child_process'

export interface RunOptions {
  uid?: number
  gid?: number
  env?: Record<string, string>
  input?: string
  timeoutMs?: number
}

/** Runs a setup command (initdb, psql, ...) to completion; throws with its output on failure. */
export function runCommand(
  command: string,
  args: string[],
  options: RunOptions = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      uid: options.uid,
      gid: options.gid,
      env: { ...process.env, ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: options.timeoutMs ?? 120_000,
      killSignal: 'SIGKILL',
    })
    let output = ''
    child.stdout.setEncoding('utf8').on('data', (t: string) => {
      output += t
    })
    child.stderr.setEncoding('utf8').on('data', (t: string) => {
      output += t
    })
    child.stdin.on('error', () => {}) // EPIPE when the command exits without reading its input
    child.stdin.end(options.input ?? '')
    child.once('error', reject)
    child.once('close', (code, signal) => {
      if (code === 0) resolve(output)
      else
        reject(
          new Error(
            `${command} ${args.join(' ')} failed (${signal ?? code}):\n${output.slice(-4000)}`,
          ),
        )
    })
  })
}
