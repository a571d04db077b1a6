/**
 * The demo's live progress. On a terminal one line is redrawn in place (at most every
 * 100 ms); otherwise (a pipe, a CI log) a plain line is printed at each quarter.
 */
export class ProgressLine {
  readonly #total: number
  readonly #tty: boolean
  #startedMs = performance.now()
  #lastDrawMs = -Infinity
  #lastQuarter = 0
  #drawn = false

  constructor(total: number, stream: NodeJS.WriteStream = process.stdout) {
    this.#total = total
    this.#tty = stream.isTTY === true
  }

  /** Starts the clock of the rate shown (when the workers start, after they connected). */
  start(): void {
    this.#startedMs = performance.now()
  }

  /** Reports `done` acquisitions so far and the latest fence. */
  update(done: number, fence: string): void {
    const nowMs = performance.now()
    if (this.#tty) {
      if (nowMs - this.#lastDrawMs < 100 && done < this.#total) return
      this.#lastDrawMs = nowMs
      process.stdout.write(`\r\u001b[2K  ${this.#text(done, fence, nowMs)}`)
      this.#drawn = true
      return
    }
    const quarter = Math.floor((done * 4) / this.#total)
    if (quarter > this.#lastQuarter) {
      this.#lastQuarter = quarter
      process.stdout.write(`  ${this.#text(done, fence, nowMs)}\n`)
    }
  }

  /** Ends the live line so that the summary starts on a fresh one. */
  finish(): void {
    if (this.#tty && this.#drawn) process.stdout.write('\n')
  }

  #text(done: number, fence: string, nowMs: number): string {
    const seconds = (nowMs - this.#startedMs) / 1000
    const rate = seconds > 0 ? Math.round(done / seconds) : 0
    const percent = Math.floor((done * 100) / this.#total)
    return `${done}/${this.#total} acquisitions (${percent}%), ${rate}/s, fence ${fence}`
  }
}
