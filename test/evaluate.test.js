'use strict';
// cuda-ssim/evaluate: decoded values (PNG 8/16-bit, WebP, TIFF, grey, alpha, luma) give exactly
// the core API's SSIM of the raw pixels; folder matching with a corrupt file, a size mismatch and
// missing counterparts reported per pair while the run goes on; the summary's statistics; shards
// merged equal one run; worker lanes; maps; option errors.

const assert = require('assert');
const fs = require('fs');
const path = require('path');
const pkg = require('./helpers/pkg');
const { testRng } = require('./helpers/random');
const { expectThrow } = require('./helpers/check');
const files = require('./helpers/imagefiles');
const { evaluateModule, evaluateInternal, collect } = require('./helpers/evaluate');
const ref = require('./reference');
const { valueTol } = require('./helpers/cases');


const CPU = { backend: 'cpu' };

describe('evaluate: batch evaluation of image files', function () {
  let dir;
  before(function () {
    dir = files.tmpDir('evaluate');
  });
  after(function () {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('decoded values are the files\' pixels: 8-bit, 16-bit, grey, alpha, WebP, TIFF; luma as MATLAB rgb2gray', async function () {
    const rng = testRng(this);
    const api = pkg.api();
    const { evaluate } = evaluateModule();
    const W = 37;
    const H = 29;
    const shape = { width: W, height: H, channels: 3 };
    const y8 = files.pattern(rng, W, H, 3, 255);
    const x8 = files.distort(rng, y8, 0.2, 255);
    const y16 = files.pattern(rng, W, H, 3, 65535);
    const x16 = files.distort(rng, y16, 0.2, 65535);
    const g = files.pattern(rng, W, H, 1, 255);
    const gx = files.distort(rng, g, 0.3, 255);
    const rgba = new Uint8Array(W * H * 4);
    for (let i = 0; i < W * H; i++) { rgba.set(x8.subarray(3 * i, 3 * i + 3), 4 * i); rgba[4 * i + 3] = (i * 37) % 256; }
    const d = path.join(dir, 'known');
    await files.writeImage(path.join(d, 'y8.png'), y8, W, H, 3);
    await files.writeImage(path.join(d, 'x8.webp'), x8, W, H, 3);
    await files.writeImage(path.join(d, 'x8.tiff'), x8, W, H, 3);
    await files.writeImage(path.join(d, 'x8a.png'), rgba, W, H, 4);
    await files.writeImage(path.join(d, 'y16.png'), y16, W, H, 3);
    await files.writeImage(path.join(d, 'x16.png'), x16, W, H, 3);
    await files.writeImage(path.join(d, 'g.png'), g, W, H, 1);
    await files.writeImage(path.join(d, 'gx.png'), gx, W, H, 1);
    const f = (n) => path.join(d, n);
    const results = await collect(evaluate([
      { reference: f('y8.png'), test: f('x8.webp'), id: 'webp' },
      { reference: f('y8.png'), test: f('x8.tiff'), id: 'tiff' },
      { reference: f('y8.png'), test: f('x8a.png'), id: 'alpha' },
      { reference: f('y16.png'), test: f('x16.png'), id: 'sixteen' },
      [f('g.png'), f('gx.png')],
      { reference: f('y16.png'), test: f('x8.webp'), id: 'mixed' },
    ], CPU));
    const byId = new Map(results.map((r) => [r.id, r]));
    const expect8 = api.ssim({ ...shape, data: x8 }, { ...shape, data: y8 }, CPU);
    for (const id of ['webp', 'tiff', 'alpha']) {
      assert.strictEqual(byId.get(id).status, 'ok', JSON.stringify(byId.get(id)));
      assert.strictEqual(byId.get(id).ssim, expect8, `${id}: SSIM of the decoded pixels`);
      assert.strictEqual(byId.get(id).dssim, 1 - expect8);
    }
    assert.strictEqual(byId.get('sixteen').ssim, api.ssim({ ...shape, data: x16 }, { ...shape, data: y16 }, CPU), '16-bit PNG decodes to Uint16 values');
    assert.notStrictEqual(byId.get('sixteen').ssim, api.ssim({ ...shape, data: Uint8Array.from(x16, (v) => v >> 8) }, { ...shape, data: Uint8Array.from(y16, (v) => v >> 8) }, CPU));
    // grey images are compared as R = G = B: the same value as one channel
    const grey = byId.get(f('gx.png'));
    assert.ok(Math.abs(grey.ssim - api.ssim({ width: W, height: H, data: gx }, { width: W, height: H, data: g }, CPU)) <= 1e-7);
    // 8-bit against 16-bit: the 8-bit image widened (v * 257), same intensities
    assert.strictEqual(byId.get('mixed').ssim, api.ssim({ ...shape, data: Uint16Array.from(x8, (v) => v * 257) }, { ...shape, data: y16 }, CPU));
    // luma
    const lumaResults = await collect(evaluate([{ reference: f('y8.png'), test: f('x8.webp') }, { reference: f('y16.png'), test: f('x16.png') }], { ...CPU, color: 'luma' }));
    const lumaOf = (r) => lumaResults.find((q) => q.test === r).ssim;
    assert.strictEqual(lumaOf(f('x8.webp')), api.ssim({ width: W, height: H, data: files.luma(x8) }, { width: W, height: H, data: files.luma(y8) }, CPU));
    assert.strictEqual(lumaOf(f('x16.png')), api.ssim({ width: W, height: H, data: files.luma(x16) }, { width: W, height: H, data: files.luma(y16) }, CPU));
  });

  it('folders: matched by relative path, any extension; corrupt / size mismatch / missing counterparts are per-pair errors; summary', async function () {
    const rng = testRng(this);
    const api = pkg.api();
    const { evaluate } = evaluateModule();
    const { quantile } = evaluateInternal('summary');
    const fx = await files.makeFolders(rng, path.join(dir, 'folders'), { n: 7 });
    const e = evaluate({ reference: fx.ref, test: fx.test }, { ...CPU, batchSize: 3 });
    const listed = await e.pairs();
    assert.deepStrictEqual(listed.map((p) => p.id), [...listed.map((p) => p.id)].sort(), 'pairs sorted by id');
    const results = await collect(e);
    const summary = await e.summary();
    assert.strictEqual(results.length, 7 + 4);
    const values = [];
    for (const [id, t] of fx.good) {
      const r = results.find((q) => q.id === id);
      assert.ok(r && r.status === 'ok', `${id}: ${JSON.stringify(r)}`);
      const shape = { width: t.width, height: t.height, channels: 3 };
      assert.strictEqual(r.ssim, api.ssim({ ...shape, data: t.x }, { ...shape, data: t.y }, CPU), `${id}`);
      assert.strictEqual(r.width, t.width);
      assert.ok(r.reference.endsWith(`${id}.png`) && fs.existsSync(r.test));
      values.push(r.ssim);
    }
    for (const [id, code] of Object.entries(fx.bad)) {
      const r = results.find((q) => q.id === id);
      assert.ok(r, `${id} reported`);
      assert.strictEqual(r.status, 'error');
      assert.strictEqual(r.error.code, code, `${id}: ${JSON.stringify(r.error)}`);
      assert.ok(typeof r.error.file === 'string' && r.error.reason.includes(path.basename(r.error.file)), `${id}: the file is named: ${r.error.reason}`);
      assert.strictEqual(r.ssim, null);
    }
    values.sort((a, b) => a - b);
    assert.strictEqual(summary.count, 7);
    assert.strictEqual(summary.failures, 4);
    assert.strictEqual(summary.total, 11);
    assert.strictEqual(summary.min, values[0]);
    assert.strictEqual(summary.max, values[6]);
    assert.strictEqual(summary.median, values[3]);
    assert.ok(Math.abs(summary.p5 - (values[0] + 0.3 * (values[1] - values[0]))) < 1e-12, `p5 ${summary.p5}`);
    assert.ok(Math.abs(summary.mean - values.reduce((a, b) => a + b) / 7) < 1e-12);
    assert.strictEqual(summary.worst[0].ssim, values[0]);
    assert.strictEqual(summary.interrupted, false);
    assert.strictEqual(quantile([1, 2, 3, 4], 0.5), 2.5);
  });

  it('shards: every pair in exactly one shard, and merge(shards) equals one unsharded run; worker lanes give the same values', async function () {
    const rng = testRng(this);
    const { evaluate, merge } = evaluateModule();
    const { jsonLine } = evaluateInternal('merge');
    const { inShard } = evaluateInternal('pairs');
    const fx = await files.makeFolders(rng, path.join(dir, 'shards'), { n: 9, width: 24, height: 20 });
    const whole = merge([await collect(evaluate({ reference: fx.ref, test: fx.test }, CPU))]);
    const count = 3;
    const shardFiles = [];
    const seen = [];
    for (let index = 0; index < count; index++) {
      const rows = await collect(evaluate({ reference: fx.ref, test: fx.test }, { ...CPU, shard: { index, count } }));
      for (const r of rows) assert.ok(inShard(r.id, { index, count }));
      seen.push(...rows.map((r) => r.id));
      const file = path.join(dir, `shard-${index}.jsonl`);
      fs.writeFileSync(file, rows.map(jsonLine).join(''));
      shardFiles.push(file);
    }
    assert.deepStrictEqual(seen.sort(), whole.results.map((r) => r.id).sort(), 'each pair in one shard');
    const merged = merge(shardFiles);
    assert.deepStrictEqual(merged.results, whole.results);
    assert.deepStrictEqual(merged.summary, whole.summary);
    // two CPU worker threads (the devices code path, without GPUs)
    const workers = merge([await collect(evaluate({ reference: fx.ref, test: fx.test }, { ...CPU, devices: [0, 1], batchSize: 2 }))]);
    assert.deepStrictEqual(workers.results, whole.results);
  });

  it('maps: each result carries its SSIM map, whose mean is the SSIM; skip leaves pairs out', async function () {
    const rng = testRng(this);
    const { evaluate } = evaluateModule();
    const fx = await files.makeFolders(rng, path.join(dir, 'maps'), { n: 3, width: 30, height: 22 });
    const results = await collect(evaluate({ reference: fx.ref, test: fx.test }, { ...CPU, maps: true, padding: 'valid', windowSize: 7, skip: ['img0', 'bad/corrupt'] }));
    assert.ok(!results.some((r) => r.id === 'img0' || r.id === 'bad/corrupt'), 'skipped ids are left out');
    const ok = results.filter((r) => r.status === 'ok');
    assert.strictEqual(ok.length, 2);
    for (const r of ok) {
      assert.strictEqual(r.map.width, 24);
      assert.strictEqual(r.map.height, 16);
      let mean = 0;
      for (const v of r.map.data) mean += v / r.map.data.length;
      assert.ok(Math.abs(mean - r.ssim) < 2e-6, `${r.id}: map mean ${mean} vs ${r.ssim}`);
    }
  });

  it('a non-finite SSIM (NaN, Infinity) is a failed pair (non-finite), counted alike by the run summary and merge', async function () {
    const rng = testRng(this);
    const api = pkg.api();
    const { evaluate, merge } = evaluateModule();
    const { jsonLine } = evaluateInternal('merge');
    const { install } = require('./helpers/nonfinite-lane');
    // widths 24 (kept), 25 (NaN), 27 (Infinity): see helpers/nonfinite-lane.js
    const d = path.join(dir, 'nonfinite');
    const want = new Map();
    for (const [k, width] of [['a0', 24], ['a1', 24], ['a2', 24], ['n0', 25], ['n1', 25], ['i0', 27]]) {
      const y = files.pattern(rng, width, 20, 3, 255);
      const x = files.distort(rng, y, 0.2, 255);
      await files.writeImage(path.join(d, 'ref', `${k}.png`), y, width, 20, 3);
      await files.writeImage(path.join(d, 'test', `${k}.png`), x, width, 20, 3);
      want.set(k, api.ssim({ width, height: 20, channels: 3, data: x }, { width, height: 20, channels: 3, data: y }, CPU));
    }
    const restore = install();
    let results;
    let summary;
    try {
      const e = evaluate({ reference: path.join(d, 'ref'), test: path.join(d, 'test') }, { ...CPU, batchSize: 2 });
      results = await collect(e);
      summary = await e.summary();
    } finally {
      restore();
    }
    assert.strictEqual(results.length, 6);
    for (const r of results) {
      if (r.id.startsWith('a')) {
        assert.strictEqual(r.status, 'ok', JSON.stringify(r));
        assert.strictEqual(r.ssim, want.get(r.id));
      } else {
        assert.strictEqual(r.status, 'error', `${r.id}: ${JSON.stringify(r)}`);
        assert.strictEqual(r.error.code, 'non-finite');
        assert.strictEqual(r.error.file, path.join(d, 'test', `${r.id}.png`));
        assert.match(r.error.reason, r.id.startsWith('n') ? /NaN/ : /Infinity/);
        assert.strictEqual(r.ssim, null);
        assert.strictEqual(r.dssim, null);
      }
    }
    assert.strictEqual(summary.count, 3);
    assert.strictEqual(summary.failures, 3);
    assert.strictEqual(summary.total, 6);
    const ok = [...want].filter(([k]) => k.startsWith('a')).map(([, v]) => v).sort((a, b) => a - b);
    assert.strictEqual(summary.min, ok[0]);
    assert.strictEqual(summary.max, ok[2]);
    assert.ok(Math.abs(summary.mean - (ok[0] + ok[1] + ok[2]) / 3) < 1e-12);
    // the run's summary equals merge() of its own JSONL rows
    const file = path.join(d, 'rows.jsonl');
    fs.writeFileSync(file, results.map(jsonLine).join(''));
    assert.deepStrictEqual(merge([file]).summary, summary);
    // rows written by an older version ("ok" with a null or missing SSIM) are failures for merge too
    const legacy = merge([[
      { id: 'x', reference: 'r.png', test: 'x.png', status: 'ok', ssim: null, dssim: null, width: 4, height: 4 },
      { id: 'y', reference: 'r.png', test: 'y.png', status: 'ok', ssim: 0.5, dssim: 0.5, width: 4, height: 4 },
      { id: 'z', reference: 'r.png', test: 'z.png', status: 'ok' },
    ]]);
    assert.deepStrictEqual([legacy.summary.count, legacy.summary.failures, legacy.summary.mean], [1, 2, 0.5]);
    assert.deepStrictEqual(legacy.results.map((r) => [r.id, r.status, r.error && r.error.code]), [['x', 'error', 'non-finite'], ['y', 'ok', undefined], ['z', 'error', 'non-finite']]);
    // an option that gives NaN on the kernel is either refused up front or a non-finite pair, never "ok"
    let rows = null;
    try {
      rows = await collect(evaluate({ reference: path.join(d, 'ref'), test: path.join(d, 'test') }, { ...CPU, sigma: 1e-170 }));
    } catch (err) {
      assert.strictEqual(err.code, 'ERR_SSIM_OPTION', String(err));
    }
    if (rows) {
      assert.strictEqual(rows.length, 6);
      for (const r of rows) assert.ok(r.status === 'error' ? r.error.code === 'non-finite' : Number.isFinite(r.ssim), JSON.stringify(r));
    }
  });

  it('only regular files are read: a link to /dev/zero, a FIFO (linked or in the folder) fail their pairs (not-a-file) at once; maxFileSize (too-large)', async function () {
    if (process.platform === 'win32') this.skip(); // no FIFOs, no /dev/zero
    const rng = testRng(this);
    const api = pkg.api();
    const { evaluate, readImageFile, DEFAULT_MAX_FILE_SIZE } = evaluateModule();
    const fx = await files.makeSpecialFolders(rng, path.join(dir, 'special'));
    const rssBefore = process.memoryUsage().rss;
    const check = (results, bigCode) => {
      assert.strictEqual(results.length, 6);
      const byId = new Map(results.map((r) => [r.id, r]));
      for (const [id, t] of fx.good) {
        const r = byId.get(id);
        if (id === 'big' && bigCode) {
          assert.deepStrictEqual([r.status, r.error.code, r.error.file], ['error', bigCode, path.join(fx.test, 'big.png')], JSON.stringify(r));
          assert.ok(r.error.reason.includes(`${fx.bigSize} bytes`) && r.error.reason.includes(String(fx.smallMax)), r.error.reason);
          continue;
        }
        const shape = { width: t.width, height: t.height, channels: 3 };
        assert.strictEqual(r.status, 'ok', JSON.stringify(r));
        assert.strictEqual(r.ssim, api.ssim({ ...shape, data: t.x }, { ...shape, data: t.y }, CPU));
      }
      for (const [id, [code, file]] of Object.entries(fx.bad)) {
        const r = byId.get(id);
        assert.deepStrictEqual([r.status, r.ssim, r.error.code, r.error.file], ['error', null, code, file], JSON.stringify(r));
      }
      assert.match(byId.get('zero').error.reason, /character device/);
      assert.match(byId.get('fifo').error.reason, /FIFO/);
      assert.match(byId.get('rawfifo').error.reason, /FIFO/);
    };
    const spec = { reference: fx.ref, test: fx.test };
    check(await files.within(collect(evaluate(spec, CPU)), 30000, 'evaluate() of a folder with special files'), null);
    const e = evaluate(spec, { ...CPU, maxFileSize: fx.smallMax });
    check(await files.within(collect(e), 30000, 'evaluate() with maxFileSize'), 'too-large');
    assert.deepStrictEqual([(await e.summary()).count, (await e.summary()).failures], [2, 4]);
    assert.ok(process.memoryUsage().rss - rssBefore < 200 * 1024 * 1024, 'no unbounded read');
    // the reader alone
    await assert.rejects(files.within(readImageFile(path.join(fx.test, 'fifo.png')), 5000, 'readImageFile(FIFO)'), (err) => err.pairError.code === 'not-a-file');
    await assert.rejects(readImageFile(path.join(fx.test, 'big.png'), fx.bigSize - 1), (err) => err.pairError.code === 'too-large');
    assert.strictEqual((await readImageFile(path.join(fx.test, 'big.png'), fx.bigSize)).length, fx.bigSize);
    await assert.rejects(readImageFile(fx.test), (err) => err.pairError.code === 'not-a-file' && /directory/.test(err.message));
    await assert.rejects(readImageFile(path.join(fx.test, 'none.png')), (err) => err.pairError.code === 'unreadable' && /ENOENT/.test(err.message));
    assert.strictEqual(DEFAULT_MAX_FILE_SIZE, 512 * 1024 * 1024);
    expectThrow(() => evaluate([], { maxFileSize: 0 }), { code: 'ERR_SSIM_OPTION', message: /maxFileSize/ });
    expectThrow(() => evaluate([], { maxFileSize: 1.5 }), { code: 'ERR_SSIM_OPTION', message: /maxFileSize/ });
    expectThrow(() => evaluate([], { maxFileSize: '1M' }), { code: 'ERR_SSIM_OPTION', message: /maxFileSize/ });
  });

  it('a subfolder that cannot be listed is a failed entry (unreadable) and the run goes on; its counterparts are unreadable, not missing', async function () {
    if (process.platform !== 'linux') this.skip(); // PATH_MAX of 4096
    const rng = testRng(this);
    const api = pkg.api();
    const { evaluate, merge } = evaluateModule();
    const fx = await files.makeDeepFolders(rng, path.join(dir, 'deep'));
    try {
      const e = evaluate({ reference: fx.ref, test: fx.test }, CPU);
      const listed = await e.pairs();
      const results = await collect(e);
      const summary = await e.summary();
      assert.deepStrictEqual(listed.map((p) => p.id), [`${fx.deep}/`, `${fx.deep}/img`, 'good0', 'good1']);
      assert.strictEqual(results.length, 4);
      const byId = new Map(results.map((r) => [r.id, r]));
      for (const [id, t] of fx.good) {
        const shape = { width: t.width, height: t.height, channels: 3 };
        assert.strictEqual(byId.get(id).ssim, api.ssim({ ...shape, data: t.x }, { ...shape, data: t.y }, CPU));
      }
      const folder = byId.get(`${fx.deep}/`);
      assert.deepStrictEqual([folder.status, folder.ssim, folder.error.code, folder.error.file], ['error', null, 'unreadable', fx.refDeep]);
      assert.deepStrictEqual([folder.reference, folder.test], [fx.refDeep, path.join(fx.test, fx.deep)]);
      assert.match(folder.error.reason, /ENAMETOOLONG/);
      const img = byId.get(`${fx.deep}/img`);
      assert.deepStrictEqual([img.status, img.error.code, img.error.file, img.reference, img.test],
        ['error', 'unreadable', fx.refDeep, null, path.join(fx.test, fx.deep, 'img.png')]);
      assert.match(img.error.reason, /ENAMETOOLONG/);
      assert.deepStrictEqual([summary.count, summary.failures, summary.total, summary.interrupted], [2, 2, 4, false]);
      assert.deepStrictEqual(merge([results]).summary, summary);
    } finally {
      fx.cleanup();
    }
  });

  it('a folder without read permission is reported the same way (not as root: root reads it anyway)', async function () {
    if (process.platform === 'win32' || process.getuid() === 0) this.skip();
    const rng = testRng(this);
    const { evaluate } = evaluateModule();
    const fx = await files.makeFolders(rng, path.join(dir, 'locked'), { n: 3 });
    const locked = path.join(fx.test, 'sub');
    fs.chmodSync(locked, 0);
    try {
      const results = await collect(evaluate({ reference: fx.ref, test: fx.test }, CPU));
      const folder = results.find((r) => r.id === 'sub/');
      assert.deepStrictEqual([folder.status, folder.error.code, folder.error.file], ['error', 'unreadable', locked]);
      assert.match(folder.error.reason, /EACCES/);
      assert.deepStrictEqual(results.find((r) => r.id === 'sub/img2').error.code, 'unreadable');
      assert.strictEqual(results.filter((r) => r.status === 'ok').length, 2);
    } finally {
      fs.chmodSync(locked, 0o755);
    }
  });

  it('signal: an abort at any point marks the summary interrupted; rows finished before it are kept', async function () {
    const rng = testRng(this);
    const { evaluate } = evaluateModule();
    const fx = await files.makeFolders(rng, path.join(dir, 'abort'), { n: 6, width: 64, height: 48 });
    const spec = { reference: fx.ref, test: fx.test };
    const all = (await collect(evaluate(spec, CPU))).length;
    assert.strictEqual(all, 10);
    // aborted while every pair is being decoded (the listing resolves the pipeline first, then this
    // test: by then every pair has been started): nothing computed, and it says so
    {
      const ac = new AbortController();
      const e = evaluate(spec, { ...CPU, concurrency: 64, signal: ac.signal });
      const it = e[Symbol.asyncIterator]();
      const first = it.next();
      await e.pairs();
      ac.abort();
      const rows = [];
      for (let r = await first; !r.done; r = await it.next()) rows.push(r.value);
      const s = await e.summary();
      assert.strictEqual(s.interrupted, true, `interrupted with ${rows.length} of ${all} rows`);
      assert.ok(rows.length < all, `${rows.length} rows`);
      assert.strictEqual(s.total, rows.length);
    }
    // aborted before it starts
    {
      const ac = new AbortController();
      ac.abort();
      const e = evaluate(spec, { ...CPU, signal: ac.signal });
      const rows = await collect(e);
      assert.deepStrictEqual([rows.length, (await e.summary()).interrupted, (await e.summary()).total], [0, true, 0]);
    }
    // aborted after the third row: the rows so far are kept, and the summary counts exactly them
    {
      const ac = new AbortController();
      const e = evaluate(spec, { ...CPU, concurrency: 1, batchSize: 1, signal: ac.signal });
      const rows = [];
      for await (const r of e) {
        rows.push(r);
        if (rows.length === 3) ac.abort();
      }
      const s = await e.summary();
      assert.strictEqual(s.interrupted, true);
      assert.ok(rows.length >= 3 && rows.length < all, `${rows.length} rows`);
      assert.strictEqual(s.total, rows.length);
    }
    // summary() without iterating, aborted once the pairs are listed
    {
      const ac = new AbortController();
      const e = evaluate(spec, { ...CPU, signal: ac.signal });
      const s = e.summary();
      await e.pairs();
      ac.abort();
      assert.strictEqual((await s).interrupted, true);
    }
  });

  it('cuda-ssim/evaluate exports the documented names only (docs/API.md, README)', function () {
    assert.deepStrictEqual(Object.keys(evaluateModule()).sort(), [
      'DEFAULT_MAX_FILE_SIZE', 'decodeFile', 'evaluate', 'heatmapPng', 'isEvaluated', 'merge', 'readImageFile', 'readJsonl', 'summarize',
    ]);
  });

  it('options and inputs are checked at once (codes as the core API)', function () {
    const { evaluate } = evaluateModule();
    expectThrow(() => evaluate([], { color: 'cmyk' }), { code: 'ERR_SSIM_OPTION', message: /color/ });
    expectThrow(() => evaluate([], { windowSize: 8 }), { code: 'ERR_SSIM_OPTION', message: /windowSize/ });
    expectThrow(() => evaluate([], { shard: { index: 3, count: 3 } }), { code: 'ERR_SSIM_OPTION', message: /shard/ });
    expectThrow(() => evaluate([], { devices: 'some' }), { code: 'ERR_SSIM_OPTION', message: /devices/ });
    expectThrow(() => evaluate({ reference: path.join(dir, 'nope'), test: dir }), { code: 'ERR_SSIM_INVALID_ARGUMENT', message: /nope/ });
    expectThrow(() => evaluate([{ reference: 1, test: 'b' }]), { code: 'ERR_SSIM_INVALID_ARGUMENT', message: /pairs\[0\]/ });
    expectThrow(() => evaluate('dir'), { code: 'ERR_SSIM_INVALID_ARGUMENT' });
  });
});

const gpuInfo = pkg.tryBackendInfo();
const gpu = !!(gpuInfo && gpuInfo.cuda && gpuInfo.cuda.available);

describe(`evaluate on CUDA${gpu ? ` (${gpuInfo.cuda.devices.length} GPU${gpuInfo.cuda.devices.length > 1 ? 's' : ''})` : ' (skipped: CUDA not available)'}`, function () {
  let dir;
  before(function () {
    if (gpu) dir = files.tmpDir('evaluate-cuda');
  });
  after(function () {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(function () {
    if (!gpu) this.skip();
  });

  it("the in-process CUDA lane and devices: 'all' (a worker per GPU) give the float64 reference's values, errors as on the CPU", async function () {
    const rng = testRng(this);
    const { evaluate } = evaluateModule();
    const fx = await files.makeFolders(rng, path.join(dir, 'folders'), { n: 9, width: 41, height: 33 });
    const byId = (rows) => new Map(rows.map((r) => [r.id, r]));
    const local = byId(await collect(evaluate({ reference: fx.ref, test: fx.test }, { backend: 'cuda', maps: true })));
    const all = byId(await collect(evaluate({ reference: fx.ref, test: fx.test }, { backend: 'cuda', devices: 'all', batchSize: 2, maps: true })));
    assert.strictEqual(local.size, 9 + 4);
    assert.strictEqual(all.size, 9 + 4);
    for (const [id, t] of fx.good) {
      const shape = { width: t.width, height: t.height, channels: 3 };
      const x = { ...shape, data: t.x };
      const expected = ref.ssimRef(x, { ...shape, data: t.y })[0];
      for (const [lane, rows] of [['in-process', local], ['devices: all', all]]) {
        const r = rows.get(id);
        assert.ok(r && r.status === 'ok', `${lane} ${id}: ${JSON.stringify(r && r.error)}`);
        assert.ok(Math.abs(r.ssim - expected) <= valueTol(x), `${lane} ${id}: ${r.ssim} vs reference ${expected}`);
        let mean = 0;
        for (const v of r.map.data) mean += v / r.map.data.length;
        assert.ok(Math.abs(mean - r.ssim) <= 2e-6, `${lane} ${id}: map mean ${mean} vs ${r.ssim}`);
      }
    }
    for (const [id, code] of Object.entries(fx.bad)) {
      for (const rows of [local, all]) assert.strictEqual(rows.get(id).error.code, code, id);
    }
  });
});
