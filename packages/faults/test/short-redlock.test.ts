import { shortProfile } from './short-profile.js'

// Redlock over 3 independent nodes: every nemesis of a leaderless quorum once. cut-all and
// hold-all (every client's links to every node at once) run in the long profile only, to keep
// this file well under a minute; the holder's links to all nodes (cut-holder, hold-holder) and
// to one node (cut-holder-node, hold-holder-node), and slow-link on every link, run here.
shortProfile('redlock', { warmupMs: 500, longOnly: ['cut-all', 'hold-all'] })
