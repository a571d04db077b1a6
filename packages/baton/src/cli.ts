#!/usr/bin/env node
import { main } from './cli/main.js'

// A reader that goes away (`baton ls | head -1`) is not an error worth a stack trace:
// further output is dropped, and the command still finishes (and releases) normally.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err
  })
}

// Exit explicitly: the code is final once main resolves, and a backend client that keeps
// a socket open a moment longer must not delay or change it.
process.exit(await main(process.argv.slice(2)))
