/**
 * The table row a namespaced key lives in: the key itself, unchanged (the table takes any
 * string). A backend with limits on key names (length, characters) maps them here, in a
 * way an operator can compute outside Baton (see the PostgreSQL driver's advisory key).
 */
export function rowKeyOf(key: string): string {
  return key
}
