'use strict';
// Value-only workspaces (Workspace.for(shape, { gradient: false })): enough for value calls,
// refused by gradient calls, and on CUDA a few hundred bytes that make no per-call device work.

const assert = require('assert');
const pkg = require('./helpers/pkg');
const { testRng } = require('./helpers/random');
const { makeNoisePair } = require('./helpers/images');
const { assertClose, expectThrow, poisoned } = require('./helpers/check');

const info = pkg.tryBackendInfo();
const gpu = !!(info && info.cuda && info.cuda.available);
const backends = () => ['cpu'].concat(gpu ? ['cuda'] : []);

describe('workspace: value-only (gradient: false)', function () {
  it('serves ssim/dssim calls with the same values as without a workspace', function () {
    const rng = testRng(this);
    const api = pkg.api();
    for (const backend of backends()) {
      const spec = { width: rng.int(20, 70), height: rng.int(20, 70), channels: 3, batch: 4 };
      const { x, y } = makeNoisePair(rng, spec);
      const workspace = api.Workspace.for(spec, { gradient: false, backend });
      assert.strictEqual(workspace.gradient, false);
      const out = poisoned(spec.batch);
      api.dssimInto(out, x, y, { workspace, backend });
      assertClose(out, api.dssim(x, y, { backend }), 1.2e-7, `${backend}: value-only workspace`);
      workspace.dispose();
    }
  });

  it('is refused by gradient calls with ERR_SSIM_WORKSPACE', function () {
    const rng = testRng(this);
    const api = pkg.api();
    for (const backend of backends()) {
      const spec = { width: 16, height: 16, channels: 1 };
      const { x, y } = makeNoisePair(rng, spec);
      const workspace = api.Workspace.for(spec, { gradient: false, backend });
      for (const f of ['ssimGradient', 'dssimWithGradient']) {
        expectThrow(() => api[f](x, y, { workspace, backend }), { code: 'ERR_SSIM_WORKSPACE', message: /opts\.workspace.*value-only/ }, `${backend} ${f}`);
      }
      workspace.dispose();
    }
  });

  it('rejects a non-boolean gradient option', function () {
    const api = pkg.api();
    expectThrow(() => api.Workspace.for({ width: 8, height: 8 }, { gradient: 'no', backend: 'cpu' }),
      { code: 'ERR_SSIM_OPTION', type: TypeError, message: /opts\.gradient/ });
  });

  it('CUDA: holds 256 bytes for up to 16 images, and ssimInto with it makes no allocation, memset or copy', function () {
    if (!gpu) this.skip();
    const rng = testRng(this);
    const api = pkg.api();
    const spec = { width: 300, height: 200, channels: 3, batch: 16 };
    const { x, y } = makeNoisePair(rng, spec);
    const dx = { ...x, data: api.DeviceArray.from(x.data) }, dy = { ...y, data: api.DeviceArray.from(y.data) };
    const out = api.DeviceArray.alloc('float32', spec.batch);
    const workspace = api.Workspace.for(spec, { gradient: false });
    assert.strictEqual(workspace.byteLength, 256);
    api.ssimInto(out, dx, dy, { workspace });
    const before = api.deviceCounters();
    for (let i = 0; i < 5; i++) api.ssimInto(out, dx, dy, { workspace });
    const after = api.deviceCounters();
    for (const k of ['allocations', 'memsets', 'copies']) assert.strictEqual(after[k], before[k], `${k} changed`);
    assertClose(out.toHost(), api.ssim(x, y, { backend: 'cpu' }), 2e-6, 'GPU value-only vs CPU');
    [dx.data, dy.data, out, workspace].forEach((a) => a.dispose());
  });
});
