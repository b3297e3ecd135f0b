// The `cuda-ssim` command (bin/cuda-ssim.js runs main()). Exit codes: 0 done, 1 --fail-below
// failed, 2 bad usage or no pairs, 130 interrupted (SIGINT at any time: pairs being computed
// finish and every finished row is written before exiting).

import * as fs from 'node:fs';
import * as path from 'node:path';
import { evaluate } from '../evaluate/evaluate';
import { heatmapPng } from '../evaluate/heatmap';
import { jsonLine, merge, readJsonl, resultRecord } from '../evaluate/merge';
import { isEvaluated } from '../evaluate/summary';
import type { PairResult, Summary } from '../evaluate/types';
import { parseCli, UsageError, USAGE, type CliConfig } from './args';
import { mapFile } from './mapnames';
import { csvHeader, csvRow, summaryText } from './output';
import { Progress } from './progress';
import { buildReport } from './report';

export interface CliIo {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
}

export const EXIT = Object.freeze({ OK: 0, THRESHOLD: 1, USAGE: 2, INTERRUPTED: 130 });

/** --fail-below: a pair below the threshold, or a failed pair (an error, or no finite SSIM: isEvaluated). */
function failed(results: PairResult[], threshold: number | null): boolean {
  if (threshold === null) return false;
  return results.some((r) => !isEvaluated(r) || (r.ssim as number) < threshold);
}

async function finish(cfg: CliConfig, io: CliIo, results: PairResult[], summary: Summary, title: string): Promise<void> {
  if (cfg.json) io.stdout.write(`${JSON.stringify({ summary, results: results.map(resultRecord) }, null, 2)}\n`);
  else if (!cfg.csv && !cfg.quiet) io.stdout.write(summaryText(summary, cfg.dssim));
  if (cfg.report) {
    const html = await buildReport(results, summary, {
      title, worst: cfg.worst, color: cfg.evaluate.color ?? (cfg.evaluate.convention === 'matlab' ? 'luma' : 'rgb'), metric: cfg.evaluate, failBelow: cfg.failBelow,
    });
    fs.mkdirSync(path.dirname(path.resolve(cfg.report)), { recursive: true });
    fs.writeFileSync(cfg.report, html);
    if (!cfg.quiet && !cfg.json) io.stderr.write(`report: ${cfg.report}\n`);
  }
}

function runMerge(cfg: CliConfig, io: CliIo): Promise<number> {
  for (const f of cfg.positionals) if (!fs.existsSync(f)) throw new UsageError(`merge: no such file ${f}`);
  const { results, summary } = merge(cfg.positionals);
  if (results.length === 0) throw new UsageError(`merge: no result rows in ${cfg.positionals.join(', ')}`);
  if (cfg.csv) {
    io.stdout.write(csvHeader());
    for (const r of results) io.stdout.write(csvRow(r));
  }
  return finish(cfg, io, results, summary, `cuda-ssim: ${results.length} pairs merged from ${cfg.positionals.length} file(s)`)
    .then(() => (failed(results, cfg.failBelow) ? EXIT.THRESHOLD : EXIT.OK));
}

/**
 * Ctrl-C for a run of main() without a signal of its caller: the first SIGINT aborts the returned
 * signal, a second exits at once (130). bin/cuda-ssim.js installs the same before loading anything.
 */
function sigintSignal(): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  let interrupts = 0;
  const onSigint = (): void => {
    interrupts++;
    if (interrupts > 1) process.exit(EXIT.INTERRUPTED);
    controller.abort();
  };
  process.on('SIGINT', onSigint);
  return { signal: controller.signal, dispose: () => process.removeListener('SIGINT', onSigint) };
}

async function runPairs(cfg: CliConfig, io: CliIo, signal: AbortSignal): Promise<number> {
  const single = cfg.command === 'pair';
  const [refArg, testArg] = cfg.positionals;
  if (single) {
    for (const f of [refArg, testArg]) {
      if (!fs.existsSync(f) || !fs.statSync(f).isFile()) throw new UsageError(`no such image file: ${f}`);
    }
  }
  const previous = cfg.jsonl && cfg.resume ? readJsonl(cfg.jsonl) : [];
  let evaluation;
  try {
    evaluation = evaluate(single ? [{ reference: refArg, test: testArg, id: testArg }] : { reference: refArg, test: testArg }, {
      ...cfg.evaluate,
      skip: previous.map((r) => r.id),
      maps: cfg.maps !== null,
      signal,
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const pairs = await evaluation.pairs();
  if (pairs.length === 0 && previous.length === 0 && !signal.aborted) {
    io.stderr.write(`cuda-ssim: no pairs found (no images in ${refArg} or ${testArg})\n`);
    return EXIT.USAGE;
  }
  let fd: number | null = null;
  if (cfg.jsonl) {
    fs.mkdirSync(path.dirname(path.resolve(cfg.jsonl)), { recursive: true });
    fd = fs.openSync(cfg.jsonl, cfg.resume ? 'a' : 'w');
    // a row cut short by a killed run: start on a new line
    if (cfg.resume && fs.fstatSync(fd).size > 0) {
      const text = fs.readFileSync(cfg.jsonl, 'utf8');
      if (!text.endsWith('\n')) fs.writeSync(fd, '\n');
    }
  }
  const progress = !cfg.quiet && io.stderr.isTTY && pairs.length > 1 ? new Progress(pairs.length, io.stderr as NodeJS.WriteStream) : null;
  if (cfg.csv) io.stdout.write(csvHeader());
  const fresh: PairResult[] = [];
  const writes: Promise<void>[] = [];
  let interrupted = false;
  try {
    for await (const r of evaluation) {
      if (fd !== null) fs.writeSync(fd, jsonLine(r));
      fresh.push(resultRecord(r));
      if (cfg.csv) io.stdout.write(csvRow(r));
      if (r.status === 'error') io.stderr.write(`${progress ? '\r\x1b[K' : ''}cuda-ssim: ${r.id}: ${r.error?.code}: ${r.error?.reason}\n`);
      if (cfg.maps && r.map) {
        const file = mapFile(cfg.maps, r.id);
        const map = r.map;
        const id = r.id;
        writes.push(
          fs.promises.mkdir(path.dirname(file), { recursive: true })
            .then(async () => fs.promises.writeFile(file, await heatmapPng(map)))
            .catch((err: unknown) => {
              io.stderr.write(`cuda-ssim: ${id}: cannot write the heat map ${file}: ${(err as Error).message ?? String(err)}\n`);
            }),
        );
      }
      progress?.tick();
    }
    const summary = await evaluation.summary();
    progress?.end();
    await Promise.all(writes);
    interrupted = summary.interrupted || signal.aborted;
  } finally {
    if (fd !== null) fs.closeSync(fd);
  }
  if (interrupted) {
    io.stderr.write(`cuda-ssim: interrupted after ${fresh.length} of ${pairs.length} pairs${cfg.jsonl ? ` (rows in ${cfg.jsonl}; --resume goes on)` : ''}\n`);
    if (!single) {
      // what was done, marked interrupted (--json, the summary text); no report for a stopped run
      const { results, summary } = merge([previous, fresh]);
      await finish({ ...cfg, report: null }, io, results, { ...summary, interrupted: true }, `cuda-ssim: ${testArg} against ${refArg}`);
    }
    return EXIT.INTERRUPTED;
  }
  if (single) {
    const r = fresh[0];
    if (r.status !== 'ok') return EXIT.USAGE; // the reason is on stderr already
    if (cfg.json) io.stdout.write(`${JSON.stringify(resultRecord(r))}\n`);
    else if (!cfg.csv) io.stdout.write(`${cfg.dssim ? r.dssim : r.ssim}\n`);
    if (cfg.report) await finish({ ...cfg, json: false, quiet: true }, io, fresh, merge([fresh]).summary, `cuda-ssim: ${testArg} against ${refArg}`);
    return failed(fresh, cfg.failBelow) ? EXIT.THRESHOLD : EXIT.OK;
  }
  const { results, summary } = merge([previous, fresh]);
  await finish(cfg, io, results, summary, `cuda-ssim: ${testArg} against ${refArg}`);
  return failed(results, cfg.failBelow) ? EXIT.THRESHOLD : EXIT.OK;
}

export interface MainOptions {
  /**
   * Aborted on Ctrl-C (bin/cuda-ssim.js: its SIGINT handler is the first thing it installs).
   * Without it, main() handles SIGINT itself while it runs.
   */
  signal?: AbortSignal;
}

/**
 * Runs the command with `argv` (without node and the script); resolves to the exit code. An
 * interrupt (the signal aborted) at any point gives 130: pairs being computed finish, their rows
 * are written, and with --json the document says `interrupted: true`.
 */
export async function main(argv: string[], io: CliIo = { stdout: process.stdout, stderr: process.stderr }, options: MainOptions = {}): Promise<number> {
  const own = options.signal === undefined ? sigintSignal() : null;
  const signal = options.signal ?? (own as { signal: AbortSignal }).signal;
  const notice = (): void => {
    io.stderr.write('\ncuda-ssim: interrupted; finishing the pairs being computed (Ctrl-C again to quit at once)\n');
  };
  if (signal.aborted) notice();
  else signal.addEventListener('abort', notice, { once: true });
  try {
    const code = await command(argv, io, signal);
    return signal.aborted ? EXIT.INTERRUPTED : code;
  } finally {
    signal.removeEventListener('abort', notice);
    own?.dispose();
  }
}

async function command(argv: string[], io: CliIo, signal: AbortSignal): Promise<number> {
  let cfg: CliConfig;
  try {
    cfg = parseCli(argv);
    if (cfg.command === 'help') {
      io.stdout.write(`${USAGE}\n`);
      return EXIT.OK;
    }
    if (cfg.command === 'version') {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      io.stdout.write(`${(require('../../package.json') as { version: string }).version}\n`);
      return EXIT.OK;
    }
    if (cfg.command === 'merge') return await runMerge(cfg, io);
    return await runPairs(cfg, io, signal);
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr.write(`cuda-ssim: ${err.message}\nRun 'cuda-ssim --help' for usage.\n`);
      return EXIT.USAGE;
    }
    const e = err as { code?: string; message?: string };
    if (typeof e.code === 'string' && e.code.startsWith('ERR_SSIM_')) {
      // options the core API refused (e.g. --backend cuda without a GPU, --device 5)
      io.stderr.write(`cuda-ssim: ${e.message}\n`);
      return EXIT.USAGE;
    }
    throw err;
  }
}
