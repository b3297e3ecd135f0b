#!/usr/bin/env node
// npm run bench:evaluate: throughput of cuda-ssim/evaluate on 1080p PNG pairs (RGB, 8-bit),
// with decoding and SSIM timed apart:
//   decode   - every file decoded (sharp, the evaluate decoder, same concurrency), no SSIM;
//   ssim     - the decoded pairs through the SSIM calls evaluate makes (a 1080p RGB image is above
//              evaluate's batching limit of 4 Mi elements, so one call per pair, no copy);
//   end2end  - evaluate() over the two folders (decode overlapped with SSIM).
// Usage: node bench/evaluate.js [--pairs 32] [--backend auto|cuda|cpu] [--batch-size 16] [--threads N] [--out FILE] [--data DIR]
// --data DIR: the PNG pairs are kept in DIR (made there unless it holds them already), so that
// repeated runs (other settings, other processes) read the same files.
// --threads N: libuv's pool, sharp's threads and the decode concurrency all N (--threads 1: the
// one-core rate); without it, what the cuda-ssim command sets up (a pool of cores + 2).
// Writes bench/results/evaluate-<backend>-<device>.json unless --out is given.
// Pairs beyond the first 32 repeat their files under new names (hard links): the decoders' work is
// the same, and a long run (--pairs 256) does not spend minutes generating PNGs.
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { parseArgs } = require('node:util');

const { values: args } = parseArgs({ options: { pairs: { type: 'string' }, backend: { type: 'string' }, 'batch-size': { type: 'string' }, threads: { type: 'string' }, out: { type: 'string' }, data: { type: 'string' } } });
const threads = args.threads === undefined ? null : Number(args.threads);
if (threads !== null && !(Number.isInteger(threads) && threads >= 1)) throw new Error(`--threads: expected a positive integer, received ${args.threads}`);
// before anything starts libuv's pool
if (threads !== null) process.env.UV_THREADPOOL_SIZE = String(threads);
else if (!process.env.UV_THREADPOOL_SIZE) process.env.UV_THREADPOOL_SIZE = String(Math.max(4, os.availableParallelism() + 2));
const N = Number(args.pairs ?? 32);
const batchSize = Number(args['batch-size'] ?? 16);
const sharp = require('sharp');
if (threads !== null) sharp.concurrency(threads);
const api = require('..');
const ssimAsync = require('../dist/promises').ssim;
const { evaluate, decodeFile } = require('../dist/evaluate');

const W = 1920;
const H = 1080;
const now = () => Number(process.hrtime.bigint()) / 1e9;
const kDistinct = 32;
const frameName = (i) => `frame${String(i).padStart(4, '0')}.png`;

async function makeData(dir) {
  fs.mkdirSync(path.join(dir, 'ref'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'test'), { recursive: true });
  let seed = 12345;
  const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296);
  for (let i = 0; i < Math.min(N, kDistinct); i++) {
    const ref = new Uint8Array(W * H * 3);
    const test = new Uint8Array(W * H * 3);
    const f = 0.01 + 0.02 * rand();
    for (let y = 0, k = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        for (let c = 0; c < 3; c++, k++) {
          const v = 128 + 90 * Math.sin(f * x + 0.7 * f * y + c + i) + 20 * (rand() - 0.5);
          ref[k] = v;
          test[k] = v + 16 * (rand() - 0.5);
        }
      }
    }
    await sharp(ref, { raw: { width: W, height: H, channels: 3 } }).png().toFile(path.join(dir, 'ref', frameName(i)));
    await sharp(test, { raw: { width: W, height: H, channels: 3 } }).png().toFile(path.join(dir, 'test', frameName(i)));
  }
  for (let i = kDistinct; i < N; i++) {
    for (const side of ['ref', 'test']) fs.linkSync(path.join(dir, side, frameName(i % kDistinct)), path.join(dir, side, frameName(i)));
  }
}

async function pool(items, concurrency, fn) {
  const out = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  }));
  return out;
}

(async () => {
  const info = api.backendInfo();
  const backend = args.backend && args.backend !== 'auto' ? args.backend : info.backend;
  const device = backend === 'cuda' ? info.cuda.devices[0].name : `cpu-${os.cpus()[0].model.split(' ').slice(0, 3).join('-')}-x${os.availableParallelism()}`;
  const dir = args.data ?? fs.mkdtempSync(path.join(os.tmpdir(), 'cuda-ssim-bench-eval-'));
  try {
    let t = now();
    const have = (side) => fs.existsSync(path.join(dir, side)) && fs.readdirSync(path.join(dir, side)).length === N;
    if (have('ref') && have('test')) {
      console.log(`reusing ${N} 1080p PNG pairs (${dir})`);
    } else {
      fs.rmSync(path.join(dir, 'ref'), { recursive: true, force: true });
      fs.rmSync(path.join(dir, 'test'), { recursive: true, force: true });
      await makeData(dir);
      console.log(`generated ${N} 1080p PNG pairs in ${(now() - t).toFixed(1)} s (${dir})`);
    }
    const names = fs.readdirSync(path.join(dir, 'ref')).sort();
    const concurrency = threads !== null ? threads : Math.max(4, 2 * os.availableParallelism());

    // decode only
    t = now();
    const decoded = await pool(names, concurrency, async (n) => Promise.all([decodeFile(path.join(dir, 'ref', n), 'rgb'), decodeFile(path.join(dir, 'test', n), 'rgb')]));
    const decodeS = now() - t;

    // SSIM only (the batched calls evaluate makes, host data)
    const opts = { backend };
    await ssimAsync({ data: decoded[0][1].data, width: W, height: H, channels: 3 }, { data: decoded[0][0].data, width: W, height: H, channels: 3 }, opts); // warm-up
    t = now();
    await pool(decoded, 1, async ([r, s]) => ssimAsync({ data: s.data, width: W, height: H, channels: 3 }, { data: r.data, width: W, height: H, channels: 3 }, opts));
    const ssimS = now() - t;

    // end to end
    t = now();
    const e = evaluate({ reference: path.join(dir, 'ref'), test: path.join(dir, 'test') }, { backend, batchSize });
    const summary = await e.summary();
    const e2eS = now() - t;
    if (summary.count !== N) throw new Error(`evaluated ${summary.count} of ${N} pairs`);

    const result = {
      date: new Date().toISOString(),
      device,
      backend,
      node: process.version,
      sharp: sharp.versions.sharp,
      pairs: N,
      distinctPairs: Math.min(N, kDistinct),
      image: '1920x1080 RGB 8-bit PNG',
      batchSize,
      decodeConcurrency: concurrency,
      uvThreadpool: Number(process.env.UV_THREADPOOL_SIZE),
      sharpThreads: sharp.concurrency(),
      cores: os.availableParallelism(),
      decode: { seconds: decodeS, pairsPerSecond: N / decodeS },
      ssim: { seconds: ssimS, pairsPerSecond: N / ssimS },
      endToEnd: { seconds: e2eS, pairsPerSecond: N / e2eS },
      bound: decodeS > ssimS ? 'decode' : 'ssim',
      meanSsim: summary.mean,
    };
    console.log(`${device} (${backend}): decode ${result.decode.pairsPerSecond.toFixed(2)} pairs/s, ssim ${result.ssim.pairsPerSecond.toFixed(2)} pairs/s, end-to-end ${result.endToEnd.pairsPerSecond.toFixed(2)} pairs/s (${result.bound}-bound)`);
    const out = args.out ?? path.join(__dirname, 'results', `evaluate-${device.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/-+$/, '')}.json`);
    fs.mkdirSync(path.dirname(out), { recursive: true });
    fs.writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
    console.log(`wrote ${out}`);
  } finally {
    if (args.data === undefined) fs.rmSync(dir, { recursive: true, force: true });
  }
})().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
