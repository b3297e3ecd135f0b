'use strict';
// Seeded PRNG for the tests. Every run draws a fresh master seed (crypto) unless
// SSIM_TEST_SEED is set; each test derives its own generator from the master seed and its full
// title, so one failing test can be replayed alone (`SSIM_TEST_SEED=... npx mocha -g '...'`).
// The seed is printed at the start of the run and appended to every failure message
// (test/helpers/setup.js).

const crypto = require('crypto');

function parseSeed(s) {
  if (s === undefined || s === '') return undefined;
  const v = Number(s);
  if (!Number.isFinite(v)) throw new Error(`SSIM_TEST_SEED must be a number, got ${s}`);
  return v >>> 0;
}

const MASTER_SEED = parseSeed(process.env.SSIM_TEST_SEED) ?? crypto.randomBytes(4).readUInt32LE(0);

// FNV-1a over the string, mixed with a seed.
function hashString(str, seed) {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < str.length; i++) {
    h ^= str.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

function splitmix32(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

class Rng {
  constructor(seed) {
    this.seed = seed >>> 0;
    const sm = splitmix32(this.seed);
    this.a = sm(); this.b = sm(); this.c = sm(); this.d = sm();
  }

  // sfc32: uint32
  u32() {
    let { a, b, c, d } = this;
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    this.a = a; this.b = b; this.c = c; this.d = d;
    return t >>> 0;
  }

  // [0, 1)
  next() { return this.u32() / 4294967296; }

  // [lo, hi)
  uniform(lo, hi) { return lo + (hi - lo) * this.next(); }

  // integer in [lo, hi] inclusive
  int(lo, hi) { return lo + Math.floor(this.next() * (hi - lo + 1)); }

  pick(arr) { return arr[Math.floor(this.next() * arr.length)]; }

  bool(pTrue = 0.5) { return this.next() < pTrue; }

  normal() {
    const u = 1 - this.next();
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  // k distinct integers in [0, n)
  sample(n, k) {
    const set = new Set();
    k = Math.min(k, n);
    while (set.size < k) set.add(Math.floor(this.next() * n));
    return [...set];
  }

  // Fill a typed array quickly with uniform values (integers for integer arrays).
  fill(arr, lo = 0, hi = 1) {
    const intMax = arr instanceof Uint8Array || arr instanceof Uint8ClampedArray ? 255 : arr instanceof Uint16Array ? 65535 : 0;
    if (intMax) {
      for (let i = 0; i < arr.length; i++) arr[i] = (this.u32() >>> 0) % (intMax + 1);
    } else {
      const span = hi - lo;
      for (let i = 0; i < arr.length; i++) arr[i] = lo + span * (this.u32() / 4294967296);
    }
    return arr;
  }
}

function rngFor(label) {
  return new Rng(hashString(String(label), MASTER_SEED));
}

// The generator of the running mocha test: call with `this` inside it(function () { ... }).
function testRng(ctx) {
  const t = ctx && (ctx.test || ctx.currentTest);
  return rngFor(t ? t.fullTitle() : 'no-test');
}

module.exports = { MASTER_SEED, Rng, rngFor, testRng, hashString };
