import type { ScenarioResult } from '../src/index.js'

/** One line per scenario for the test log, plus the first violations in full. */
export function formatResult(r: ScenarioResult): string {
  const live = r.verdict.live
    .map(
      (m) =>
        `${m.measure} ${m.ms === null ? 'none' : `${m.ms.toFixed(0)} ms`} (bound ${m.boundMs})`,
    )
    .join(', ')
  const head = `${r.backend} ${r.nemesis} seed ${r.seed}: ${r.verdict.grants} grants, ${r.verdict.store.accepted} writes accepted, ${r.verdict.store.staleRejected} stale rejected; ${live}; ${(r.durationMs / 1000).toFixed(1)} s`
  const details = r.verdict.violations
    .slice(0, 3)
    .map(
      (v) =>
        `  ${v.checker}: ${v.message}\n${v.excerpt.map((e) => `    ${JSON.stringify(e)}`).join('\n')}`,
    )
  return [
    head,
    ...details,
    r.verdict.violations.length > 0 ? `  history kept in ${r.dir}` : '',
  ].join('\n')
}
