#!/usr/bin/env node
'use strict';
// A small TensorFlow.js denoiser trained with a DSSIM + L1 loss (cuda-ssim/tfjs: the DSSIM
// gradient comes from cuda-ssim, on the GPU when there is one), against the same model trained
// with MSE. Trains on noisy crops of the left two thirds of samples/reference.png, and reports
// SSIM on the right third, which it never saw. Run: npm run example:tfjs (about half a minute on
// a CPU; @tensorflow/tfjs must be installed: npm install @tensorflow/tfjs).

const fs = require('fs');
const path = require('path');
const { PNG } = require('pngjs');
const tf = require('@tensorflow/tfjs');
const { ssim, dssimLoss } = require('cuda-ssim/tfjs');

const NOISE = 0.1; // Gaussian noise sigma (pixel values in [0, 1])
const PATCH = 24;
const PATCHES = 64;
const EPOCHS = 8;
const BATCH = 8;
const FILTERS = 12;

// A small deterministic generator, so that both models see the same data.
let seed = 12345;
function random() {
  seed = (seed * 1664525 + 1013904223) >>> 0;
  return seed / 4294967296;
}
function gaussian() {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

// samples/reference.png as a [height, width, 3] float32 array in [0, 1].
const png = PNG.sync.read(fs.readFileSync(path.join(__dirname, '..', 'samples', 'reference.png')));
const clean = new Float32Array(png.width * png.height * 3);
for (let i = 0; i < png.width * png.height; i++) for (let c = 0; c < 3; c++) clean[i * 3 + c] = png.data[i * 4 + c] / 255;
const addNoise = (data) => data.map((v) => Math.min(1, Math.max(0, v + NOISE * gaussian())));

// [count, size, size, 3] crops at random places with x in [x0, x1 - size].
function crops(count, size, x0, x1) {
  const out = new Float32Array(count * size * size * 3);
  for (let k = 0; k < count; k++) {
    const left = x0 + Math.floor(random() * (x1 - x0 - size + 1));
    const top = Math.floor(random() * (png.height - size + 1));
    for (let y = 0; y < size; y++) {
      const src = ((top + y) * png.width + left) * 3;
      out.set(clean.subarray(src, src + size * 3), ((k * size + y) * size) * 3);
    }
  }
  return out;
}

const split = Math.floor((png.width * 2) / 3);
const trainClean = crops(PATCHES, PATCH, 0, split);
const trainX = tf.tensor4d(addNoise(trainClean), [PATCHES, PATCH, PATCH, 3]);
const trainY = tf.tensor4d(trainClean, [PATCHES, PATCH, PATCH, 3]);
// The held-out right third, whole.
const testW = png.width - split;
const testClean = new Float32Array(png.height * testW * 3);
for (let y = 0; y < png.height; y++) {
  const src = (y * png.width + split) * 3;
  testClean.set(clean.subarray(src, src + testW * 3), y * testW * 3);
}
const testY = tf.tensor4d(testClean, [1, png.height, testW, 3]);
const testX = tf.tensor4d(addNoise(testClean), [1, png.height, testW, 3]);

// Residual denoiser: noisy image + a predicted correction (fully convolutional: any image size).
function makeModel() {
  const input = tf.input({ shape: [null, null, 3] });
  let h = input;
  const s = 7;
  for (const filters of [FILTERS]) {
    h = tf.layers.conv2d({ filters, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: tf.initializers.heNormal({ seed: s }) }).apply(h);
  }
  // Zero correction at first: both models start as the identity (the noisy input).
  const correction = tf.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'same', kernelInitializer: 'zeros' }).apply(h);
  return tf.model({ inputs: input, outputs: tf.layers.add().apply([input, correction]) });
}

// 0.84 DSSIM + 0.16 L1 (Zhao et al., "Loss Functions for Image Restoration with Neural Networks").
function dssimL1(yTrue, yPred) {
  return tf.tidy(() => dssimLoss(yTrue, yPred).mul(0.84).add(tf.losses.absoluteDifference(yTrue, yPred).mul(0.16)));
}

async function train(name, loss) {
  const model = makeModel();
  model.compile({ optimizer: tf.train.adam(0.005), loss });
  const t0 = Date.now();
  await model.fit(trainX, trainY, { epochs: EPOCHS, batchSize: BATCH, shuffle: false, verbose: 0 });
  const denoised = tf.tidy(() => model.predict(testX).clipByValue(0, 1));
  const value = ssim(testY, denoised).dataSync()[0];
  const mse = tf.losses.meanSquaredError(testY, denoised).dataSync()[0];
  console.log(`${name.padEnd(14)} SSIM ${value.toFixed(4)}   PSNR ${(10 * Math.log10(1 / mse)).toFixed(2)} dB   (trained in ${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  denoised.dispose();
  return value;
}

async function main() {
  await tf.setBackend('cpu'); // @tensorflow/tfjs in Node: the pure-JS backend (tfjs-node is not needed)
  const { backendInfo } = require('cuda-ssim');
  const info = backendInfo();
  console.log(`tfjs backend ${tf.getBackend()}; cuda-ssim computes DSSIM on ${info.cuda.available ? `CUDA (${info.cuda.devices[0].name})` : 'the CPU'}`);
  console.log(`${PATCHES} noisy ${PATCH}x${PATCH} training crops (noise sigma ${NOISE}), ${EPOCHS} epochs; SSIM on the held-out ${testW}x${png.height} right third:`);
  const noisyMse = tf.losses.meanSquaredError(testY, testX).dataSync()[0];
  console.log(`${'noisy input'.padEnd(14)} SSIM ${ssim(testY, testX).dataSync()[0].toFixed(4)}   PSNR ${(10 * Math.log10(1 / noisyMse)).toFixed(2)} dB`);
  await train('MSE', 'meanSquaredError');
  await train('DSSIM + L1', dssimL1);
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
