'use strict';
// The `cuda-ssim` command, spawned as a user runs it (bin/cuda-ssim.js): values equal to the
// evaluate API's, the JSON / CSV / JSONL schemas, heat maps, merge, every exit code (0, 1, 2,
// 130), and an interrupted run (SIGINT) resumed with --resume giving the same rows as one run.

const assert = require('assert');
const fs = require('fs');
const path = require('path');
const { spawn, spawnSync } = require('child_process');
const pkg = require('./helpers/pkg');
const { testRng } = require('./helpers/random');
const files = require('./helpers/imagefiles');
const { evaluateModule, evaluateInternal, collect } = require('./helpers/evaluate');

const { BIN, ENV, cli } = require('./helpers/cli');

const RESULT_KEYS = ['id', 'reference', 'test', 'status', 'metric', 'ssim', 'dssim', 'width', 'height'];
// an evaluated row names its convention
const OK_KEYS = [...RESULT_KEYS, 'convention'];


describe('cli: the cuda-ssim command', function () {
  let dir;
  let fx;
  files.useFolders('cli', { n: 6, width: 40, height: 32 }, (made) => ({ dir, fx } = made));

  it('REFERENCE TEST prints the SSIM (= the API value), --dssim 1 - SSIM, --json the result object; exit 0', async function () {
    const { evaluate } = evaluateModule();
    const ref = path.join(fx.ref, 'img1.png');
    const test = path.join(fx.test, 'img1.webp');
    const [api] = await collect(evaluate([[ref, test]], { backend: 'cpu' }));
    let r = cli([ref, test]);
    assert.strictEqual(r.code, 0, r.stderr);
    assert.strictEqual(Number(r.stdout.trim()), api.ssim);
    r = cli([ref, test, '--dssim']);
    assert.strictEqual(Number(r.stdout.trim()), 1 - api.ssim);
    r = cli([ref, test, '--json', '--window', '7', '--padding', 'valid', '--color', 'luma']);
    const j = JSON.parse(r.stdout);
    assert.deepStrictEqual(Object.keys(j), OK_KEYS);
    assert.strictEqual(j.convention, 'default');
    const [api2] = await collect(evaluate([[ref, test]], { backend: 'cpu', windowSize: 7, padding: 'valid', color: 'luma' }));
    assert.strictEqual(j.ssim, api2.ssim);
    assert.strictEqual(j.status, 'ok');
  });

  it('--convention C: the value of evaluate() with that convention, named in the row and the summary; a bad name is a usage error', async function () {
    const { evaluate } = evaluateModule();
    const ref = path.join(fx.ref, 'img1.png');
    const test = path.join(fx.test, 'img1.webp');
    for (const convention of ['skimage', 'matlab', 'torchmetrics']) {
      const [api] = await collect(evaluate([[ref, test]], { backend: 'cpu', convention }));
      const r = cli([ref, test, '--json', '--convention', convention]);
      assert.strictEqual(r.code, 0, r.stderr);
      const j = JSON.parse(r.stdout);
      assert.strictEqual(j.ssim, api.ssim);
      assert.strictEqual(j.convention, convention);
      assert.strictEqual(api.convention, convention);
    }
    const c = cli(['compare', fx.ref, fx.test, '--json', '--convention', 'skimage']);
    assert.strictEqual(JSON.parse(c.stdout).summary.convention, 'skimage');
    const bad = cli([ref, test, '--convention', 'opencv']);
    assert.strictEqual(bad.code, 2);
    assert.match(bad.stderr, /--convention expects one of default, skimage/);
  });

  it('compare --json: schema, values equal to evaluate(); --csv: header and one row per pair; per-pair errors on stderr', async function () {
    const { evaluate, merge } = evaluateModule();
    const api = merge([await collect(evaluate({ reference: fx.ref, test: fx.test }, { backend: 'cpu' }))]);
    const r = cli(['compare', fx.ref, fx.test, '--json']);
    assert.strictEqual(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout);
    assert.deepStrictEqual(Object.keys(doc), ['summary', 'results']);
    assert.deepStrictEqual(Object.keys(doc.summary), ['metric', 'count', 'failures', 'total', 'mean', 'min', 'max', 'median', 'p5', 'worst', 'interrupted', 'convention']);
    assert.strictEqual(doc.summary.convention, 'default');
    assert.deepStrictEqual(doc.results, api.results);
    assert.deepStrictEqual(doc.summary, api.summary);
    for (const row of doc.results) {
      assert.deepStrictEqual(Object.keys(row), row.status === 'ok' ? OK_KEYS : [...RESULT_KEYS, 'error']);
      if (row.error) assert.deepStrictEqual(Object.keys(row.error), ['code', 'file', 'reason']);
    }
    for (const id of Object.keys(fx.bad)) assert.match(r.stderr, new RegExp(`${id}: `), `stderr names ${id}`);
    const c = cli(['compare', fx.ref, fx.test, '--csv']);
    assert.strictEqual(c.code, 0);
    const lines = c.stdout.trim().split('\n');
    assert.strictEqual(lines[0], 'id,reference,test,status,metric,ssim,dssim,width,height,error_code,error_file,error_reason');
    assert.strictEqual(lines.length, 1 + api.results.length);
    for (const line of lines.slice(1)) {
      const id = line.split(',')[0];
      const want = api.results.find((q) => q.id === id);
      assert.ok(want, `row for ${id}`);
      if (want.status === 'ok') assert.strictEqual(Number(line.split(',')[5]), want.ssim);
    }
    // a human summary by default
    const h = cli(['compare', fx.ref, fx.test]);
    assert.match(h.stdout, /pairs: 10 \(6 evaluated, 4 failed\)/);
    assert.match(h.stdout, /SSIM mean/);
  });

  it('exit codes: 1 below --fail-below (or a failed pair), 0 above, 2 for bad usage, missing files and no pairs', function () {
    const ref = path.join(fx.ref, 'img0.png');
    const test = path.join(fx.test, 'img0.png');
    const v = Number(cli([ref, test]).stdout);
    assert.strictEqual(cli([ref, test, '--fail-below', String(v - 1e-4)]).code, 0);
    assert.strictEqual(cli([ref, test, '--fail-below', String(v + 1e-4)]).code, 1);
    assert.strictEqual(cli(['compare', fx.ref, fx.test, '--fail-below', '0', '-q']).code, 1, 'failed pairs fail the threshold');
    const usage = [
      [[]],
      [[ref]],
      [['--window', '8', ref, test], /--window/],
      [['--bogus', ref, test], /bogus/],
      [['--color', 'cmyk', ref, test], /--color/],
      [['--shard', '3/3', 'compare', fx.ref, fx.test], /--shard/],
      [['--resume', 'compare', fx.ref, fx.test], /--jsonl/],
      [['compare', fx.ref], /REF_DIR TEST_DIR/],
      [[ref, path.join(dir, 'missing.png')], /missing\.png/],
      [['compare', fx.ref, path.join(dir, 'nope')], /nope/],
      [[path.join(fx.test, 'bad/corrupt.png'), ref], /decode/],
      [['merge', path.join(dir, 'none.jsonl')], /none\.jsonl/],
    ];
    for (const [args, re] of usage) {
      const r = cli(args);
      assert.strictEqual(r.code, 2, `${args.join(' ')}: exit ${r.code} (${r.stderr})`);
      if (re) assert.match(r.stderr, re, args.join(' '));
    }
    const empty = path.join(dir, 'empty');
    fs.mkdirSync(empty, { recursive: true });
    const r = cli(['compare', empty, empty]);
    assert.strictEqual(r.code, 2);
    assert.match(r.stderr, /no pairs/);
    const help = cli(['--help']);
    assert.strictEqual(help.code, 0);
    assert.match(help.stdout, /Exit codes/);
  });

  it('--maps writes one heat-map PNG per pair (map size); --jsonl rows; merge of shards equals one run', async function () {
    const mapsDir = path.join(dir, 'maps');
    const jsonl = path.join(dir, 'all.jsonl');
    const r = cli(['compare', fx.ref, fx.test, '--maps', mapsDir, '--jsonl', jsonl, '--padding', 'valid', '-q']);
    assert.strictEqual(r.code, 0, r.stderr);
    const sharp = files.sharp();
    for (const id of fx.good.keys()) {
      const meta = await sharp(path.join(mapsDir, `${id}.png`)).metadata();
      assert.strictEqual(meta.width, 40 - 10);
      assert.strictEqual(meta.height, 32 - 10);
    }
    const rows = fs.readFileSync(jsonl, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.strictEqual(rows.length, 10);
    const shards = [0, 1].map((i) => {
      const f = path.join(dir, `s${i}.jsonl`);
      assert.strictEqual(cli(['compare', fx.ref, fx.test, '--shard', `${i}/2`, '--jsonl', f, '-q', '--padding', 'valid']).code, 0);
      return f;
    });
    const merged = JSON.parse(cli(['merge', ...shards, '--json']).stdout);
    const whole = JSON.parse(cli(['merge', jsonl, '--json']).stdout);
    assert.deepStrictEqual(merged, whole);
    assert.strictEqual(merged.summary.total, 10);
  });

  it('a non-finite SSIM fails the pair everywhere: summary, JSONL, merge, report, --fail-below, exit code', async function () {
    const rng = testRng(this);
    const d = path.join(dir, 'nonfinite');
    // widths 24 (kept), 25 (NaN), 27 (Infinity) under the seam test/helpers/nonfinite-lane.js
    for (const [k, width] of [['a0', 24], ['a1', 24], ['n0', 25], ['n1', 25], ['i0', 27]]) {
      const y = files.pattern(rng, width, 18, 3, 255);
      await files.writeImage(path.join(d, 'ref', `${k}.png`), y, width, 18, 3);
      await files.writeImage(path.join(d, 'test', `${k}.png`), files.distort(rng, y, 0.2, 255), width, 18, 3);
    }
    const seam = ['-r', path.join(__dirname, 'helpers', 'nonfinite-lane.js')];
    const seamEnv = { ...ENV, SSIM_TEST_NONFINITE: '1' };
    const jsonl = path.join(d, 'rows.jsonl');
    const report = path.join(d, 'report.html');
    const args = ['compare', path.join(d, 'ref'), path.join(d, 'test')];
    const clean = cli([...args, '--fail-below', '0', '-q']);
    assert.strictEqual(clean.code, 0, `without the seam every pair is fine: ${clean.stderr}`);
    const r = spawnSync(process.execPath, [...seam, BIN, ...args, '--jsonl', jsonl, '--json', '--fail-below', '0', '--report', report], { encoding: 'utf8', env: seamEnv, timeout: 120000 });
    assert.strictEqual(r.status, 1, `--fail-below 0 fails on non-finite pairs: exit ${r.status} ${r.stderr}`);
    const doc = JSON.parse(r.stdout);
    assert.deepStrictEqual([doc.summary.count, doc.summary.failures, doc.summary.total], [2, 3, 5]);
    for (const row of doc.results) {
      if (row.id.startsWith('a')) assert.ok(row.status === 'ok' && Number.isFinite(row.ssim), JSON.stringify(row));
      else assert.deepStrictEqual([row.status, row.ssim, row.error.code], ['error', null, 'non-finite'], JSON.stringify(row));
    }
    for (const id of ['n0', 'n1', 'i0']) assert.match(r.stderr, new RegExp(`${id}: non-finite: `));
    const merged = cli(['merge', jsonl, '--json', '--fail-below', '0']);
    assert.strictEqual(merged.code, 1);
    assert.deepStrictEqual(JSON.parse(merged.stdout), doc, 'merge of the run\'s own JSONL gives the run\'s results and summary');
    const html = fs.readFileSync(report, 'utf8');
    assert.match(html, /<th>evaluated<\/th><td>2<\/td>/);
    assert.match(html, /<th>failed<\/th><td>3<\/td>/);
    assert.strictEqual((html.match(/<td>non-finite<\/td>/g) || []).length, 3);
    // one pair: the reason on stderr, exit 2 (the pair cannot be compared), never a printed NaN
    const one = spawnSync(process.execPath, [...seam, BIN, path.join(d, 'ref', 'n0.png'), path.join(d, 'test', 'n0.png')], { encoding: 'utf8', env: seamEnv, timeout: 120000 });
    assert.strictEqual(one.status, 2, one.stderr);
    assert.strictEqual(one.stdout, '');
    assert.match(one.stderr, /non-finite/);
  });

  it('special files (link to /dev/zero, FIFOs) and files over --max-file-size fail their pairs; the run goes on and ends', async function () {
    if (process.platform === 'win32') this.skip();
    const fx = await files.makeSpecialFolders(testRng(this), path.join(dir, 'special'));
    const jsonl = path.join(dir, 'special.jsonl');
    const r = cli(['compare', fx.ref, fx.test, '--json', '--jsonl', jsonl, '--max-file-size', String(fx.smallMax), '--fail-below', '0'], { timeout: 60000 });
    assert.strictEqual(r.signal, null, `the run ended by itself (${r.signal}): ${r.stderr}`);
    assert.strictEqual(r.code, 1, `failed pairs fail --fail-below: ${r.stderr}`);
    const doc = JSON.parse(r.stdout);
    const codes = Object.fromEntries(doc.results.map((q) => [q.id, q.status === 'ok' ? 'ok' : q.error.code]));
    assert.deepStrictEqual(codes, { big: 'too-large', fifo: 'not-a-file', good0: 'ok', good1: 'ok', rawfifo: 'not-a-file', zero: 'not-a-file' });
    assert.deepStrictEqual([doc.summary.count, doc.summary.failures], [2, 4]);
    assert.strictEqual(fs.readFileSync(jsonl, 'utf8').trim().split('\n').length, 6);
    for (const id of ['zero', 'fifo', 'rawfifo']) assert.match(r.stderr, new RegExp(`${id}: not-a-file: `));
    assert.match(r.stderr, /big: too-large: /);
    // the default limit reads big.png; K / M / G suffixes; bad sizes are usage errors
    const d = cli(['compare', fx.ref, fx.test, '--json'], { timeout: 60000 });
    assert.strictEqual(JSON.parse(d.stdout).results.find((q) => q.id === 'big').status, 'ok');
    const k = cli(['compare', fx.ref, fx.test, '--json', '--max-file-size', '1K'], { timeout: 60000 });
    assert.strictEqual(JSON.parse(k.stdout).summary.count, fx.smallMax < 1024 ? 2 : 0);
    for (const bad of ['0', '1.5M', 'lots', '9999999G']) {
      const u = cli(['compare', fx.ref, fx.test, `--max-file-size=${bad}`]);
      assert.strictEqual(u.code, 2, bad);
      assert.match(u.stderr, /--max-file-size/);
    }
  });

  it('a subfolder that cannot be listed is reported (unreadable) and the run goes on: rows, exit code, no stack trace', async function () {
    if (process.platform !== 'linux') this.skip(); // PATH_MAX of 4096
    const fx = await files.makeDeepFolders(testRng(this), path.join(dir, 'deep'));
    try {
      const r = cli(['compare', fx.ref, fx.test, '--json']);
      assert.strictEqual(r.code, 0, r.stderr);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
      const doc = JSON.parse(r.stdout);
      assert.deepStrictEqual(doc.results.map((q) => [q.id, q.status === 'ok' ? 'ok' : q.error.code]),
        [[`${fx.deep}/`, 'unreadable'], [`${fx.deep}/img`, 'unreadable'], ['good0', 'ok'], ['good1', 'ok']]);
      assert.deepStrictEqual([doc.summary.count, doc.summary.failures], [2, 2]);
      assert.match(r.stderr, /unreadable: cannot read folder .*ENAMETOOLONG/);
      assert.strictEqual(cli(['compare', fx.ref, fx.test, '--fail-below', '0', '-q']).code, 1, 'an unreadable folder fails --fail-below');
    } finally {
      fx.cleanup();
    }
  });

  it('heat-map file names are injective and reversible (back\\slash and back/slash get two files)', function () {
    const { mapFile, mapPath, mapId } = require(path.join(pkg.root, 'dist', 'cli.js'));
    const ids = ['back\\slash', 'back/slash', 'a//b', 'a/b', '/a/b', 'a/b/', 'a', 'a.png', 'a.PNG/b', 'a.png/b', 'a%2Epng/b', '.', '..', 'a/./b', 'a/../b',
      '%', '%25', '%2F', 'a%2Fb', '', '/', 'x:y', 'x<y>|z?*"', 'tab\there', 'nul\u0000', 'del\u007f', 'dot.', 'space ', 'é/ü', '\ud800', '\udc00', '\ud83d\ude00', '%uD800', 'pair', 'img.png/x'];
    const files = new Map();
    const root = path.resolve('/maps');
    for (const id of ids) {
      const rel = mapPath(id);
      assert.strictEqual(mapId(rel), id, `round trip of ${JSON.stringify(id)} (${rel})`);
      const file = mapFile(root, id);
      assert.strictEqual(file, path.join(root, ...rel.split('/')));
      assert.ok(!path.relative(root, file).startsWith('..') && !path.isAbsolute(path.relative(root, file)), `${JSON.stringify(id)} stays in the folder: ${file}`);
      assert.ok(file.endsWith('.png'));
      const segments = rel.split('/');
      for (const seg of segments) {
        assert.ok(seg !== '' && seg !== '.' && seg !== '..', `${JSON.stringify(id)}: segment ${JSON.stringify(seg)}`);
        assert.doesNotMatch(seg, /[\\<>:"|?*\u0000-\u001f\u007f]|[. ]$/, `${JSON.stringify(id)}: segment ${JSON.stringify(seg)}`);
      }
      for (const folder of segments.slice(0, -1)) assert.doesNotMatch(folder, /\.png$/i, `${JSON.stringify(id)}: a folder is never a map file`);
      assert.ok(!files.has(file), `${JSON.stringify(id)} and ${JSON.stringify(files.get(file))} share ${file}`);
      files.set(file, id);
    }
    // no map file is a folder of another map
    for (const f of files.keys()) for (const g of files.keys()) assert.ok(!g.startsWith(`${f}${path.sep}`), `${f} is a folder of ${g}`);
    assert.strictEqual(mapPath('sub/frame01'), 'sub/frame01.png', 'plain ids keep their plain names');
    assert.strictEqual(mapPath('back\\slash'), 'back%5Cslash.png');
  });

  it('--maps: ids back\\slash and back/slash write two heat maps, each its own pair\'s', async function () {
    if (process.platform === 'win32') this.skip(); // "\" is a separator there
    const rng = testRng(this);
    const d = path.join(dir, 'slashes');
    const W = 30;
    const H = 22;
    for (const rel of ['back\\slash.png', path.join('back', 'slash.png')]) {
      const y = files.pattern(rng, W, H, 3, 255);
      await files.writeImage(path.join(d, 'ref', rel), y, W, H, 3);
      await files.writeImage(path.join(d, 'test', rel), files.distort(rng, y, rel.includes('\\') ? 0.1 : 0.6, 255), W, H, 3);
    }
    const mapsDir = path.join(d, 'maps');
    const r = cli(['compare', path.join(d, 'ref'), path.join(d, 'test'), '--maps', mapsDir, '--json']);
    assert.strictEqual(r.code, 0, r.stderr);
    assert.deepStrictEqual(JSON.parse(r.stdout).results.map((q) => q.id), ['back/slash', 'back\\slash']);
    const { evaluate } = evaluateModule();
    const { heatmapPixels } = evaluateInternal('heatmap');
    const { mapFile } = require(path.join(pkg.root, 'dist', 'cli.js'));
    const rows = await collect(evaluate({ reference: path.join(d, 'ref'), test: path.join(d, 'test') }, { backend: 'cpu', maps: true }));
    const sharp = files.sharp();
    const written = [];
    for (const row of rows) {
      const file = mapFile(mapsDir, row.id);
      written.push(path.relative(mapsDir, file));
      const { data, info } = await sharp(file).raw().toBuffer({ resolveWithObject: true });
      assert.deepStrictEqual([info.width, info.height, info.channels], [W, H, 3]);
      assert.ok(Buffer.from(heatmapPixels(row.map)).equals(data), `${row.id}: ${file} is this pair's heat map`);
    }
    assert.deepStrictEqual(written.sort(), [path.join('back', 'slash.png'), 'back%5Cslash.png'].sort());
    // a map that cannot be written is reported for its pair; the run and its rows go on
    const blocker = path.join(d, 'not-a-folder');
    fs.writeFileSync(blocker, 'x');
    const b = cli(['compare', path.join(d, 'ref'), path.join(d, 'test'), '--maps', blocker, '--json']);
    assert.strictEqual(b.code, 0, b.stderr);
    assert.doesNotMatch(b.stderr, /\n\s+at /, 'no stack trace');
    assert.strictEqual((b.stderr.match(/cannot write the heat map/g) || []).length, 2, b.stderr);
    assert.strictEqual(JSON.parse(b.stdout).summary.count, 2);
  });

  it('SIGINT at the earliest moment: the handler is installed before anything is loaded; exit 130, interrupted: true, --fail-below ignored', async function () {
    const probe = path.join(__dirname, 'helpers', 'sigint-probe.js');
    const jsonl = path.join(dir, 'early.jsonl');
    const args = ['-r', probe, BIN, 'compare', fx.ref, fx.test, '--json', '--jsonl', jsonl, '--fail-below', '0', '--concurrency', '64'];
    const child = spawn(process.execPath, args, { env: ENV, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => {
      stderr += d;
      if (stderr.includes('[probe] sigint') && !child.signalled) {
        child.signalled = true;
        child.kill('SIGINT');
      }
    });
    const { code, signal } = await new Promise((resolve) => child.on('exit', (c, sig) => resolve({ code: c, signal: sig })));
    assert.strictEqual(signal, null, `killed by ${signal}: the SIGINT handler was not in place (${stderr})`);
    assert.strictEqual(code, 130, `exit ${code}: ${stderr}`);
    const lines = stderr.split('\n').filter((l) => l.startsWith('[probe]'));
    assert.deepStrictEqual(lines, ['[probe] sigint', '[probe] load dist/cli.js'], 'the handler comes first');
    assert.match(stderr, /interrupted/);
    const doc = JSON.parse(stdout);
    assert.strictEqual(doc.summary.interrupted, true);
    const rows = fs.existsSync(jsonl) ? fs.readFileSync(jsonl, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)) : [];
    assert.deepStrictEqual(rows.map((r) => r.id).sort(), doc.results.map((r) => r.id), 'every row in the JSON is in the JSONL and the other way round');
    assert.ok(doc.results.length < 10, `${doc.results.length} rows`);
  });

  it('SIGINT at any time: exit 130 with interrupted: true and every finished row written, or exit 0 with every pair; never a silent loss', async function () {
    this.timeout(240000);
    const rng = testRng(this);
    const d = path.join(dir, 'anytime');
    const n = 4;
    for (let i = 0; i < n; i++) {
      const y = files.pattern(rng, 1200, 900, 3, 255);
      await files.writeImage(path.join(d, 'ref', `q${i}.png`), y, 1200, 900, 3);
      await files.writeImage(path.join(d, 'test', `q${i}.png`), files.distort(rng, y, 0.2, 255), 1200, 900, 3);
    }
    const probe = path.join(__dirname, 'helpers', 'sigint-probe.js');
    const outcomes = [];
    for (const delay of [0, 30, 80, 150, 250, 400, 700, 1100]) {
      const jsonl = path.join(d, `rows-${delay}.jsonl`);
      const child = spawn(process.execPath, ['-r', probe, BIN, 'compare', path.join(d, 'ref'), path.join(d, 'test'), '--json', '--jsonl', jsonl, '--fail-below', '0', '--concurrency', '8'],
        { env: ENV, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      let sent = false;
      child.stdout.on('data', (x) => { stdout += x; });
      child.stderr.on('data', (x) => {
        stderr += x;
        if (!sent && stderr.includes('[probe] sigint')) {
          sent = true;
          setTimeout(() => child.kill('SIGINT'), delay);
        }
      });
      const { code, signal } = await new Promise((resolve) => child.on('exit', (c, sig) => resolve({ code: c, signal: sig })));
      assert.strictEqual(signal, null, `delay ${delay}: killed by ${signal}: ${stderr}`);
      const doc = JSON.parse(stdout);
      const rows = fs.readFileSync(jsonl, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
      assert.deepStrictEqual(rows.map((r) => r.id).sort(), doc.results.map((r) => r.id), `delay ${delay}: the JSONL holds the results`);
      if (code === 130) {
        assert.strictEqual(doc.summary.interrupted, true, `delay ${delay}`);
      } else {
        assert.strictEqual(code, 0, `delay ${delay}: exit ${code}: ${stderr}`);
        assert.strictEqual(doc.summary.interrupted, false, `delay ${delay}`);
        assert.strictEqual(doc.summary.count, n, `delay ${delay}: exit 0 means every pair was evaluated (${doc.results.length} rows)`);
      }
      for (const r of doc.results) assert.ok(r.status === 'ok' && Number.isFinite(r.ssim), `delay ${delay}: ${JSON.stringify(r)}`);
      outcomes.push(`${delay} ms: exit ${code}, ${doc.results.length} rows`);
    }
    assert.ok(outcomes[0].includes('exit 130'), outcomes.join('; '));
  });

  it('SIGINT: finished rows are kept, exit 130; --resume computes only the rest and ends equal to one uninterrupted run', async function () {
    this.timeout(180000);
    const rng = testRng(this);
    const big = path.join(dir, 'big');
    const n = 24;
    for (let i = 0; i < n; i++) {
      const y = files.pattern(rng, 640, 480, 3, 255);
      await files.writeImage(path.join(big, 'ref', `p${String(i).padStart(2, '0')}.png`), y, 640, 480, 3);
      await files.writeImage(path.join(big, 'test', `p${String(i).padStart(2, '0')}.png`), files.distort(rng, y, 0.2, 255), 640, 480, 3);
    }
    const jsonl = path.join(big, 'rows.jsonl');
    const args = ['compare', path.join(big, 'ref'), path.join(big, 'test'), '--jsonl', jsonl, '--batch-size', '1', '--concurrency', '1', '-q'];
    const child = spawn(process.execPath, [BIN, ...args], { env: ENV, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => { stderr += d; });
    const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
    const rowsIn = () => (fs.existsSync(jsonl) ? fs.readFileSync(jsonl, 'utf8').split('\n').filter(Boolean).length : 0);
    const t0 = Date.now();
    while (rowsIn() < 3 && Date.now() - t0 < 60000) await new Promise((r) => setTimeout(r, 20));
    child.kill('SIGINT');
    const { code } = await exited;
    assert.strictEqual(code, 130, `exit ${code}: ${stderr}`);
    assert.match(stderr, /interrupted/);
    const first = fs.readFileSync(jsonl, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
    assert.ok(first.length >= 3 && first.length < n, `${first.length} rows after the interrupt`);
    const resumed = cli([...args, '--resume', '--json']);
    assert.strictEqual(resumed.code, 0, resumed.stderr);
    const all = fs.readFileSync(jsonl, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
    assert.strictEqual(all.length, n, 'each pair once in the JSONL');
    assert.strictEqual(new Set(all.map((r) => r.id)).size, n);
    assert.deepStrictEqual(all.slice(0, first.length), first, 'the first run\'s rows are kept as they were');
    const once = cli(['compare', path.join(big, 'ref'), path.join(big, 'test'), '--json']);
    assert.deepStrictEqual(JSON.parse(resumed.stdout), JSON.parse(once.stdout));
  });
});
