/**
 * Removes credentials from a URL or any text that may contain one: the password of
 * `scheme://user:password@host`, and `password=` / `pass=` query or DSN parameters.
 * Used for every error message, log line and event that may carry a connection string.
 */
export function redact(text: string): string {
  return (
    text
      // Greedy up to the last '@' before white space: a raw '@' or '/' in a password is covered too.
      .replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^\s/@:]*:)[^\s]*@/gi, '$1***@')
      .replace(/(\b[a-z][a-z0-9+.-]*:\/\/)([^\s/@:]+)@/gi, '$1***@')
      .replace(/\b(password|passwd|pass|pwd|token|secret)=([^&\s;]+)/gi, '$1=***')
  )
}
