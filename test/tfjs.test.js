'use strict';
// cuda-ssim/tfjs: ssim() and dssimLoss for TensorFlow.js tensors, against the float64 reference
// (values, and gradients through tf.grad / tf.customGrad), argument errors, and a short training
// run of a small conv model on the bundled sample image whose DSSIM must fall. Runs on whichever
// backend cuda-ssim picks (CUDA with a device, else the CPU path) and tfjs's CPU backend.
// Skipped visibly when @tensorflow/tfjs is not installed.

const assert = require('assert');
const fs = require('fs');
const path = require('path');
const pkg = require('./helpers/pkg');
const { testRng } = require('./helpers/random');
const { assertClose, assertRelL2, expectThrow } = require('./helpers/check');
const ref = require('./reference');
const msRef = require('./reference-msssim');

let tf = null;
let why = null;
try {
  tf = require('@tensorflow/tfjs');
} catch (e) {
  why = `@tensorflow/tfjs not installed: ${e.message.split('\n')[0]}`;
}

const GRAD_TOL = 1e-4;
const VALUE_TOL = 2e-5;

describe(`tfjs: cuda-ssim/tfjs${why ? ` (skipped: ${why})` : ''}`, function () {
  let m; // cuda-ssim/tfjs
  let backend; // which cuda-ssim backend runs
  before(async function () {
    if (why) this.skip();
    m = require(path.join(pkg.root, 'dist', 'tfjs'));
    await tf.setBackend('cpu');
    backend = pkg.api().backendInfo().cuda.available ? 'cuda' : 'cpu';
  });

  // A float32 NHWC tensor of random values in [0, range] and its data as a reference image.
  function randomImages(rng, shape, range = 1) {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = range * rng.uniform(0.02, 0.98);
    const [batch, height, width, channels] = shape.length === 4 ? shape : [1, ...shape];
    return { t: tf.tensor(data, shape, 'float32'), img: { data, width, height, channels, batch } };
  }

  // A correlated pair (a noisy copy), so SSIM is far from 0 and the gradient has structure.
  function pair(rng, shape, range = 1) {
    const a = randomImages(rng, shape, range);
    const b = new Float32Array(a.img.data.length);
    for (let i = 0; i < b.length; i++) b[i] = Math.min(range, Math.max(0, a.img.data[i] + range * 0.15 * rng.normal()));
    return { yTrue: a, yPred: { t: tf.tensor(b, shape, 'float32'), img: { ...a.img, data: b } } };
  }

  it('package export cuda-ssim/tfjs resolves', function () {
    assert.strictEqual(require.resolve('cuda-ssim/tfjs', { paths: [pkg.root] }), path.join(pkg.root, 'dist', 'tfjs', 'index.js'));
    assert.strictEqual(typeof m.ssim, 'function');
    assert.strictEqual(typeof m.dssimLoss, 'function');
    assert.strictEqual(typeof m.dssimLoss.with, 'function');
    assert.strictEqual(typeof m.makeDssimLoss, 'function');
    assert.strictEqual(m.dssimLoss.name, 'dssimLoss');
  });

  it('ssim(): one value per image (rank 4) or a scalar (rank 3), with options, against the reference', function () {
    const rng = testRng(this);
    const { yTrue, yPred } = pair(rng, [3, 23, 31, 2], 2);
    const opts = { windowSize: 7, sigma: 1.1, dataRange: 2, k2: 0.05, padding: 'valid' };
    const v = m.ssim(yTrue.t, yPred.t, opts);
    assert.deepStrictEqual(v.shape, [3]);
    assertClose(v.dataSync(), ref.ssimRef(yPred.img, yTrue.img, opts), VALUE_TOL, `ssim (${backend})`);
    const one = pair(rng, [20, 18, 3]);
    const s = m.ssim(one.yTrue.t, one.yPred.t);
    assert.deepStrictEqual(s.shape, []);
    assertClose([s.dataSync()[0]], ref.ssimRef(one.yPred.img, one.yTrue.img), VALUE_TOL, 'ssim rank 3');
  });

  it('dssimLoss: the batch mean of DSSIM; tf.grad gives d/dyPred from our kernels, zero for yTrue', function () {
    const rng = testRng(this);
    const B = 3;
    const { yTrue, yPred } = pair(rng, [B, 21, 26, 3]);
    const loss = m.dssimLoss(yTrue.t, yPred.t);
    assert.deepStrictEqual(loss.shape, []);
    const refValues = ref.dssimRef(yPred.img, yTrue.img);
    assertClose([loss.dataSync()[0]], [refValues.reduce((a, b) => a + b, 0) / B], VALUE_TOL, 'loss value');

    const [gTrue, gPred] = tf.grads((t, p) => m.dssimLoss(t, p))([yTrue.t, yPred.t]);
    const gRef = ref.dssimGradientRef(yPred.img, yTrue.img).map((v) => v / B);
    assert.deepStrictEqual(gPred.shape, yPred.t.shape);
    assertRelL2(gPred.dataSync(), gRef, GRAD_TOL, `gradient w.r.t. yPred (${backend})`);
    assert.ok(gTrue.dataSync().every((v) => v === 0), 'gradient w.r.t. yTrue is zero');

    // dy is applied: d(5 * loss)/dyPred = 5 * d(loss)/dyPred
    const g5 = tf.grad((p) => m.dssimLoss(yTrue.t, p).mul(5))(yPred.t);
    assertRelL2(g5.dataSync(), gRef.map((v) => 5 * v), GRAD_TOL, 'gradient of 5 * loss');
  });

  it('msssimLoss: the batch mean of 1 - MS-SSIM; its gradient w.r.t. yPred against the float64 reference', function () {
    const rng = testRng(this);
    const B = 2;
    const { yTrue, yPred } = pair(rng, [B, 37, 45, 3]);
    const opts = { weights: [0.3, 0.3, 0.4], windowSize: 7 };
    const loss = m.msssimLoss(yTrue.t, yPred.t, opts);
    assert.deepStrictEqual(loss.shape, []);
    const values = msRef.msssimRef(yPred.img, yTrue.img, opts);
    assertClose([loss.dataSync()[0]], [values.reduce((a, v) => a + 1 - v, 0) / B], VALUE_TOL, 'msssimLoss value');
    const gPred = tf.grad((p) => m.msssimLoss.with(opts)(yTrue.t, p))(yPred.t);
    const gRef = msRef.msssimGradientRef(yPred.img, yTrue.img, opts).map((v) => -v / B);
    assertRelL2(gPred.dataSync(), gRef, GRAD_TOL, `msssimLoss gradient w.r.t. yPred (${backend})`);
    assert.strictEqual(m.msssimLoss.name, 'msssimLoss');
  });

  it('dssimLoss.with(options) / makeDssimLoss(options) / a third argument: every SSIM option', function () {
    const rng = testRng(this);
    const { yTrue, yPred } = pair(rng, [2, 19, 22, 1], 255);
    const opts = { windowSize: 9, sigma: 2, k1: 0.02, dataRange: 255, divideByTwo: true, padding: 'valid' };
    const refMean = ref.dssimRef(yPred.img, yTrue.img, opts).reduce((a, b) => a + b, 0) / 2;
    const gRef = ref.dssimGradientRef(yPred.img, yTrue.img, opts).map((v) => v / 2);
    for (const [name, loss] of [['with', m.dssimLoss.with(opts)], ['makeDssimLoss', m.makeDssimLoss(opts)], ['3rd argument', (t, p) => m.dssimLoss(t, p, opts)]]) {
      assertClose([loss(yTrue.t, yPred.t).dataSync()[0]], [refMean], VALUE_TOL, `${name}: value`);
      assertRelL2(tf.grad((p) => loss(yTrue.t, p))(yPred.t).dataSync(), gRef, GRAD_TOL, `${name}: gradient`);
    }
    assert.strictEqual(m.dssimLoss.with(opts).name, 'dssimLoss');
  });

  it('bad tensors and options fail with coded errors (options when the loss is made)', function () {
    const rng = testRng(this);
    const a = randomImages(rng, [2, 12, 12, 3]).t;
    expectThrow(() => m.ssim(a, tf.zeros([2, 12, 12, 1])), { code: 'ERR_SSIM_SHAPE', type: RangeError }, 'shape mismatch');
    expectThrow(() => m.dssimLoss(tf.zeros([12, 12]), tf.zeros([12, 12])), { code: 'ERR_SSIM_SHAPE' }, 'rank 2');
    expectThrow(() => m.dssimLoss(a.cast('int32'), a.cast('int32')), { code: 'ERR_SSIM_DTYPE', type: TypeError }, 'int32');
    expectThrow(() => m.ssim(a, a.dataSync()), { code: 'ERR_SSIM_INVALID_ARGUMENT', type: TypeError }, 'not a tensor');
    expectThrow(() => m.dssimLoss.with({ windowSize: 5 }), { code: 'ERR_SSIM_OPTION' }, 'windowSize 5');
    expectThrow(() => m.makeDssimLoss('fast'), { code: 'ERR_SSIM_INVALID_ARGUMENT' }, 'options not an object');
    // MS-SSIM-only options are checked when the loss is made, as the calls check them
    expectThrow(() => m.msssimLoss.with({ weights: 'bad' }), { code: 'ERR_SSIM_OPTION', type: TypeError, message: /opts\.weights/ }, 'msssimLoss weights');
    expectThrow(() => m.makeMsssimLoss({ padding: 'reflect' }), { code: 'ERR_SSIM_OPTION', message: /opts\.padding/ }, 'msssimLoss reflect');
    expectThrow(() => m.msssimLoss.with({ gradientDtype: 'input', windowSize: 5 }), { code: 'ERR_SSIM_OPTION', message: /windowSize/ }, 'msssimLoss metric options first');
    const small = randomImages(rng, [1, 10, 10, 1]).t;
    expectThrow(() => m.ssim(small, small, { padding: 'valid', windowSize: 11 }), { code: 'ERR_SSIM_TOO_SMALL' }, 'valid window too large');
  });

  it('trains: a small conv denoiser on the bundled sample, model.compile({ loss: dssimLoss }), DSSIM falls', async function () {
    const { PNG } = require('pngjs');
    const rng = testRng(this);
    const png = PNG.sync.read(fs.readFileSync(path.join(__dirname, '..', 'samples', 'reference.png')));
    const P = 24;
    const B = 8;
    const clean = new Float32Array(B * P * P * 3);
    const noisy = new Float32Array(B * P * P * 3);
    for (let b = 0; b < B; b++) {
      const x0 = rng.int(0, png.width - P);
      const y0 = rng.int(0, png.height - P);
      for (let y = 0; y < P; y++) {
        for (let x = 0; x < P; x++) {
          for (let c = 0; c < 3; c++) {
            const v = png.data[((y0 + y) * png.width + x0 + x) * 4 + c] / 255;
            const i = ((b * P + y) * P + x) * 3 + c;
            clean[i] = v;
            noisy[i] = Math.min(1, Math.max(0, v + 0.1 * rng.normal()));
          }
        }
      }
    }
    const xs = tf.tensor4d(noisy, [B, P, P, 3]);
    const ys = tf.tensor4d(clean, [B, P, P, 3]);
    const init = (seed) => tf.initializers.glorotUniform({ seed });
    const model = tf.sequential({
      layers: [
        tf.layers.conv2d({ inputShape: [P, P, 3], filters: 8, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: init(rng.int(1, 1e6)) }),
        tf.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'same', kernelInitializer: init(rng.int(1, 1e6)) }),
      ],
    });
    model.compile({ optimizer: tf.train.adam(0.01), loss: m.dssimLoss });
    const before = m.dssimLoss(ys, model.predict(xs)).dataSync()[0];
    // A wrong gradient leaves DSSIM where it was or raises it. After 12 epochs the drop ranged over
    // 0.46 to 0.69 of the start on 12 seeds and reached only 0.805 on one (SSIM_TEST_SEED=1749758979,
    // on the CPU and the GPU alike); after 20 epochs 16 seeds, that one among them, ended at 0.75 or
    // below, against the bar of 0.8.
    const history = await model.fit(xs, ys, { epochs: 20, batchSize: B, verbose: 0, shuffle: false });
    const losses = history.history.loss;
    const after = m.dssimLoss(ys, model.predict(xs)).dataSync()[0];
    assert.ok(losses.every(Number.isFinite), `finite losses: ${losses}`);
    assert.ok(after < 0.8 * before, `DSSIM fell from ${before} to ${after} (fit losses ${losses.map((v) => v.toFixed(4)).join(' ')})`);
    // optimizer.minimize with the same loss continues to lower it
    const opt = tf.train.adam(0.005);
    let last = after;
    for (let k = 0; k < 3; k++) last = opt.minimize(() => m.dssimLoss(ys, model.predict(xs)), true).dataSync()[0];
    assert.ok(last < before, `minimize: ${last} < ${before}`);
  });
});
