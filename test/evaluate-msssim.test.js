'use strict';
// evaluate({ metric: 'msssim' }) and `cuda-ssim --metric msssim`: values equal to msssim() on the
// decoded images, the metric named in every result, the summary, the CSV, the text and the report.

const assert = require('assert');
const fs = require('fs');
const path = require('path');
const pkg = require('./helpers/pkg');
const files = require('./helpers/imagefiles');
const { evaluateModule, collect } = require('./helpers/evaluate');

const { cli } = require('./helpers/cli');

describe('evaluate and the CLI with metric msssim', function () {
  let dir;
  let fx;
  files.useFolders('msssim', { n: 4, width: 72, height: 56 }, (made) => ({ dir, fx } = made));

  it('evaluate({ metric }) computes MS-SSIM (= msssim() of the decoded pair), names the metric in results and summary', async function () {
    const { evaluate } = evaluateModule();
    const api = pkg.api();
    const ref = path.join(fx.ref, 'img1.png');
    const test = path.join(fx.test, 'img1.webp');
    const ev = evaluate([[ref, test]], { backend: 'cpu', metric: 'msssim' });
    const [r] = await collect(ev);
    const summary = await ev.summary();
    assert.strictEqual(r.status, 'ok', JSON.stringify(r));
    assert.strictEqual(r.metric, 'msssim');
    assert.strictEqual(summary.metric, 'msssim');
    const [s] = await collect(evaluate([[ref, test]], { backend: 'cpu' }));
    assert.strictEqual(s.metric, 'ssim');
    assert.notStrictEqual(r.ssim, s.ssim, 'MS-SSIM differs from SSIM');
    // the same value as the API on the decoded images
    const { decodeFile } = require(path.join(pkg.root, 'dist', 'evaluate', 'decode.js'));
    const a = await decodeFile(ref, 'rgb');
    const b = await decodeFile(test, 'rgb');
    const v = api.msssim({ data: b.data, width: b.width, height: b.height, channels: b.channels },
      { data: a.data, width: a.width, height: a.height, channels: a.channels }, { backend: 'cpu' });
    assert.strictEqual(r.ssim, v);
    assert.strictEqual(r.dssim, 1 - v);
  });

  it("a bad metric is ERR_SSIM_OPTION naming options.metric; 'valid' padding on too small images fails the pairs (ERR_SSIM_TOO_SMALL)", async function () {
    const { evaluate } = evaluateModule();
    assert.throws(() => evaluate([[fx.ref, fx.test]], { metric: 'psnr' }), (e) => e.code === 'ERR_SSIM_OPTION' && /options\.metric/.test(e.message));
    const rows = await collect(evaluate({ reference: fx.ref, test: fx.test }, { backend: 'cpu', metric: 'msssim', padding: 'valid' }));
    const computed = rows.filter((r) => r.status === 'ok' || r.error.code === 'compute');
    assert.ok(computed.length >= 4, `${computed.length} pairs reached the computation`);
    for (const r of rows) assert.strictEqual(r.metric, 'msssim');
    for (const r of computed) {
      assert.strictEqual(r.status, 'error');
      assert.match(r.error.reason, /ERR_SSIM_TOO_SMALL.*161 x 161/);
    }
  });

  it('cuda-ssim --metric msssim: JSON, CSV, text and report name the metric', function () {
    const ref = path.join(fx.ref, 'img1.png');
    const test = path.join(fx.test, 'img1.webp');
    let r = cli([ref, test, '--metric', 'msssim', '--json']);
    assert.strictEqual(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.strictEqual(j.metric, 'msssim');
    r = cli(['compare', fx.ref, fx.test, '--metric', 'msssim', '--json']);
    const doc = JSON.parse(r.stdout);
    assert.strictEqual(doc.summary.metric, 'msssim');
    assert.ok(doc.results.every((x) => x.metric === 'msssim'));
    r = cli(['compare', fx.ref, fx.test, '--metric', 'msssim', '--csv']);
    const lines = r.stdout.trim().split('\n');
    assert.strictEqual(lines[0].split(',')[4], 'metric');
    assert.ok(lines.slice(1).every((l) => l.split(',')[4] === 'msssim'));
    const html = path.join(dir, 'report.html');
    r = cli(['compare', fx.ref, fx.test, '--metric', 'msssim', '--report', html]);
    assert.strictEqual(r.code, 0, r.stderr);
    assert.match(r.stdout, /^MS-SSIM mean /m);
    const text = fs.readFileSync(html, 'utf8');
    assert.match(text, /<tr><th>metric<\/th><td>MS-SSIM<\/td><\/tr>/);
    assert.match(text, /Histogram of MS-SSIM/);
    r = cli([ref, test, '--metric', 'ms-ssim']);
    assert.strictEqual(r.code, 2);
    assert.match(r.stderr, /--metric expects one of ssim, msssim/);
  });
});
