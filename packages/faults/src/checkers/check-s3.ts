import type { HistoryEvent } from '../history.js'
import type { Violation } from './violation.js'
import { handleWindows } from './windows.js'

/**
 * S3 fencing: in grant order, every handle that was valid when granted has a fence strictly
 * greater than every earlier one. (A grant that arrived already expired is never valid and
 * cannot write, so it does not count.)
 */
export function checkS3(events: readonly HistoryEvent[]): Violation[] {
  const violations: Violation[] = []
  let previous: ReturnType<typeof handleWindows>[number] | undefined
  for (const w of handleWindows(events)) {
    if (w.end <= w.start) continue
    if (previous && w.fence <= previous.fence) {
      violations.push({
        checker: 'S3',
        message: `${w.client}#${w.op} got fence ${w.fence} after ${previous.client}#${previous.op} got ${previous.fence}`,
        excerpt: [previous.grant, w.grant],
      })
    }
    if (!previous || w.fence > previous.fence) previous = w
  }
  return violations
}
