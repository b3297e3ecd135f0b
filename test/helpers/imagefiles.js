'use strict';
// Image files with known decoded values for the evaluate / CLI suites: raw pixel arrays written
// with sharp (PNG 8 and 16 bit, lossless WebP, TIFF), so the decoder must give back exactly them.

const fs = require('fs');
const os = require('os');
const path = require('path');

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

module.exports = { sharp, tmpDir, pattern, distort, writeImage, luma, makeFolders };
