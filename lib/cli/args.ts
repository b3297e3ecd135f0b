// Command-line parsing (node:util parseArgs) into a checked configuration; usage errors are
// UsageError (exit code 2) with a message that names the option.

import { constants as bufferConstants } from 'node:buffer';
import { parseArgs } from 'node:util';
import { CONVENTION_NAMES } from '../conventions';
import type { ColorMode, EvaluateOptions, ShardSpec } from '../evaluate/types';

export const USAGE = `Usage:
  cuda-ssim [options] REFERENCE TEST            SSIM of one pair of images
  cuda-ssim compare [options] REF_DIR TEST_DIR  every pair of two folders (matched by relative path, any extension)
  cuda-ssim merge [options] FILE.jsonl...        one summary of several shards' --jsonl outputs

Metric:
  --metric M          ssim (default) | msssim (multi-scale SSIM, 5 scales), named in every output
  --convention C      default | skimage | skimage-gaussian | matlab | torchmetrics | pytorch-msssim |
                      fused-ssim: another library's defaults (window, padding, covariance, data
                      range, downsampling); --window, --sigma, --padding given too override them
  --window N          Gaussian window 7, 9 or 11 (default 11)
  --sigma S           Gaussian sigma (default 1.5)
  --padding P         same (default) | valid | reflect
  --color C           rgb (default: SSIM per channel, averaged) | luma (BT.601, MATLAB rgb2gray)
  --dssim             print DSSIM = 1 - SSIM instead of SSIM
Where:
  --backend B         auto (default) | cuda | cpu
  --device N          CUDA device index (default 0)
  --devices D         all | 0,1,... : one worker thread per GPU
  --shard I/N         only pairs whose id hashes to I modulo N (0 <= I < N): job arrays
  --concurrency N     pairs decoded at once
  --batch-size N      most pairs in one batched SSIM call (default 16)
  --max-file-size B   largest image file read, bytes or with K, M, G (KiB, MiB, GiB; default 512M);
                      a larger file, or one that is not a regular file, fails its pair
Output:
  --json              one JSON document {summary, results} on stdout at the end
  --csv               CSV rows on stdout as pairs complete
  --jsonl FILE        append one JSON line per pair to FILE as pairs complete
  --resume            skip pairs already in the --jsonl FILE
  --fail-below T      exit 1 if a pair's SSIM is below T or a pair failed
  --maps DIR          write an SSIM heat-map PNG per pair into DIR
  --report FILE.html  an HTML report: summary, histogram, worst pairs with heat maps
  --worst N           pairs in the report's worst list (default 8)
  --quiet             no progress bar, no summary text (errors still go to stderr)
  -h, --help          this text
  --version           the package version

Exit codes: 0 done, 1 --fail-below failed, 2 bad usage or no pairs, 130 interrupted (finished rows are kept).`;

export class UsageError extends Error {}

export interface CliConfig {
  command: 'pair' | 'compare' | 'merge' | 'help' | 'version';
  positionals: string[];
  evaluate: EvaluateOptions;
  dssim: boolean;
  json: boolean;
  csv: boolean;
  jsonl: string | null;
  resume: boolean;
  failBelow: number | null;
  maps: string | null;
  report: string | null;
  worst: number;
  quiet: boolean;
}

function intArg(value: string | undefined, name: string, min: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min) throw new UsageError(`--${name} expects an integer >= ${min}, got '${value}'`);
  return n;
}

function numArg(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new UsageError(`--${name} expects a number, got '${value}'`);
  return n;
}

/** A byte count: digits, optionally followed by K, M or G (binary: KiB, MiB, GiB). */
function sizeArg(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const m = /^(\d+)([KMG]i?B?)?$/i.exec(value.trim());
  const scale = m && m[2] ? 1024 ** ('KMG'.indexOf(m[2][0].toUpperCase()) + 1) : 1;
  const n = m ? Number(m[1]) * scale : NaN;
  if (!m || !Number.isSafeInteger(n) || n < 1 || n > bufferConstants.MAX_LENGTH) {
    throw new UsageError(`--${name} expects a size in bytes from 1 to ${bufferConstants.MAX_LENGTH}, optionally with K, M or G (e.g. 512M), got '${value}'`);
  }
  return n;
}

function choice<T extends string>(value: string | undefined, name: string, choices: readonly T[]): T | undefined {
  if (value === undefined) return undefined;
  if (!(choices as readonly string[]).includes(value)) throw new UsageError(`--${name} expects one of ${choices.join(', ')}, got '${value}'`);
  return value as T;
}

function shardArg(value: string | undefined): ShardSpec | undefined {
  if (value === undefined) return undefined;
  const m = /^(\d+)\/(\d+)$/.exec(value.trim());
  if (!m || Number(m[2]) < 1 || Number(m[1]) >= Number(m[2])) throw new UsageError(`--shard expects I/N with 0 <= I < N (e.g. 0/4), got '${value}'`);
  return { index: Number(m[1]), count: Number(m[2]) };
}

function devicesArg(value: string | undefined): 'all' | number[] | undefined {
  if (value === undefined) return undefined;
  if (value === 'all') return 'all';
  if (!/^\d+(,\d+)*$/.test(value)) throw new UsageError(`--devices expects 'all' or a list like 0,1, got '${value}'`);
  return value.split(',').map(Number);
}

export function parseCli(argv: string[]): CliConfig {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        metric: { type: 'string' },
        convention: { type: 'string' },
        window: { type: 'string' },
        sigma: { type: 'string' },
        padding: { type: 'string' },
        color: { type: 'string' },
        backend: { type: 'string' },
        device: { type: 'string' },
        devices: { type: 'string' },
        shard: { type: 'string' },
        concurrency: { type: 'string' },
        'batch-size': { type: 'string' },
        'max-file-size': { type: 'string' },
        dssim: { type: 'boolean' },
        json: { type: 'boolean' },
        csv: { type: 'boolean' },
        jsonl: { type: 'string' },
        resume: { type: 'boolean' },
        'fail-below': { type: 'string' },
        maps: { type: 'string' },
        report: { type: 'string' },
        worst: { type: 'string' },
        quiet: { type: 'boolean', short: 'q' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean' },
      },
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const v = parsed.values;
  const pos = parsed.positionals;
  let command: CliConfig['command'];
  let positionals: string[];
  if (v.help) return { ...defaults(), command: 'help' };
  if (v.version) return { ...defaults(), command: 'version' };
  if (pos[0] === 'compare') {
    command = 'compare';
    positionals = pos.slice(1);
    if (positionals.length !== 2) throw new UsageError(`compare expects REF_DIR TEST_DIR, got ${positionals.length} argument(s)`);
  } else if (pos[0] === 'merge') {
    command = 'merge';
    positionals = pos.slice(1);
    if (positionals.length < 1) throw new UsageError('merge expects one or more JSONL files');
  } else {
    command = 'pair';
    positionals = pos;
    if (positionals.length !== 2) throw new UsageError(`expected REFERENCE TEST (two image files), got ${positionals.length} argument(s)`);
  }
  if (v.json && v.csv) throw new UsageError('--json and --csv cannot be combined (both write to stdout)');
  if (v.resume && !v.jsonl) throw new UsageError('--resume needs --jsonl FILE (the rows to resume from)');
  const windowSize = intArg(v.window, 'window', 1);
  if (windowSize !== undefined && windowSize !== 7 && windowSize !== 9 && windowSize !== 11) throw new UsageError(`--window expects 7, 9 or 11, got '${v.window}'`);
  const sigma = numArg(v.sigma, 'sigma');
  if (sigma !== undefined && !(sigma > 0)) throw new UsageError(`--sigma expects a number > 0, got '${v.sigma}'`);
  const failBelow = numArg(v['fail-below'], 'fail-below');
  const evaluate: EvaluateOptions = {
    metric: choice(v.metric, 'metric', ['ssim', 'msssim'] as const),
    convention: choice(v.convention, 'convention', CONVENTION_NAMES),
    windowSize: windowSize as 7 | 9 | 11 | undefined,
    sigma,
    padding: choice(v.padding, 'padding', ['same', 'valid', 'reflect'] as const),
    color: choice<ColorMode>(v.color, 'color', ['rgb', 'luma']),
    backend: choice(v.backend, 'backend', ['auto', 'cuda', 'cpu'] as const),
    device: intArg(v.device, 'device', 0),
    devices: devicesArg(v.devices),
    shard: shardArg(v.shard),
    concurrency: intArg(v.concurrency, 'concurrency', 1),
    batchSize: intArg(v['batch-size'], 'batch-size', 1),
    maxFileSize: sizeArg(v['max-file-size'], 'max-file-size'),
  };
  if (command === 'merge' && (v.maps || v.resume || v.jsonl)) throw new UsageError('merge takes --json, --csv, --fail-below, --report, --worst and --quiet');
  return {
    command,
    positionals,
    evaluate,
    dssim: v.dssim === true,
    json: v.json === true,
    csv: v.csv === true,
    jsonl: v.jsonl ?? null,
    resume: v.resume === true,
    failBelow: failBelow ?? null,
    maps: v.maps ?? null,
    report: v.report ?? null,
    worst: intArg(v.worst, 'worst', 0) ?? 8,
    quiet: v.quiet === true,
  };
}

function defaults(): CliConfig {
  return {
    command: 'help', positionals: [], evaluate: {}, dssim: false, json: false, csv: false, jsonl: null, resume: false,
    failBelow: null, maps: null, report: null, worst: 8, quiet: false,
  };
}
