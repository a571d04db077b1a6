/** The tail of a server's output, bounded so a chatty server cannot grow memory without end. */
export class LogBuffer {
  readonly #maxChars: number
  #chunks: string[] = []
  #chars = 0

  constructor(maxChars = 256 * 1024) {
    this.#maxChars = maxChars
  }

  append(text: string): void {
    this.#chunks.push(text)
    this.#chars += text.length
    while (this.#chars > this.#maxChars && this.#chunks.length > 1) {
      this.#chars -= this.#chunks.shift()?.length ?? 0
    }
  }

  text(): string {
    return this.#chunks.join('')
  }

  /** The last `lines` lines, for error messages. */
  tail(lines = 40): string {
    return this.text()
      .split('\n')
      .slice(-lines - 1)
      .join('\n')
  }
}
