'use strict';
// The `cuda-ssim` command decodes on every core: bin/cuda-ssim.js sizes libuv's thread pool
// (UV_THREADPOOL_SIZE = cores + 2, at least 4, at most 128) before anything can start it, so
// sharp's decodes and the addon's promise calls get that many threads, not libuv's default 4.
// The child (test/helpers/threadpool-probe.js) measures the pool it got with FIFO reads.

const assert = require('assert');
const path = require('path');
const { spawnSync } = require('child_process');

const PROBE = path.join(__dirname, 'helpers', 'threadpool-probe.js');

function probe(cores, env = {}) {
  const base = { ...process.env, CUDA_SSIM_BACKEND: 'cpu' };
  delete base.UV_THREADPOOL_SIZE;
  const r = spawnSync(process.execPath, [PROBE], { encoding: 'utf8', env: { ...base, PROBE_CORES: String(cores), ...env }, timeout: 60000 });
  const line = (r.stdout || '').split('\n').find((l) => l.startsWith('RESULT '));
  assert.ok(line, `probe printed no RESULT (status ${r.status}, signal ${r.signal}): ${r.stderr}`);
  return JSON.parse(line.slice(7));
}

describe('cli: libuv thread pool of the cuda-ssim command', function () {
  before(function () {
    if (process.platform === 'win32') this.skip();  // the probe blocks threads on FIFOs
  });

  for (const cores of [14, 61]) {
    it(`${cores} cores: the pool the process really gets has cores + 2 threads`, function () {
      const r = probe(cores);
      assert.strictEqual(r.exited, 0, 'cuda-ssim --version exits 0');
      assert.strictEqual(r.env, String(cores + 2));
      assert.strictEqual(r.freeWithSizeMinusOneBlocked, true, `a thread is left with ${cores + 1} blocked`);
      assert.strictEqual(r.freeWithSizeBlocked, false, `the pool is not larger than ${cores + 2}`);
    });
  }

  it('a UV_THREADPOOL_SIZE set by the user is kept', function () {
    const r = probe(14, { UV_THREADPOOL_SIZE: '5' });
    assert.strictEqual(r.env, '5');
    assert.strictEqual(r.freeWithSizeMinusOneBlocked, true);
    assert.strictEqual(r.freeWithSizeBlocked, false);
  });
});
