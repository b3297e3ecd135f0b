'use strict';
// Identities that need no reference: ssim(x, x) = 1 (also a 2160x3840 image), hwc = chw,
// a batch = its images one by one, in-place (poisoned outputs) = allocating, promises = sync,
// workspace reuse, repeatability. Default backend.

const assert = require('assert');
const pkg = require('./helpers/pkg');
const { testRng } = require('./helpers/random');
const { makePair, makeNoisePair, relayout, relayoutArray, imageAt, copyImage, DTYPE_NAMES } = require('./helpers/images');
const { assertClose, assertRelL2, assertSameArray, assertAllFinite, poisoned, maxAbs, toArray } = require('./helpers/check');
const ref = require('./reference');

// Values that must be "identical": the float32 value may differ by one rounding of the final
// double sum (GPU blocks add their partial sums in any order), gradients must be bit-equal.
const VALUE_EXACT = 1.2e-7;

function mapCount(shape, opts) {
  const r = opts && opts.padding === 'valid' ? ((opts.windowSize || 11) - 1) / 2 : 0;
  return (shape.width - 2 * r) * (shape.height - 2 * r);
}

describe('identities: ssim(x, x) = 1', function () {
  it('every dtype, both layouts, channels, batch, paddings (within 1e-6); dssim(x, x) = 0', function () {
    const rng = testRng(this);
    const api = pkg.api();
    for (const dtype of DTYPE_NAMES) {
      for (const layout of ['hwc', 'chw']) {
        const spec = { width: rng.int(11, 60), height: rng.int(11, 60), channels: rng.int(1, 5), batch: rng.pick([undefined, 3]), layout, dtype };
        const { x } = makePair(rng, spec);
        const twin = copyImage(x);
        for (const padding of ['same', 'valid']) {
          const ones = new Array(spec.batch || 1).fill(1);
          assertClose(api.ssim(x, x, { padding }), ones, 1e-6, `ssim(x, x) ${JSON.stringify(spec)} ${padding}`);
          assertClose(api.ssim(x, twin, { padding }), ones, 1e-6, `ssim(x, copy of x) ${JSON.stringify(spec)} ${padding}`);
          assertClose(api.dssim(x, twin, { padding }), ones.map(() => 0), 1e-6, `dssim(x, x) ${padding}`);
        }
      }
    }
  });

  it('the gradient vanishes at y = x (SSIM is maximal there)', function () {
    const rng = testRng(this);
    const api = pkg.api();
    for (const dtype of ['float32', 'uint8']) {
      const spec = { width: rng.int(11, 40), height: rng.int(11, 40), channels: rng.int(1, 3), dtype };
      const { x } = makePair(rng, spec);
      const g = api.ssimGradient(x, copyImage(x));
      // typical |gradient| of a mismatched pair is O(1 / (channels * map pixels))
      const scaled = maxAbs(g) * spec.channels * mapCount(spec);
      assert.ok(scaled < 1e-3, `max |gradient| * C * M = ${scaled} at y = x (${JSON.stringify(spec)})`);
    }
  });

  it('2160x3840 single channel, ssim(x, x) = 1 within 1e-6', function () {
    this.timeout(300000);
    const rng = testRng(this);
    const api = pkg.api();
    const { x } = makeNoisePair(rng, { width: 3840, height: 2160, dtype: 'float32' });
    const v = api.ssim(x, copyImage(x));
    assert.strictEqual(typeof v, 'number');
    assert.ok(Math.abs(v - 1) <= 1e-6, `ssim(x, x) = ${v}`);
  });
});

describe('identities: layouts, batches, in-place, async, workspaces, repeatability', function () {
  it("hwc and chw of the same image agree (values 1e-6; gradient transposed, 1e-6 relative)", function () {
    const rng = testRng(this);
    const api = pkg.api();
    for (let trial = 0; trial < 3; trial++) {
      const spec = { width: rng.int(5, 60), height: rng.int(5, 60), channels: rng.int(2, 5), batch: rng.pick([undefined, 2]), layout: 'hwc', dtype: rng.pick(DTYPE_NAMES) };
      const { x, y } = makePair(rng, spec);
      const xc = relayout(x, 'chw');
      const yc = relayout(y, 'chw');
      const opts = rng.bool() ? {} : { windowSize: 7, sigma: 1.2 };
      assertClose(api.ssim(xc, yc, opts), toArray(api.ssim(x, y, opts)), 1e-6, `values ${JSON.stringify(spec)}`);
      const g = api.ssimGradient(x, y, opts);
      const gc = api.ssimGradient(xc, yc, opts);
      assertRelL2(relayoutArray(gc, ref.shapeOf(xc), 'hwc'), g, 1e-6, `gradient ${JSON.stringify(spec)}`);
    }
  });

  it('a batch equals its images one by one (values and gradients)', function () {
    const rng = testRng(this);
    const api = pkg.api();
    const B = rng.int(2, 4);
    const spec = { width: rng.int(5, 50), height: rng.int(5, 50), channels: rng.int(1, 4), batch: B, layout: rng.pick(['hwc', 'chw']), dtype: rng.pick(DTYPE_NAMES) };
    const { x, y } = makePair(rng, spec);
    const { value, gradient } = api.ssimWithGradient(x, y);
    assert.ok(value instanceof Float32Array && value.length === B);
    const size = x.data.length / B;
    for (let b = 0; b < B; b++) {
      const xb = imageAt(x, b);
      const yb = imageAt(y, b);
      const one = api.ssimWithGradient(xb, yb);
      assert.ok(Math.abs(one.value - value[b]) <= 1e-6, `image ${b}: ${one.value} vs batch ${value[b]} (${JSON.stringify(spec)})`);
      assertRelL2(gradient.subarray(b * size, (b + 1) * size), one.gradient, 1e-6, `gradient of image ${b}`);
    }
  });

  it('in-place functions fill every element of poisoned (NaN) outputs, return them, and equal the allocating ones', function () {
    const rng = testRng(this);
    const api = pkg.api();
    for (const batch of [undefined, 3]) {
      const spec = { width: rng.int(3, 45), height: rng.int(3, 45), channels: rng.int(1, 4), batch, layout: rng.pick(['hwc', 'chw']), dtype: rng.pick(DTYPE_NAMES) };
      const { x, y } = makePair(rng, spec);
      const n = x.data.length;
      const B = batch || 1;
      for (const baseOpts of [{}, { divideByTwo: true, windowSize: 9 }]) {
        for (const [name, alloc] of [['ssim', 'ssim'], ['dssim', 'dssim']]) {
          // divideByTwo belongs to the dssim functions only
          const opts = name === 'dssim' ? baseOpts : { ...baseOpts, divideByTwo: undefined };
          const what = `${name} ${JSON.stringify(spec)} ${JSON.stringify(opts)}`;
          const expectedV = toArray(api[alloc](x, y, opts));
          const expectedG = api[`${alloc}Gradient`](x, y, opts);
          const both = api[`${alloc}WithGradient`](x, y, opts);
          assertClose(toArray(both.value), expectedV, VALUE_EXACT, `${what}: WithGradient value vs value`);
          assertSameArray(both.gradient, expectedG, `${what}: WithGradient gradient vs gradient`);

          const out = poisoned(B);
          assert.strictEqual(api[`${name}Into`](out, x, y, opts), out, `${name}Into returns out`);
          assertAllFinite(out, `${name}Into out`);
          assertClose(out, expectedV, VALUE_EXACT, `${what}: Into`);

          const grad = poisoned(n);
          assert.strictEqual(api[`${name}GradientInto`](grad, x, y, opts), grad, `${name}GradientInto returns grad`);
          assertAllFinite(grad, `${name}GradientInto grad`);
          assertSameArray(grad, expectedG, `${what}: GradientInto`);

          const out2 = poisoned(B);
          const grad2 = poisoned(n);
          const r = api[`${name}WithGradientInto`](out2, grad2, x, y, opts);
          assert.ok(r && r.value === out2 && r.gradient === grad2, `${name}WithGradientInto returns { value: out, gradient: grad }`);
          assertAllFinite(out2, `${name}WithGradientInto out`);
          assertAllFinite(grad2, `${name}WithGradientInto grad`);
          assertClose(out2, expectedV, VALUE_EXACT, `${what}: WithGradientInto value`);
          assertSameArray(grad2, expectedG, `${what}: WithGradientInto gradient`);
        }
      }
    }
  });

  it('promises module gives the same results as the sync functions', async function () {
    const rng = testRng(this);
    const api = pkg.api();
    const p = pkg.promises();
    const spec = { width: rng.int(5, 50), height: rng.int(5, 50), channels: rng.int(1, 3), batch: rng.pick([undefined, 2]), dtype: rng.pick(DTYPE_NAMES) };
    const { x, y } = makePair(rng, spec);
    const opts = { windowSize: rng.pick([7, 9, 11]) };
    assertClose(toArray(await p.ssim(x, y, opts)), toArray(api.ssim(x, y, opts)), VALUE_EXACT, 'ssim');
    assertSameArray(await p.ssimGradient(x, y, opts), api.ssimGradient(x, y, opts), 'ssimGradient');
    const a = await p.dssimWithGradient(x, y, opts);
    const s = api.dssimWithGradient(x, y, opts);
    assertClose(toArray(a.value), toArray(s.value), VALUE_EXACT, 'dssimWithGradient value');
    assertSameArray(a.gradient, s.gradient, 'dssimWithGradient gradient');
  });

  it('one workspace reused for several calls and smaller shapes gives identical results', function () {
    const rng = testRng(this);
    const api = pkg.api();
    const W = 48;
    const H = 40;
    const C = 3;
    const B = 3;
    const ws = api.Workspace.for({ width: W, height: H, channels: C, batch: B });
    try {
      assert.ok(ws.images >= B, `workspace images ${ws.images}`);
      assert.ok(ws.elements >= B * C * H * W, `workspace elements ${ws.elements}`);
      assert.strictEqual(ws.disposed, false);
      const shapes = [
        { width: W, height: H, channels: C, batch: B },
        { width: 17, height: 23, channels: 2, batch: 2 },
        { width: W, height: H, channels: C },
        { width: 1, height: 29, channels: 1 },
        { width: 31, height: 11, channels: 3, batch: 3 },
        { width: W, height: H, channels: C, batch: B },
      ];
      for (const shape of shapes) {
        const { x, y } = makePair(rng, { ...shape, layout: rng.pick(['hwc', 'chw']), dtype: rng.pick(DTYPE_NAMES) });
        const what = JSON.stringify(shape);
        for (const opts of [{}, { windowSize: 7, padding: shape.width >= 7 && shape.height >= 7 ? 'valid' : 'same' }]) {
          const plain = api.ssimWithGradient(x, y, opts);
          const withWs = api.ssimWithGradient(x, y, { ...opts, workspace: ws });
          assertClose(toArray(withWs.value), toArray(plain.value), VALUE_EXACT, `value ${what}`);
          assertSameArray(withWs.gradient, plain.gradient, `gradient ${what}`);
          assertClose(toArray(api.dssim(x, y, { ...opts, workspace: ws })), toArray(api.dssim(x, y, opts)), VALUE_EXACT, `dssim ${what}`);
          const out = poisoned(shape.batch || 1);
          const grad = poisoned(x.data.length);
          api.ssimWithGradientInto(out, grad, x, y, { ...opts, workspace: ws });
          assertClose(out, toArray(plain.value), VALUE_EXACT, `Into value ${what}`);
          assertSameArray(grad, plain.gradient, `Into gradient ${what}`);
        }
      }
    } finally {
      ws.dispose();
    }
    assert.strictEqual(ws.disposed, true);
    ws.dispose(); // idempotent
  });

  it('repeated calls are deterministic', function () {
    const rng = testRng(this);
    const api = pkg.api();
    const spec = { width: rng.int(20, 90), height: rng.int(20, 90), channels: rng.int(1, 4), batch: 2, layout: rng.pick(['hwc', 'chw']), dtype: rng.pick(DTYPE_NAMES) };
    const { x, y } = makePair(rng, spec);
    const first = api.ssimWithGradient(x, y);
    for (let i = 0; i < 4; i++) {
      const again = api.ssimWithGradient(x, y);
      assertClose(again.value, first.value, VALUE_EXACT, `value, repetition ${i}`);
      assertSameArray(again.gradient, first.gradient, `gradient, repetition ${i}`);
    }
  });

  it('inputs are not modified', function () {
    const rng = testRng(this);
    const api = pkg.api();
    const { x, y } = makePair(rng, { width: 21, height: 19, channels: 3, dtype: rng.pick(DTYPE_NAMES) });
    const xs = x.data.slice();
    const ys = y.data.slice();
    api.ssimWithGradient(x, y);
    api.dssimWithGradientInto(poisoned(1), poisoned(x.data.length), x, y);
    assertSameArray(x.data, xs, 'x.data');
    assertSameArray(y.data, ys, 'y.data');
  });
});

describe('identities: non-finite inputs are not hidden', function () {
  // A NaN pixel must poison the value of its image (and the gradient near it), never turn into a
  // plausible number: the per-pixel clamps propagate NaN on both backends.
  const backends = () => ['cpu'].concat(pkg.api().backendInfo().cuda.available ? ['cuda'] : []);
  it('a NaN in x gives a NaN value for that image only, and NaN gradient entries', function () {
    const rng = testRng(this);
    const api = pkg.api();
    for (const backend of backends()) {
      const spec = { width: rng.int(12, 40), height: rng.int(12, 40), channels: 2, batch: 3, layout: 'hwc', dtype: 'float32' };
      const { x, y } = makeNoisePair(rng, spec);
      const plane = spec.width * spec.height * spec.channels;
      x.data[plane + rng.int(0, plane - 1)] = NaN;   // one pixel of image 1
      const { value, gradient } = api.ssimWithGradient(x, y, { backend });
      assert.ok(Number.isFinite(value[0]) && Number.isFinite(value[2]), `${backend}: images 0 and 2 stay finite: ${value}`);
      assert.ok(Number.isNaN(value[1]), `${backend}: image 1 with a NaN pixel must be NaN, got ${value[1]}`);
      assert.ok(gradient.subarray(plane, 2 * plane).some(Number.isNaN), `${backend}: gradient of image 1 has NaN`);
      assertAllFinite(gradient.subarray(0, plane), `${backend}: gradient of image 0`);
    }
  });
});
