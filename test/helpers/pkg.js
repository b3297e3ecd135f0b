'use strict';
// The package under test, loaded from the package root (main: dist/index.js) and its promises
// entry (dist/promises.js). Loaded lazily so that a missing build fails the suites' hooks
// (reported as failures) instead of aborting mocha before the summary line.

const path = require('path');

// SSIM_TEST_PACKAGE_ROOT: test another copy of the package (e.g. an installed tarball).
const root = process.env.SSIM_TEST_PACKAGE_ROOT ? path.resolve(process.env.SSIM_TEST_PACKAGE_ROOT) : path.join(__dirname, '..', '..');
const promisesPath = path.join(root, 'dist', 'promises.js');

let apiCache;
let promisesCache;

function api() {
  if (!apiCache) apiCache = require(root);
  return apiCache;
}

function promises() {
  if (!promisesCache) promisesCache = require(promisesPath);
  return promisesCache;
}

function tryApi() {
  try {
    return api();
  } catch (e) {
    return null;
  }
}

// backendInfo() or null when the package cannot be loaded.
function tryBackendInfo() {
  const a = tryApi();
  if (!a) return null;
  try {
    return a.backendInfo();
  } catch (e) {
    return null;
  }
}

// Whether a CUDA device can be used (decided once, at load of the suites).
function cudaAvailable() {
  const info = tryBackendInfo();
  return !!(info && info.cuda && info.cuda.available);
}

const FUNCTION_NAMES = Object.freeze([
  'ssim', 'dssim',
  'ssimGradient', 'dssimGradient',
  'ssimWithGradient', 'dssimWithGradient',
  'ssimInto', 'dssimInto',
  'ssimGradientInto', 'dssimGradientInto',
  'ssimWithGradientInto', 'dssimWithGradientInto',
]);

module.exports = { root, promisesPath, api, promises, tryApi, tryBackendInfo, cudaAvailable, FUNCTION_NAMES };
