/**
 * Exit codes of the `baton` command, stable for scripts: each code has one meaning across
 * every command. `baton run` exits with the command's own code (128 + N when a signal N
 * ended it) once the command ran; the codes below are baton's own. The help texts and the
 * README list them from `EXIT_CODE_TABLE`, so they cannot drift apart.
 */
export const EXIT = Object.freeze({
  /** Success; `status`: the lock is held. */
  OK: 0,
  /** `status`: the lock is free (a definite answer, not an error). */
  FREE: 1,
  /** Usage or configuration: unknown flag, malformed duration or URL, no lock database at a
   * `sqlite:` path (read-only commands), driver not installed, operation the backend cannot do. */
  USAGE: 2,
  /** The lock was not acquired within --wait (`run`, `lock`; `elect`: not elected in time). */
  TIMEOUT: 3,
  /** --skip-if-held: someone else holds the lock; nothing was run. */
  SKIPPED: 4,
  /** The lock was lost while held (`run`: the command was stopped; `lock`). */
  LOST: 5,
  /** `demo` or `conformance`: a check failed. */
  CHECK_FAILED: 6,
  /** The backend failed (unreachable, refused, timed out, protocol error) or an unexpected error. */
  BACKEND: 7,
  /** `elect`: leadership was lost while CMD ran (CMD was stopped) and `--recampaign` was not given. */
  LEADERSHIP_LOST: 8,
  /** `run`, `elect`: the command was found but could not be executed (permission), as in a shell. */
  NOT_EXECUTABLE: 126,
  /** `run`, `elect`: the command could not be found, as in a shell. */
  NOT_FOUND: 127,
})

/** One row per code, in the words of `baton --help` and the README. */
export const EXIT_CODE_TABLE: ReadonlyArray<readonly [code: string, meaning: string]> = [
  ['0', 'success; status: the lock is held'],
  ['1', 'status: the lock is free'],
  ['2', 'usage or configuration error (bad flag, duration or URL, no lock database at a'],
  ['', 'sqlite: path, driver package missing, operation the backend cannot do)'],
  ['3', 'not acquired within --wait (run, lock; elect: not elected)'],
  ['4', 'run --skip-if-held: held elsewhere, CMD not run'],
  ['5', 'the lock was lost while held (run: CMD was stopped)'],
  ['6', 'demo, conformance: a check failed'],
  ['7', 'backend error (unreachable, refused, timed out) or unexpected error'],
  ['8', 'elect: leadership lost while CMD ran (CMD was stopped)'],
  ['126', 'run, elect: CMD not executable'],
  ['127', 'run, elect: CMD not found'],
  ['128+N', 'signal N ended baton while waiting for the lock, or (run, elect) ended CMD'],
  ['CMD', "run, elect: once CMD ran, CMD's own exit code"],
]

/** The exit-code table as indented help lines. */
export function exitCodeLines(indent = '  '): string {
  return EXIT_CODE_TABLE.map(([code, meaning]) => `${indent}${code.padEnd(7)}${meaning}`).join('\n')
}

/** Exit code for a child ended by a signal: 128 + its number, as shells report it. */
export function signalExitCode(signal: NodeJS.Signals): number {
  const numbers: Partial<Record<NodeJS.Signals, number>> = {
    SIGHUP: 1,
    SIGINT: 2,
    SIGQUIT: 3,
    SIGABRT: 6,
    SIGKILL: 9,
    SIGUSR1: 10,
    SIGSEGV: 11,
    SIGUSR2: 12,
    SIGPIPE: 13,
    SIGALRM: 14,
    SIGTERM: 15,
  }
  return 128 + (numbers[signal] ?? 0)
}
