'use strict';
// Image files with known decoded values for the evaluate / CLI suites: raw pixel arrays written
// with sharp (PNG 8 and 16 bit, lossless WebP, TIFF), so the decoder must give back exactly them.

const fs = require('fs');
const os = require('os');
const path = require('path');
const { testRng } = require('./random');

function sharp() {
  return require('sharp');
}

function tmpDir(label) {
  return fs.mkdtempSync(path.join(os.tmpdir(), `cuda-ssim-${label}-`));
}

// A smooth pattern plus noise (rng: test/helpers/random Rng), values in [0, max].
function pattern(rng, width, height, channels, max) {
  const Ctor = max > 255 ? Uint16Array : Uint8Array;
  const data = new Ctor(width * height * channels);
  const f = rng.uniform(0.05, 0.3);
  const ph = rng.uniform(0, 6);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < channels; c++) {
        const v = 0.5 + 0.3 * Math.sin(f * x + 0.7 * f * y + ph + c) + 0.15 * (rng.next() - 0.5);
        data[(y * width + x) * channels + c] = Math.round(Math.min(1, Math.max(0, v)) * max);
      }
    }
  }
  return data;
}

// A distorted copy: noise of amplitude `amount` (fraction of max).
function distort(rng, data, amount, max) {
  const out = new data.constructor(data.length);
  for (let i = 0; i < data.length; i++) out[i] = Math.round(Math.min(max, Math.max(0, data[i] + amount * max * (rng.next() - 0.5))));
  return out;
}

// Writes raw hwc pixels: format 'png' (Uint16Array -> 16-bit PNG), 'webp' (lossless), 'tiff'.
async function writeImage(file, data, width, height, channels, format = path.extname(file).slice(1)) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const sixteen = data instanceof Uint16Array;
  let img = sharp()(data, { raw: { width, height, channels, depth: sixteen ? 'ushort' : 'uchar' } });
  if (sixteen) img = img.toColourspace(channels === 1 ? 'grey16' : 'rgb16');
  else if (channels === 1) img = img.toColourspace('b-w');
  if (format === 'png') img = img.png();
  else if (format === 'webp') img = img.webp({ lossless: true });
  else if (format === 'tiff' || format === 'tif') img = img.tiff({ compression: 'lzw' });
  else throw new Error(`writeImage: format ${format}`);
  await img.toFile(file);
}

// BT.601 luma as MATLAB rgb2gray, rounded.
function luma(rgb) {
  const out = new rgb.constructor(rgb.length / 3);
  for (let i = 0; i < out.length; i++) out[i] = Math.round(0.298936021293775 * rgb[3 * i] + 0.587043074451121 * rgb[3 * i + 1] + 0.114020904255103 * rgb[3 * i + 2]);
  return out;
}

// Two folders: `n` good pairs (reference PNG, test PNG / WebP / TIFF, some in sub/), plus
// 'bad/corrupt' (test not an image), 'bad/size' (test of another size), 'bad/no-test' and
// 'bad/no-ref' (no counterpart). Returns { ref, test, good: Map id -> { x, y, width, height }, bad }.
async function makeFolders(rng, dir, { n = 6, width = 48, height = 40 } = {}) {
  const ref = path.join(dir, 'ref');
  const test = path.join(dir, 'test');
  const good = new Map();
  const formats = ['png', 'webp', 'tiff'];
  for (let i = 0; i < n; i++) {
    const id = i % 3 === 2 ? `sub/img${i}` : `img${i}`;
    const y = pattern(rng, width, height, 3, 255);
    const x = distort(rng, y, 0.05 + 0.1 * i, 255);
    await writeImage(path.join(ref, `${id}.png`), y, width, height, 3);
    await writeImage(path.join(test, `${id}.${formats[i % 3]}`), x, width, height, 3);
    good.set(id, { x, y, width, height });
  }
  const y = pattern(rng, width, height, 3, 255);
  await writeImage(path.join(ref, 'bad/corrupt.png'), y, width, height, 3);
  fs.mkdirSync(path.join(test, 'bad'), { recursive: true });
  fs.writeFileSync(path.join(test, 'bad/corrupt.png'), Buffer.from('this is not a PNG file'));
  await writeImage(path.join(ref, 'bad/size.png'), y, width, height, 3);
  await writeImage(path.join(test, 'bad/size.png'), pattern(rng, width + 2, height, 3, 255), width + 2, height, 3);
  await writeImage(path.join(ref, 'bad/no-test.png'), y, width, height, 3);
  await writeImage(path.join(test, 'bad/no-ref.png'), y, width, height, 3);
  const bad = { 'bad/corrupt': 'decode', 'bad/size': 'size-mismatch', 'bad/no-test': 'missing-test', 'bad/no-ref': 'missing-reference' };
  return { ref, test, good, bad };
}

// Two folders with special files next to good pairs (POSIX: needs mkfifo):
//   'good0', 'good1'  good pairs (small)
//   'big'             a good pair whose test file is larger than `smallMax` bytes (the others are smaller)
//   'zero'            ref/zero.png -> /dev/zero (a symbolic link to a character device)
//   'fifo'            test/fifo.png -> a FIFO outside the folders
//   'rawfifo'         ref/rawfifo.png is itself a FIFO
// Returns { ref, test, smallMax, good: Map id -> { x, y, width, height }, bad: id -> [code, file] }.
async function makeSpecialFolders(rng, dir) {
  const { spawnSync } = require('child_process');
  const ref = path.join(dir, 'ref');
  const test = path.join(dir, 'test');
  const good = new Map();
  for (const [id, width, height] of [['good0', 24, 20], ['good1', 24, 20], ['big', 160, 120]]) {
    const y = pattern(rng, width, height, 3, 255);
    const x = distort(rng, y, 0.3, 255);
    await writeImage(path.join(ref, `${id}.png`), y, width, height, 3);
    await writeImage(path.join(test, `${id}.png`), x, width, height, 3);
    good.set(id, { x, y, width, height });
  }
  const sizes = [...good.keys()].flatMap((id) => [fs.statSync(path.join(ref, `${id}.png`)).size, fs.statSync(path.join(test, `${id}.png`)).size]);
  const bigSize = fs.statSync(path.join(test, 'big.png')).size;
  const smallMax = Math.max(...sizes.filter((n) => n !== bigSize));
  if (!(smallMax < bigSize)) throw new Error('makeSpecialFolders: big.png is not the largest file');
  const y = pattern(rng, 24, 20, 3, 255);
  for (const id of ['zero', 'fifo', 'rawfifo']) {
    if (id === 'fifo') await writeImage(path.join(ref, `${id}.png`), y, 24, 20, 3);
    if (id !== 'fifo') await writeImage(path.join(test, `${id}.png`), y, 24, 20, 3);
  }
  fs.symlinkSync('/dev/zero', path.join(ref, 'zero.png'));
  const mkfifo = (p) => {
    const r = spawnSync('mkfifo', [p]);
    if (r.status !== 0) throw new Error(`mkfifo ${p}: ${r.stderr}`);
  };
  mkfifo(path.join(dir, 'pipe'));
  fs.symlinkSync(path.join(dir, 'pipe'), path.join(test, 'fifo.png'));
  mkfifo(path.join(ref, 'rawfifo.png'));
  const bad = {
    zero: ['not-a-file', path.join(ref, 'zero.png')],
    fifo: ['not-a-file', path.join(test, 'fifo.png')],
    rawfifo: ['not-a-file', path.join(ref, 'rawfifo.png')],
  };
  return { ref, test, smallMax, bigSize, good, bad };
}

// Two folders where one subfolder of the reference cannot be listed, for real and as root too:
// its path is longer than PATH_MAX (4096 on Linux), so readdir fails with ENAMETOOLONG, while the
// same relative folder under the (shorter) test root can be read. Linux only.
//   'good0', 'good1'  good pairs;   `${deep}/img`  its test image can be read, its reference folder not
// Returns { ref, test, deep (relative, POSIX), good, refDeep (the unreadable folder), cleanup() (call it:
// fs.rmSync cannot remove the deep folder) }.
async function makeDeepFolders(rng, dir) {
  const { spawnSync } = require('child_process');
  const ref = path.join(dir, 'r'.repeat(200));
  const test = path.join(dir, 't');
  const good = new Map();
  for (const id of ['good0', 'good1']) {
    const y = pattern(rng, 24, 20, 3, 255);
    const x = distort(rng, y, 0.3, 255);
    await writeImage(path.join(ref, `${id}.png`), y, 24, 20, 3);
    await writeImage(path.join(test, `${id}.png`), x, 24, 20, 3);
    good.set(id, { x, y, width: 24, height: 20 });
  }
  // ref/<deep> is 4110 characters long, its parent about 4010; test/<deep>/img.png about 3920
  const total = 4110 - ref.length - 1;
  const parts = ['deep'];
  let len = 4;
  while (total - len - 1 > 100) {
    const n = Math.min(200, total - len - 1 - 101);
    parts.push('x'.repeat(n));
    len += n + 1;
  }
  parts.push('y'.repeat(total - len - 1));
  const deep = parts.join('/');
  if (ref.length + 1 + deep.length !== 4110 || test.length + deep.length + 9 >= 4000) throw new Error('makeDeepFolders: lengths');
  const img = path.join(dir, 'img.png');
  await writeImage(img, pattern(rng, 24, 20, 3, 255), 24, 20, 3);
  for (const [root, what] of [[ref, 'ref'], [test, 'test']]) {
    // relative paths (shorter than PATH_MAX) from the root: the absolute ones are too long for ref
    const r = spawnSync('sh', ['-c', `mkdir -p "${deep}" && cp "${img}" "${deep}/img.png"`], { cwd: root, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`makeDeepFolders ${what}: ${r.stderr}`);
  }
  // fs.rmSync cannot remove what is below PATH_MAX: remove the deep folders relative to the roots
  const cleanup = () => {
    for (const root of [ref, test]) spawnSync('rm', ['-rf', 'deep'], { cwd: root });
  };
  return { ref, test, deep, good, refDeep: path.join(ref, deep), cleanup };
}

// Fixture folders (makeFolders into <tmp>/data) for a describe block: made before its tests
// (seeded by the hook's test rng), removed after them. made({ dir, fx }) receives them.
function useFolders(label, options, made) {
  let dir = null;
  before(async function () {
    dir = tmpDir(label);
    made({ dir, fx: await makeFolders(testRng(this), path.join(dir, 'data'), options) });
  });
  after(function () {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });
}

// Rejects when `promise` takes longer than `ms` (a hang becomes a failure with `what` named).
function within(promise, ms, what) {
  let timer;
  const limit = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not done after ${ms} ms`)), ms);
  });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}

module.exports = { sharp, tmpDir, pattern, distort, writeImage, luma, makeFolders, useFolders, makeSpecialFolders, makeDeepFolders, within };
