import { createHash } from 'node:crypto'
import { Command, type Redis } from 'ioredis'
import { describe, expect, it } from 'vitest'
import { callKeys } from '../src/lock-commands.js'
import { respBulk, ScriptCall } from '../src/script-call.js'
import { RELEASE, TRY_ACQUIRE } from '../src/scripts.js'

// The driver writes its hot scripts as RESP text it built itself (src/script-call.ts). That
// text must be byte for byte what ioredis writes for the same EVALSHA, and the slot it names
// for a Cluster must be the one ioredis computes; the real-server tests cover the rest.

const KEYS = ['plain', '{a}', '}x{', 'a\u0000b', 'ключ🔒', 'x'.repeat(300), 'lone \ud800']
const OWNER = 'f00d'.repeat(8)

const sha1 = (lua: string) => createHash('sha1').update(lua).digest('hex')

/** The command `run` hands to `sendCommand`, through a client that records it and answers 1. */
async function sentBy(run: (client: Redis) => Promise<unknown>): Promise<Command> {
  const sent: Command[] = []
  const client = {
    sendCommand(command: Command) {
      sent.push(command)
      command.resolve(1)
      return command.promise
    },
  } as unknown as Redis
  expect(await run(client)).toBe(1)
  expect(sent).toHaveLength(1)
  return sent[0] as Command
}

/** ioredis' own text for the same command. */
function ioredisText(args: Array<string | number>): string {
  const command = new Command('evalsha', args)
  return command.toWritable({}) as string
}

describe('script calls written by the driver', () => {
  it.each(KEYS)('are the text ioredis writes, and name its Cluster slot (%j)', async (key) => {
    const keys = callKeys('baton', key)
    const tryCall = new ScriptCall(TRY_ACQUIRE)
    const tryArgs = { resp: respBulk(OWNER) + respBulk(30_000) + keys.keyArg, count: 3 }
    const tried = await sentBy((client) => tryCall.run(client, keys.tryKeys, tryArgs))
    expect(tried.toWritable({})).toBe(
      ioredisText([sha1(TRY_ACQUIRE), 3, keys.lock, keys.fence, keys.queue, OWNER, 30_000, key]),
    )

    const six = [keys.lock, keys.fence, keys.queue, keys.waiters, keys.readers, keys.owners]
    const releaseCall = new ScriptCall(RELEASE)
    const releaseArgs = { resp: respBulk(OWNER), count: 1 }
    const released = await sentBy((client) => releaseCall.run(client, keys.scriptKeys, releaseArgs))
    expect(released.toWritable({})).toBe(ioredisText([sha1(RELEASE), 6, ...six, OWNER]))

    const slot = new Command('evalsha', [sha1(RELEASE), 6, ...six, OWNER]).getSlot()
    expect(released.getSlot()).toBe(slot)
    expect(tried.getSlot()).toBe(slot)
  })
})
