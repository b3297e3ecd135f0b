// The HTML report: one self-contained file (images as data URIs): the summary, a histogram of
// SSIM (inline SVG), failures, and the worst pairs with reference, test and SSIM heat map side
// by side.

import { ssimMap } from '../map';
import { mapSize } from '../parse/options';
import { decodeFile, readImageFile } from '../evaluate/decode';
import { loadSharp } from '../evaluate/sharp';
import { heatmapPixels } from '../evaluate/heatmap';
import { isEvaluated } from '../evaluate/summary';
import type { ColorMode, EvaluateOptions, PairResult, Summary } from '../evaluate/types';
import { metricName } from './output';

const THUMB = 320;

function esc(s: unknown): string {
  return String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

function fmt(v: number | null): string {
  return v === null ? '-' : v.toFixed(5);
}

/** Bins of the SSIM values: 20 bins over [lo, 1], lo a multiple of 0.05 at or below the minimum. */
export function histogram(values: number[], bins = 20): { lo: number; hi: number; counts: number[] } {
  const min = values.length ? Math.min(...values) : 0;
  const lo = Math.max(-1, Math.min(0.95, Math.floor(min * 20) / 20));
  const hi = 1;
  const counts = new Array<number>(bins).fill(0);
  for (const v of values) {
    const k = Math.min(bins - 1, Math.max(0, Math.floor(((v - lo) / (hi - lo)) * bins)));
    counts[k]++;
  }
  return { lo, hi, counts };
}

function histogramSvg(values: number[], label = 'SSIM'): string {
  const { lo, hi, counts } = histogram(values);
  const W = 640;
  const H = 220;
  const pad = 30;
  const max = Math.max(1, ...counts);
  const bw = (W - 2 * pad) / counts.length;
  const bars = counts.map((c, i) => {
    const h = ((H - 2 * pad) * c) / max;
    const from = lo + ((hi - lo) * i) / counts.length;
    return `<rect class="bar" x="${(pad + i * bw + 1).toFixed(1)}" y="${(H - pad - h).toFixed(1)}" width="${(bw - 2).toFixed(1)}" height="${h.toFixed(1)}" fill="#3b528b"><title>${from.toFixed(3)}–${(from + (hi - lo) / counts.length).toFixed(3)}: ${c}</title></rect>`;
  });
  const axis = `<line x1="${pad}" y1="${H - pad}" x2="${W - pad}" y2="${H - pad}" stroke="#333"/>` +
    `<text x="${pad}" y="${H - 8}" font-size="12">${lo.toFixed(2)}</text><text x="${W - pad - 20}" y="${H - 8}" font-size="12">${hi.toFixed(2)}</text>` +
    `<text x="${pad}" y="16" font-size="12">pairs per ${label} bin (max ${max})</text>`;
  return `<svg id="histogram" xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}">${axis}${bars.join('')}</svg>`;
}

async function thumb(file: string, maxFileSize: number | undefined): Promise<string> {
  const sharp = loadSharp();
  const buf = await sharp(await readImageFile(file, maxFileSize)).removeAlpha().toColourspace('srgb').resize({ width: THUMB, height: THUMB, fit: 'inside', withoutEnlargement: true }).png().toBuffer();
  return `data:image/png;base64,${buf.toString('base64')}`;
}

async function heatThumb(r: PairResult, color: ColorMode, metric: EvaluateOptions): Promise<string> {
  const [ref, test] = await Promise.all([decodeFile(r.reference as string, color, metric.maxFileSize), decodeFile(r.test as string, color, metric.maxFileSize)]);
  let x: Uint8Array | Uint16Array = test.data;
  let y: Uint8Array | Uint16Array = ref.data;
  if (x instanceof Uint8Array && y instanceof Uint16Array) x = Uint16Array.from(x, (v) => v * 257);
  if (y instanceof Uint8Array && x instanceof Uint16Array) y = Uint16Array.from(y, (v) => v * 257);
  const shape = { width: ref.width, height: ref.height, channels: ref.channels };
  const opts = {
    convention: metric.convention, window: metric.window, windowSize: metric.windowSize, sigma: metric.sigma, covariance: metric.covariance,
    padding: metric.padding, downsample: metric.downsample, backend: metric.backend, device: metric.device,
  };
  const data = ssimMap({ ...shape, data: x }, { ...shape, data: y }, opts);
  const { width, height } = mapSize(ref, opts);
  const sharp = loadSharp();
  const buf = await sharp(heatmapPixels({ data, width, height }), { raw: { width, height, channels: 3 } })
    .resize({ width: THUMB, height: THUMB, fit: 'inside', withoutEnlargement: true }).png().toBuffer();
  return `data:image/png;base64,${buf.toString('base64')}`;
}

export interface ReportOptions {
  title: string;
  worst: number;
  color: ColorMode;
  metric: EvaluateOptions;
  failBelow: number | null;
}

/** The report's HTML. Worst pairs whose images cannot be read again show the reason instead. */
export async function buildReport(results: PairResult[], summary: Summary, o: ReportOptions): Promise<string> {
  const ok = results.filter(isEvaluated).sort((a, b) => (a.ssim as number) - (b.ssim as number) || (a.id < b.id ? -1 : 1));
  const worst = ok.slice(0, o.worst);
  const rows: string[] = [];
  for (const r of worst) {
    let cells: string;
    try {
      const [a, b, h] = await Promise.all([thumb(r.reference as string, o.metric.maxFileSize), thumb(r.test as string, o.metric.maxFileSize), heatThumb(r, o.color, o.metric)]);
      cells = `<td><img class="thumb" alt="reference" src="${a}"></td><td><img class="thumb" alt="test" src="${b}"></td><td><img class="thumb heat" alt="SSIM map" src="${h}"></td>`;
    } catch (err) {
      cells = `<td colspan="3">images unavailable: ${esc((err as Error).message)}</td>`;
    }
    rows.push(`<tr class="worst"><td><b>${fmt(r.ssim)}</b><br>${esc(r.id)}<br><small>${esc(r.reference)}<br>${esc(r.test)}</small></td>${cells}</tr>`);
  }
  const failures = results.filter((r) => !isEvaluated(r));
  const below = o.failBelow === null ? null : ok.filter((r) => (r.ssim as number) < (o.failBelow as number)).length;
  const s = summary;
  const name = metricName(s.metric);
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(o.title)}</title>
<style>
body{font-family:system-ui,sans-serif;margin:24px;color:#222}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;vertical-align:top;text-align:left}
img.thumb{max-width:${THUMB}px;display:block;image-rendering:auto}
.legend{display:inline-block;width:200px;height:12px;background:linear-gradient(to right,#440154,#3b528b,#21918c,#5ec962,#fde725);vertical-align:middle}
</style></head><body>
<h1>${esc(o.title)}</h1>
<table id="summary">
<tr><th>convention</th><td>${esc(s.convention ?? o.metric.convention ?? 'default')}</td></tr>
<tr><th>pairs</th><td>${s.total}</td></tr><tr><th>evaluated</th><td>${s.count}</td></tr><tr><th>failed</th><td>${s.failures}</td></tr>
<tr><th>metric</th><td>${name}</td></tr>
<tr><th>mean ${name}</th><td>${fmt(s.mean)}</td></tr><tr><th>min</th><td>${fmt(s.min)}</td></tr><tr><th>5th percentile</th><td>${fmt(s.p5)}</td></tr>
<tr><th>median</th><td>${fmt(s.median)}</td></tr><tr><th>max</th><td>${fmt(s.max)}</td></tr>
${below === null ? '' : `<tr><th>below ${o.failBelow}</th><td>${below}</td></tr>`}
</table>
<h2>Histogram of ${name}</h2>
${histogramSvg(ok.map((r) => r.ssim as number), name)}
<h2>Worst ${worst.length} pairs</h2>
<p>Heat map: SSIM per pixel (full resolution, whatever the metric), averaged over channels: <span class="legend"></span> 0 (or below) to 1.</p>
<table id="worst"><tr><th>${name} / pair</th><th>reference</th><th>test</th><th>SSIM map</th></tr>
${rows.join('\n')}
</table>
${failures.length ? `<h2>Failures (${failures.length})</h2><table id="failures"><tr><th>pair</th><th>error</th><th>file</th><th>reason</th></tr>
${failures.map((r) => `<tr><td>${esc(r.id)}</td><td>${esc(r.error?.code)}</td><td>${esc(r.error?.file)}</td><td>${esc(r.error?.reason)}</td></tr>`).join('\n')}</table>` : ''}
</body></html>
`;
}
