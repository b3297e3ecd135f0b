'use strict';
// lib/loop-awake.ts through lib/native.ts's runJobAsync, with a stand-in addon whose promise calls
// settle when the test says: while a CUDA call on device arrays is in flight the event loop has an
// immediate pending (so it polls instead of sleeping in epoll); the chain ends when the call
// settles, resolved or rejected, and after 5 ms even if it has not; CPU calls and host-array calls
// never start it.

const assert = require('assert');
const path = require('path');
const pkg = require('./helpers/pkg');

const native = require(path.join(pkg.root, 'dist', 'native.js'));
const loopAwake = require(path.join(pkg.root, 'dist', 'loop-awake.js'));
const pendingImmediates = () => process.getActiveResourcesInfo().filter((r) => r === 'Immediate').length;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const turns = async (n) => { for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve)); };

describe('loop-awake: promise calls on device arrays keep the event loop polling', function () {
  let settle, inFlight;
  beforeEach(function () {
    settle = null;
    inFlight = null;
    native.setNativeBindingForTesting({
      computeAsync: () => new Promise((resolve, reject) => { settle = { resolve, reject }; }),
    });
  });
  afterEach(async function () {
    // a failed test's call must not stay in flight for the next one (the count is the module's)
    if (settle) settle.resolve();
    if (inFlight) await inFlight.catch(() => {});
    loopAwake.setSpinMsForTesting(null);
    native.setNativeBindingForTesting(null);
  });
  const run = (job) => (inFlight = native.runJobAsync('computeAsync', job));

  const deviceJob = () => ({ backend: 'cuda', x: { byteLength: 64 }, y: { byteLength: 64 } });

  // The chain's deadline is set far off in the two tests of how it ends with the call: a loaded
  // machine can take more than the 5 ms of the real one for a few loop turns.
  it('an immediate stays pending while a CUDA device-array call is in flight, none after it settles', async function () {
    loopAwake.setSpinMsForTesting(60000);
    await turns(2);
    const before = pendingImmediates();
    const p = run(deviceJob());
    assert.strictEqual(pendingImmediates(), before + 1, 'the chain starts with the call');
    await turns(5);
    assert.strictEqual(pendingImmediates(), before + 1, 'the chain goes on while the call is in flight');
    settle.resolve();
    await p;
    await turns(3);
    assert.strictEqual(pendingImmediates(), before, 'the chain ends with the call');
  });

  it('a rejected call ends the chain too, and its error still reaches the caller', async function () {
    loopAwake.setSpinMsForTesting(60000);
    await turns(2);
    const before = pendingImmediates();
    const p = run(deviceJob());
    await turns(2);
    settle.reject(Object.assign(new Error('device lost'), { code: 'ERR_SSIM_CUDA' }));
    await assert.rejects(p, (e) => e.code === 'ERR_SSIM_CUDA');
    await turns(3);
    assert.strictEqual(pendingImmediates(), before);
  });

  it('a call still in flight after 5 ms no longer keeps the loop polling', async function () {
    await turns(2);
    const before = pendingImmediates();
    const p = run(deviceJob());
    await sleep(30);
    assert.strictEqual(pendingImmediates(), before, 'the chain ended at its deadline');
    settle.resolve();
    await p;
  });

  it('CPU calls and host-array CUDA calls do not start the chain', async function () {
    for (const job of [{ backend: 'cpu', x: new Float32Array(4) }, { backend: 'cuda', x: new Float32Array(4) }]) {
      await turns(2);
      const before = pendingImmediates();
      const p = run(job);
      assert.strictEqual(pendingImmediates(), before, `${job.backend} ${job.x.constructor.name}`);
      settle.resolve();
      await p;
    }
  });
});
