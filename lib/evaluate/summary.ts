// The summary of a run: count, failures, mean, min, max, median, 5th percentile and the worst
// pairs. Independent of the order results arrived in (values are sorted before summing), so a
// merged set of shards gives exactly the summary of one unsharded run.

import type { PairError, PairInfo, PairResult, Summary, WorstPair } from './types';

/** How many pairs the summary's `worst` list keeps. */
export const WORST_COUNT = 10;

/** Quantile q of ascending `sorted` with linear interpolation between order statistics (numpy's default). */
export function quantile(sorted: ArrayLike<number>, q: number): number | null {
  const n = sorted.length;
  if (n === 0) return null;
  const pos = (n - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.min(n - 1, lo + 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/**
 * True for a pair that was evaluated: status 'ok' with a finite SSIM. Everything else (status
 * 'error', or an 'ok' row whose SSIM is NaN, infinite, null or missing) is a failed pair, for the
 * summary, merge(), the report and --fail-below alike.
 */
export function isEvaluated(r: PairResult): boolean {
  return r.status === 'ok' && typeof r.ssim === 'number' && Number.isFinite(r.ssim);
}

/** The error of a pair whose SSIM is not a finite number (`value`: what came instead). */
export function nonFinite(test: string | null, reference: string | null, value: unknown): PairError {
  return {
    code: 'non-finite',
    file: test,
    reason: `the SSIM of ${test} against ${reference} is ${String(value)}, not a finite number (the metric options give no meaningful value)`,
  };
}

/** The result of a pair that has no SSIM. */
export function errorResult(info: PairInfo, error: PairError): PairResult {
  return { id: info.id, reference: info.reference, test: info.test, status: 'error', ssim: null, dssim: null, width: null, height: null, error };
}

/** The convention of evaluated rows: theirs when they agree, 'mixed' when not, null for none (or rows without one). */
function conventionOf(ok: readonly PairResult[]): Summary['convention'] {
  let c: Summary['convention'] = null;
  for (const r of ok) {
    const rc = r.convention ?? null;
    if (rc === null) continue;
    if (c === null) c = rc;
    else if (c !== rc) return 'mixed';
  }
  return c;
}

/** The summary of a set of results (ids assumed unique; see merge() for deduplication). */
export function summarize(results: Iterable<PairResult>, interrupted = false): Summary {
  const ok: PairResult[] = [];
  let failures = 0;
  for (const r of results) {
    if (isEvaluated(r)) ok.push(r);
    else failures++;
  }
  // ascending SSIM, ties by id: a deterministic order for the sum and the worst list
  ok.sort((a, b) => (a.ssim as number) - (b.ssim as number) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const values = Float64Array.from(ok, (r) => r.ssim as number);
  let sum = 0;
  for (const v of values) sum += v;
  const n = values.length;
  const worst: WorstPair[] = ok.slice(0, WORST_COUNT).map((r) => ({ id: r.id, reference: r.reference, test: r.test, ssim: r.ssim as number }));
  const metrics = new Set<string>();
  for (const r of [...ok]) metrics.add(r.metric ?? 'ssim');
  const metric = metrics.size > 1 ? 'mixed' : metrics.has('msssim') ? 'msssim' : 'ssim';
  return {
    metric,
    count: n,
    failures,
    total: n + failures,
    mean: n ? sum / n : null,
    min: n ? values[0] : null,
    max: n ? values[n - 1] : null,
    median: quantile(values, 0.5),
    p5: quantile(values, 0.05),
    worst,
    interrupted,
    convention: conventionOf(ok),
  };
}
