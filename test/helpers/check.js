'use strict';
// Numeric comparisons, poisoning of outputs, and error assertions.

const assert = require('assert');

function toArray(v) {
  if (typeof v === 'number') return [v];
  return Array.from(v);
}

// ||a - b|| / ||b|| (b: the reference). If ||b|| is 0, the absolute norm of the difference.
function relL2(a, b) {
  assert.strictEqual(a.length, b.length, `length ${a.length} vs reference ${b.length}`);
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i] - b[i];
    num += d * d;
    den += b[i] * b[i];
  }
  return den === 0 ? Math.sqrt(num) : Math.sqrt(num / den);
}

function maxAbsDiff(a, b) {
  assert.strictEqual(a.length, b.length, `length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= m)) m = d; // NaN propagates
  }
  return m;
}

function maxAbs(a) {
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]);
    if (!(d <= m)) m = d;
  }
  return m;
}

function l2(a) {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * a[i];
  return Math.sqrt(s);
}

function assertAllFinite(a, what) {
  for (let i = 0; i < a.length; i++) {
    if (!Number.isFinite(a[i])) assert.fail(`${what}[${i}] = ${a[i]} (not finite; element not written?)`);
  }
}

// |actual[i] - expected[i]| <= tol for every i (actual: number or array-like).
function assertClose(actual, expected, tol, what) {
  const a = toArray(actual);
  const e = toArray(expected);
  assert.strictEqual(a.length, e.length, `${what}: ${a.length} values, expected ${e.length}`);
  const d = maxAbsDiff(a, e);
  if (!(d <= tol)) {
    const show = a.length <= 8 ? `\n  actual:   ${a.join(', ')}\n  expected: ${e.join(', ')}` : '';
    assert.fail(`${what}: max |diff| ${d} > ${tol}${show}`);
  }
}

function assertRelL2(actual, expected, tol, what) {
  const a = toArray(actual);
  const e = toArray(expected);
  const r = relL2(a, e);
  if (!(r <= tol)) {
    assert.fail(`${what}: relative L2 error ${r} > ${tol} (|ref| = ${l2(e)}, max |diff| = ${maxAbsDiff(a, e)})`);
  }
}

function assertSameArray(actual, expected, what) {
  const a = toArray(actual);
  const e = toArray(expected);
  assert.strictEqual(a.length, e.length, `${what}: length`);
  for (let i = 0; i < a.length; i++) {
    if (!Object.is(a[i], e[i])) assert.fail(`${what}: element ${i} differs: ${a[i]} vs ${e[i]}`);
  }
}

// Float32Array of n filled with NaN (an output that must be fully written).
function poisoned(n) {
  return new Float32Array(n).fill(NaN);
}

function poison(arr) {
  arr.fill(NaN);
  return arr;
}

// err matches { code, type (constructor), message (RegExp) }.
function checkError(err, { code, type, message }, what = 'error') {
  assert.ok(err instanceof Error, `${what}: expected an Error, got ${err}`);
  assert.strictEqual(err.code, code, `${what}: code ${err.code} (message: ${err.message}), expected ${code}`);
  if (type) {
    const types = Array.isArray(type) ? type : [type];
    assert.ok(
      types.some((T) => err instanceof T),
      `${what}: ${err.constructor && err.constructor.name} is not ${types.map((T) => T.name).join(' or ')} (${err.message})`,
    );
  }
  if (message) assert.match(err.message, message, `${what}: message does not name the argument`);
}

function expectThrow(fn, expected, what) {
  let thrown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  if (!thrown) assert.fail(`${what || 'call'}: expected ${expected.code}, nothing thrown`);
  checkError(thrown, expected, what);
  return thrown;
}

// fn must return a promise (not throw synchronously) that rejects as expected.
async function expectReject(fn, expected, what) {
  let p;
  try {
    p = fn();
  } catch (e) {
    assert.fail(`${what || 'call'}: threw synchronously (${e && e.code}: ${e && e.message}) instead of rejecting`);
  }
  assert.ok(p && typeof p.then === 'function', `${what || 'call'}: did not return a promise`);
  let rejected;
  try {
    await p;
  } catch (e) {
    rejected = e;
  }
  if (!rejected) assert.fail(`${what || 'call'}: expected a rejection with ${expected.code}, it resolved`);
  checkError(rejected, expected, what);
  return rejected;
}

module.exports = {
  toArray,
  relL2,
  maxAbsDiff,
  maxAbs,
  l2,
  assertAllFinite,
  assertClose,
  assertRelL2,
  assertSameArray,
  poisoned,
  poison,
  checkError,
  expectThrow,
  expectReject,
};
