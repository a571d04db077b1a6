/**
 * Exit codes of the `baton` command, stable for scripts. `baton run` exits with the
 * command's own code (128 + N when a signal N ended it) unless it says otherwise below.
 */
export const EXIT = Object.freeze({
  /** Success. */
  OK: 0,
  /** The backend failed (unreachable, refused, protocol error) or an unexpected error. */
  BACKEND: 1,
  /** Usage or configuration: unknown flag, malformed duration or URL, driver not installed. */
  USAGE: 2,
  /** The lock was not acquired within --wait. */
  TIMEOUT: 3,
  /** --skip-if-held: someone else holds the lock; nothing was run. */
  SKIPPED: 4,
  /** The lock was lost while the command ran; the command was stopped. */
  LOST: 5,
  /** The command could not be started (not found or not executable), as in a shell. */
  NOT_FOUND: 127,
})

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
