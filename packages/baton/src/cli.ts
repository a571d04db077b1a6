#!/usr/bin/env node
import { main } from './cli/main.js'

// Exit explicitly: the code is final once main resolves, and a backend client that keeps
// a socket open a moment longer must not delay or change it.
process.exit(await main(process.argv.slice(2)))
