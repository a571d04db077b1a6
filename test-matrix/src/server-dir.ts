import { chown, mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** A fresh temp directory for one server, optionally owned by the account the server runs as. */
export async function makeServerDir(
  backend: string,
  owner?: { uid: number; gid: number },
): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `baton-tm-${backend}-`))
  if (owner) await chown(dir, owner.uid, owner.gid)
  return dir
}
