'use strict';
// The package's types as a TypeScript user sees them: test/types/usage.ts compiled strictly
// (strict, skipLibCheck: false, noEmit) against the built declarations (dist/*.d.ts), imported as
// `cuda-ssim`, `cuda-ssim/promises` and `cuda-ssim/evaluate` through the package's "exports"
// from a folder whose node_modules/cuda-ssim links to the package, with the TypeScript compiler
// of this repository. The fixture checks exact result types and, with @ts-expect-error, that
// wrong usages do not compile.

const assert = require('assert');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawnSync } = require('child_process');
const pkg = require('./helpers/pkg');

const repo = path.join(__dirname, '..');
const TSC = path.join(repo, 'node_modules', 'typescript', 'bin', 'tsc');
const FIXTURE = path.join(__dirname, 'types', 'usage.ts');

const compilerOptions = {
  strict: true,
  skipLibCheck: false,
  noEmit: true,
  target: 'ES2022',
  lib: ['ES2022', 'ESNext.Disposable'],
  module: 'node16',
  moduleResolution: 'node16',
  types: ['node'],
};

// A user's project: `files` (name -> source) next to node_modules/cuda-ssim (the package) and
// node_modules/@types (this repository's); compiled with tsc. Returns { status, output }.
function compile(dir, files) {
  fs.mkdirSync(path.join(dir, 'node_modules'), { recursive: true });
  fs.symlinkSync(pkg.root, path.join(dir, 'node_modules', 'cuda-ssim'), 'dir');
  fs.symlinkSync(path.join(repo, 'node_modules', '@types'), path.join(dir, 'node_modules', '@types'), 'dir');
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
  fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: Object.keys(files) }, null, 2));
  // run in the project folder: tsc names its files relative to it
  const r = spawnSync(process.execPath, [TSC, '-p', '.'], { cwd: dir, encoding: 'utf8', timeout: 110000 });
  return { status: r.status, signal: r.signal, output: `${r.stdout}${r.stderr}` };
}

// Wrong usages that must fail, with the errors tsc must report (the check itself).
const WRONG = [
  "import { ssim } from 'cuda-ssim';",
  "import { quantile } from 'cuda-ssim/evaluate';",
  'const v: string = ssim({ data: new Float32Array(4), width: 2, height: 2 }, { data: new Float32Array(4), width: 2, height: 2 });',
  'void [v, quantile];',
  '',
].join('\n');

describe('types: the declarations as a TypeScript user compiles against them', function () {
  let tmp;
  let result;
  before(function () {
    this.timeout(120000);
    // TypeScript is a devDependency: a runtime-only node_modules (the GPU machine's) skips, visibly.
    if (!fs.existsSync(TSC)) {
      console.log('    (skipped: typescript is not installed: npm install)');
      this.skip();
    }
    assert.ok(fs.existsSync(path.join(pkg.root, 'dist', 'index.d.ts')), 'dist/ is built (npm run build:ts)');
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cuda-ssim-types-'));
    // one program (one tsc run, ~10 s): the fixture and the wrong usages
    result = compile(tmp, { 'usage.ts': fs.readFileSync(FIXTURE, 'utf8'), 'wrong.ts': WRONG });
  });
  after(function () {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('test/types/usage.ts compiles strictly (skipLibCheck: false): exact result types, and every @ts-expect-error usage fails', function () {
    assert.strictEqual(result.signal, null, 'tsc finished');
    const others = result.output.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('wrong.ts('));
    assert.deepStrictEqual(others, [], 'tsc reports nothing but wrong.ts\'s errors');
  });

  it('the check itself: a wrong type and an internal name fail to compile', function () {
    const lines = result.output.trim().split('\n');
    assert.strictEqual(result.status, 2, result.output);
    assert.strictEqual(lines.length, 2, result.output);
    assert.match(lines[0], /^wrong\.ts\(2,\d+\): error TS2305: Module '"cuda-ssim\/evaluate"' has no exported member 'quantile'/);
    assert.match(lines[1], /^wrong\.ts\(3,\d+\): error TS2322: Type 'number' is not assignable to type 'string'/);
  });
});
