// Text, CSV and JSON renderings of results and summaries.

import type { PairResult, Summary } from '../evaluate/types';

/** CSV columns, in order. */
export const CSV_COLUMNS = ['id', 'reference', 'test', 'status', 'metric', 'ssim', 'dssim', 'width', 'height', 'error_code', 'error_file', 'error_reason'] as const;

function csvField(v: unknown): string {
  if (v === null || v === undefined) return '';
  const s = String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function csvHeader(): string {
  return `${CSV_COLUMNS.join(',')}\n`;
}

export function csvRow(r: PairResult): string {
  const e = r.error;
  return `${[r.id, r.reference, r.test, r.status, r.metric ?? 'ssim', r.ssim, r.dssim, r.width, r.height, e?.code, e?.file, e?.reason].map(csvField).join(',')}\n`;
}

function fmt(v: number | null): string {
  return v === null ? '-' : v.toFixed(6);
}

/** The name of a summary's metric in text: SSIM, MS-SSIM (mixed: both). */
export function metricName(metric: Summary['metric'] | undefined): string {
  return metric === 'msssim' ? 'MS-SSIM' : metric === 'mixed' ? 'SSIM/MS-SSIM (mixed)' : 'SSIM';
}

/** The human summary (stdout). */
export function summaryText(s: Summary, dssim: boolean): string {
  const name = metricName(s.metric);
  const lines = [
    `pairs: ${s.total} (${s.count} evaluated, ${s.failures} failed)${s.interrupted ? ' [interrupted]' : ''}`,
    `${name} mean ${fmt(s.mean)}  min ${fmt(s.min)}  p5 ${fmt(s.p5)}  median ${fmt(s.median)}  max ${fmt(s.max)}`,
  ];
  if (dssim && s.mean !== null) lines.push(`${s.metric === 'msssim' ? '1 - MS-SSIM' : 'DSSIM'} mean ${fmt(1 - s.mean)}  max ${fmt(1 - (s.min as number))}`);
  if (s.worst.length) {
    lines.push('worst:');
    for (const w of s.worst) lines.push(`  ${(dssim ? 1 - w.ssim : w.ssim).toFixed(6)}  ${w.id}`);
  }
  return `${lines.join('\n')}\n`;
}
