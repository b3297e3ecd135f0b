'use strict';
// The HTML report of `cuda-ssim compare --report`, rendered in headless Chromium (Debian
// `chromium` driven by playwright-core): the histogram has bars, every image (reference, test,
// heat map) decodes, and the screenshot is not blank. Skipped (visibly) where chromium is missing;
// .ci/run installs it. The screenshot is kept under the OS temp folder (path printed).

const assert = require('assert');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawnSync } = require('child_process');
const pkg = require('./helpers/pkg');
const { testRng } = require('./helpers/random');
const files = require('./helpers/imagefiles');

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const haveChromium = fs.existsSync(CHROMIUM);

describe(`report: the HTML report in headless Chromium${haveChromium ? '' : ` (skipped: no ${CHROMIUM}; apt-get install chromium)`}`, function () {
  let dir;
  before(function () {
    if (!haveChromium) this.skip();
    dir = files.tmpDir('report');
  });
  after(function () {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('renders the summary, a histogram with bars, and reference / test / heat map of the worst pairs', async function () {
    this.timeout(120000);
    const fx = await files.makeFolders(testRng(this), path.join(dir, 'data'), { n: 6, width: 96, height: 64 });
    const report = path.join(dir, 'report.html');
    const r = spawnSync(process.execPath, [path.join(pkg.root, 'bin', 'cuda-ssim.js'), 'compare', fx.ref, fx.test, '--report', report, '--worst', '4', '-q'], {
      encoding: 'utf8', env: { ...process.env, CUDA_SSIM_BACKEND: 'cpu' },
    });
    assert.strictEqual(r.status, 0, r.stderr);
    const html = fs.readFileSync(report, 'utf8');
    assert.ok(!/src="(?!data:)/.test(html), 'self-contained: images are data URIs');
    const { chromium } = require('playwright-core');
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      await page.goto(`file://${report}`);
      await page.waitForLoadState('load');
      const info = await page.evaluate(() => {
        const svg = document.querySelector('#histogram').getBoundingClientRect();
        const bars = [...document.querySelectorAll('#histogram rect.bar')].map((b) => b.getBoundingClientRect().height);
        const imgs = [...document.querySelectorAll('img.thumb')].map((i) => ({ complete: i.complete, w: i.naturalWidth, h: i.naturalHeight, shown: i.getBoundingClientRect().width }));
        return { svg: { w: svg.width, h: svg.height }, bars, imgs, rows: document.querySelectorAll('tr.worst').length, failures: document.querySelectorAll('#failures tr').length };
      });
      assert.ok(info.svg.w > 300 && info.svg.h > 100, `histogram box ${JSON.stringify(info.svg)}`);
      assert.strictEqual(info.bars.filter((h) => h > 0).reduce((a) => a + 1, 0) >= 1, true, `bars ${info.bars}`);
      assert.strictEqual(info.rows, 4, 'four worst pairs');
      assert.strictEqual(info.imgs.length, 12, 'reference, test and heat map for each');
      for (const im of info.imgs) assert.ok(im.complete && im.w > 0 && im.h > 0 && im.shown > 0, `image ${JSON.stringify(im)}`);
      assert.strictEqual(info.failures, 1 + 4, 'the failures table lists the 4 bad pairs');
      const outDir = path.join(os.tmpdir(), 'cuda-ssim-test-output');
      fs.mkdirSync(outDir, { recursive: true });
      const shot = path.join(outDir, 'report.png');
      await page.screenshot({ path: shot, fullPage: true });
      console.log(`      screenshot: ${shot}`);
      // not blank: the histogram's region has its bar colour, the page has contrast
      const stats = await files.sharp()(shot).stats();
      assert.ok(stats.channels.some((c) => c.stdev > 10), 'screenshot has content');
      const hist = await page.locator('#histogram').screenshot();
      const { data, info: meta } = await files.sharp()(hist).raw().toBuffer({ resolveWithObject: true });
      let barPixels = 0;
      for (let i = 0; i < data.length; i += meta.channels) if (Math.abs(data[i] - 0x3b) < 12 && Math.abs(data[i + 1] - 0x52) < 12 && Math.abs(data[i + 2] - 0x8b) < 12) barPixels++;
      assert.ok(barPixels > 100, `bar-coloured pixels in the histogram: ${barPixels}`);
    } finally {
      await browser.close();
    }
  });
});
