/** Raised when a server does not become ready; `portInUse` tells the caller to retry elsewhere. */
export class ServerStartError extends Error {
  override readonly name = 'ServerStartError'
  constructor(
    message: string,
    readonly portInUse: boolean,
  ) {
    super(message)
  }
}

/** What servers log when the chosen port was taken meanwhile (by another test worker). */
export const PORT_IN_USE =
  /address already in use|EADDRINUSE|bind.*in use|Can't start server: Bind/i

/** Starts a server, retrying on a fresh port when another process grabbed the chosen one. */
export async function startWithPortRetry<T>(attempt: () => Promise<T>, attempts = 3): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await attempt()
    } catch (error) {
      if (!(error instanceof ServerStartError && error.portInUse) || i >= attempts) throw error
    }
  }
}
