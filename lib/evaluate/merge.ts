// Results as JSON lines (the --jsonl format), reading them back, and merging the outputs of
// several shards (or an interrupted run and its resumption) into one result set and summary.

import * as fs from 'node:fs';
import { expected } from '../errors';
import { isEvaluated, nonFinite, summarize } from './summary';
import type { PairResult, Summary } from './types';

/** The JSON object of a result (the JSONL / JSON schema): `map` left out, `error` only for errors. */
export function resultRecord(r: PairResult): PairResult {
  const rec: PairResult = {
    id: r.id,
    reference: r.reference,
    test: r.test,
    status: r.status,
    metric: r.metric ?? 'ssim',
    ssim: r.ssim,
    dssim: r.dssim,
    width: r.width,
    height: r.height,
  };
  if (r.error) rec.error = r.error;
  if (r.convention !== undefined) rec.convention = r.convention;
  return rec;
}

/**
 * A row as merge() keeps it: resultRecord(), and an 'ok' row without a finite SSIM (NaN and
 * Infinity become null in JSON; rows of older versions) turned into the failed pair it is.
 */
function mergeRecord(r: PairResult): PairResult {
  const rec = resultRecord(r);
  if (rec.status === 'ok' && !isEvaluated(rec)) {
    return { ...rec, status: 'error', ssim: null, dssim: null, error: nonFinite(rec.test, rec.reference, rec.ssim) };
  }
  return rec;
}

/** One JSONL line (with its newline). */
export function jsonLine(r: PairResult): string {
  return `${JSON.stringify(resultRecord(r))}\n`;
}

function isResult(v: unknown): v is PairResult {
  const r = v as PairResult;
  return typeof v === 'object' && v !== null && typeof r.id === 'string' && (r.status === 'ok' || r.status === 'error');
}

/**
 * The results in a JSONL file, in file order. Lines that are not results (a line cut short by a
 * killed process, blank lines) are left out. A missing file gives [].
 */
export function readJsonl(file: string): PairResult[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const out: PairResult[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      const v: unknown = JSON.parse(line);
      if (isResult(v)) out.push(v);
    } catch {
      // a partial last line
    }
  }
  return out;
}

/** What merge() returns. */
export interface MergedResults {
  /**
   * One result per id (a later 'ok' row replaces an earlier one; an 'ok' row is never replaced by
   * an error), sorted by id. An 'ok' row without a finite SSIM is read as an error ('non-finite').
   */
  results: PairResult[];
  summary: Summary;
}

/** Combines shard outputs: JSONL file paths and/or arrays of results. */
export function merge(outputs: Iterable<string | Iterable<PairResult>>): MergedResults {
  const byId = new Map<string, PairResult>();
  let i = 0;
  for (const output of outputs) {
    let rows: Iterable<PairResult>;
    if (typeof output === 'string') rows = readJsonl(output);
    else if (output !== null && typeof output === 'object' && Symbol.iterator in output) rows = output;
    else throw expected('ERR_SSIM_INVALID_ARGUMENT', 'a JSONL file path or an array of results', `outputs[${i}]`, output);
    for (const r of rows) {
      if (!isResult(r)) throw expected('ERR_SSIM_INVALID_ARGUMENT', 'a result ({ id, status, ... })', `outputs[${i}] row`, r);
      const rec = mergeRecord(r);
      const prev = byId.get(rec.id);
      if (prev === undefined || rec.status === 'ok' || prev.status === 'error') byId.set(rec.id, rec);
    }
    i++;
  }
  const results = [...byId.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return { results, summary: summarize(results) };
}
