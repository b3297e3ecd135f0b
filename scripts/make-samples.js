#!/usr/bin/env node
// Regenerates samples/*.png: a procedural reference scene and four distorted versions of it.
// Deterministic (seeded), so the committed PNGs can always be rebuilt: node scripts/make-samples.js
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { PNG } = require('pngjs');

const W = 480, H = 320, C = 3;
let seed = 20261123;
const rand = () => ((seed = (seed * 1664525 + 1013904223) >>> 0) / 4294967296);
const gauss = () => Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand());

function scene() {
  const img = new Float64Array(W * H * C);
  const texture = new Float64Array(W * H).map(() => rand());
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const t = y / H;
      let rgb = [0.35 + 0.4 * t, 0.55 + 0.3 * t, 0.95 - 0.2 * t];                  // sky
      const sun = Math.hypot(x - 370, y - 70);
      if (sun < 38) rgb = [1.0, 0.9 - sun / 300, 0.5];                                  // sun
      const hill = 210 + 30 * Math.sin(x / 47) + 12 * Math.sin(x / 13 + 1);
      if (y > hill) {                                                                   // grass with texture
        const n = texture[y * W + x];
        rgb = [0.2 + 0.15 * n, 0.45 + 0.25 * n - 0.1 * (y - hill) / H, 0.15 + 0.1 * n];
      }
      if (x > 60 && x < 150 && y > 120 && y < hill + 20) {                             // house with windows
        const win = (x % 24 > 8 && x % 24 < 18 && y % 30 > 10 && y % 30 < 22);
        rgb = win ? [0.95, 0.85, 0.4] : [0.6 + 0.1 * ((x >> 3) & 1), 0.3, 0.25];
      }
      for (let c = 0; c < C; c++) img[(y * W + x) * C + c] = rgb[c];
    }
  }
  return img;
}

const clamp = (v) => Math.min(1, Math.max(0, v));
const distortions = {
  noise: (img) => img.map((v) => clamp(v + 0.06 * gauss())),
  blur: (img) => {
    const out = new Float64Array(img.length);
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) for (let c = 0; c < C; c++) {
      let s = 0, n = 0;
      for (let dy = -2; dy <= 2; dy++) for (let dx = -2; dx <= 2; dx++) {
        const yy = y + dy, xx = x + dx;
        if (yy >= 0 && yy < H && xx >= 0 && xx < W) { s += img[(yy * W + xx) * C + c]; n++; }
      }
      out[(y * W + x) * C + c] = s / n;
    }
    return out;
  },
  blocky: (img) => {                       // 8x8 blocks pulled halfway to their mean, like a harsh codec
    const out = Float64Array.from(img);
    for (let by = 0; by < H; by += 8) for (let bx = 0; bx < W; bx += 8) for (let c = 0; c < C; c++) {
      let s = 0;
      for (let y = by; y < by + 8; y++) for (let x = bx; x < bx + 8; x++) s += img[(y * W + x) * C + c];
      const m = s / 64;
      for (let y = by; y < by + 8; y++) for (let x = bx; x < bx + 8; x++) {
        const i = (y * W + x) * C + c;
        out[i] = Math.round((0.5 * img[i] + 0.5 * m) * 16) / 16;
      }
    }
    return out;
  },
  brighter: (img) => img.map((v) => clamp(1.1 * v + 0.05)),
};

function writePng(file, img) {
  const png = new PNG({ width: W, height: H, colorType: 2, inputHasAlpha: false });
  for (let i = 0, j = 0; i < W * H; i++) {
    for (let c = 0; c < C; c++) png.data[i * 4 + c] = Math.round(clamp(img[j++]) * 255);
    png.data[i * 4 + 3] = 255;
  }
  fs.writeFileSync(file, PNG.sync.write(png, { colorType: 2 }));
}

const dir = path.join(__dirname, '..', 'samples');
fs.mkdirSync(dir, { recursive: true });
const ref = scene();
writePng(path.join(dir, 'reference.png'), ref);
for (const [name, f] of Object.entries(distortions)) writePng(path.join(dir, `${name}.png`), f(ref));
console.log(`wrote ${1 + Object.keys(distortions).length} PNGs (${W}x${H} RGB) to samples/`);
