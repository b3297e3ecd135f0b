'use strict';
// The package as users get it: `npm pack` (its prepack step builds the prebuilt binaries), then
// the tarball installed into a fresh project where nvcc cannot be found (a mount namespace with
// the toolkit's nvcc hidden, as on a CUDA runtime image), with and without install scripts.
// Then which binary the loader picks, and the CPU-fallback warning, against a stand-in
// libcuda.so.1 that reports a chosen driver version (test/fixtures/fake-libcuda.c).
// linux-x64 only; needs root for the mount namespace (CI runs as root) and the registries.

const assert = require('assert');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawnSync } = require('child_process');
const { listFatbin } = require('../scripts/prebuild/fatbin');

const repo = path.join(__dirname, '..');
const work = path.join(repo, 'build', 'package-test');
const NVCC_PLACES = ['/usr/local/cuda/bin', '/usr/local/bin/nvcc', '/usr/bin/nvcc'];
const MAIN_SASS = ['sm_75', 'sm_80', 'sm_86', 'sm_89', 'sm_90', 'sm_100', 'sm_120'];
const OLD_SASS = ['sm_75', 'sm_80', 'sm_86', 'sm_89', 'sm_90'];

function sh(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 26, ...opts });
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} exited ${r.status} ${r.signal || ''}\n${(r.stdout || '').slice(-4000)}\n${(r.stderr || '').slice(-4000)}`);
  }
  return r.stdout;
}

// Runs a bash script in a private mount namespace where every nvcc is hidden.
function withoutNvcc(script, env = {}) {
  const hide = NVCC_PLACES.filter((p) => fs.existsSync(p))
    .map((p) => (fs.statSync(p).isDirectory() ? `mount -t tmpfs none ${p}` : `mount --bind /dev/null ${p}`)).join(' && ');
  return sh('unshare', ['-m', 'bash', '-c', `set -e; ${hide || 'true'}; if command -v nvcc >/dev/null && [ -x "$(command -v nvcc)" ]; then echo "nvcc still visible" >&2; exit 3; fi; ${script}`],
    { env: { ...process.env, ...env }, timeout: 900000 });
}

function freshProject(name) {
  const dir = path.join(work, name);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: `pkg-test-${name}`, private: true }));
  return dir;
}

// node -e in `dir` with the installed package; prints one JSON line.
function probe(dir, body, env = {}) {
  const script = `
    const s = require('cuda-ssim');
    const warnings = [];
    process.on('warning', (w) => warnings.push({ code: w.code, message: w.message }));
    const out = {};
    ${body}
    setImmediate(() => { out.warnings = warnings; console.log(JSON.stringify(out)); });`;
  const cleanEnv = { ...process.env };
  for (const k of ['CUDA_SSIM_BACKEND', 'CUDA_SSIM_PREBUILT', 'LD_LIBRARY_PATH']) delete cleanEnv[k];
  const r = spawnSync(process.execPath, ['-e', script], { cwd: dir, env: { ...cleanEnv, ...env }, encoding: 'utf8', timeout: 120000 });
  assert.strictEqual(r.status, 0, `probe exited ${r.status} ${r.signal || ''}\n${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

const canRun = process.platform === 'linux' && process.arch === 'x64' && typeof process.getuid === 'function' &&
  process.getuid() === 0 && spawnSync('unshare', ['-m', 'true']).status === 0;

describe('the packed package, installed where nvcc cannot be found', function () {
  this.timeout(1800000);
  let tarball;
  let fakeDriverDir;

  before(function () {
    if (!canRun) {
      console.log('    (skipped: needs linux-x64, root and unshare -m)');
      this.skip();
    }
    fs.mkdirSync(work, { recursive: true });
    // npm pack runs prepack (scripts/prebuild/build.js), which reuses prebuilds/ built from the
    // same sources.
    const out = sh('npm', ['pack', '--json', '--pack-destination', work], { cwd: repo, timeout: 1500000 });
    const info = JSON.parse(out.slice(out.indexOf('[')));
    tarball = path.join(work, info[0].filename);
    fakeDriverDir = path.join(work, 'fake-driver');
    fs.mkdirSync(fakeDriverDir, { recursive: true });
    sh('cc', ['-shared', '-fPIC', '-o', path.join(fakeDriverDir, 'libcuda.so.1'), path.join(__dirname, 'fixtures', 'fake-libcuda.c')]);
  });

  it('ships the install hook, the sources for a source build and both prebuilt binaries', function () {
    const listing = sh('tar', ['-tzf', tarball]).split('\n');
    for (const f of ['package/scripts/install.js', 'package/scripts/build-native.js', 'package/CMakeLists.txt',
      'package/binding/addon.cc', 'package/prebuilds/linux-x64/manifest.json',
      'package/prebuilds/linux-x64/cuda-ssim.glibc.napi.node',
      'package/prebuilds/linux-x64/cuda11.8/cuda-ssim.glibc.napi.node', 'package/dist/index.js']) {
      assert.ok(listing.includes(f), `${f} is not in the tarball`);
    }
    assert.ok(!listing.some((f) => f.startsWith('package/build/')), 'a build folder was packed');
  });

  let installed;
  it('installs in seconds with the prebuilt CUDA binary, builds nothing, and computes', function () {
    const dir = freshProject('scripts');
    const t0 = Date.now();
    withoutNvcc(`cd ${dir} && npm install --no-audit --no-fund ${tarball} 2>&1`);
    const seconds = (Date.now() - t0) / 1000;
    console.log(`      npm install of the tarball: ${seconds.toFixed(1)} s`);
    const pkgDir = path.join(dir, 'node_modules', 'cuda-ssim');
    assert.ok(!fs.existsSync(path.join(pkgDir, 'build')), 'the install built from source');
    assert.ok(!fs.existsSync(path.join(dir, 'node_modules', 'cmake-js')), 'cmake-js was installed for every user');
    const r = probe(dir, `
      const i = s.backendInfo();
      out.binary = i.binary; out.compiled = i.cuda.compiled; out.reasonCode = i.cuda.reasonCode;
      const x = { data: Float32Array.from({ length: 3 * 40 * 30 }, (_, k) => (k * 7919 % 101) / 100), width: 40, height: 30, channels: 3 };
      out.self = s.ssim(x, x);
      out.other = s.ssim(x, { ...x, data: x.data.map((v, k) => (v + (k % 5) * 0.05) % 1) });`);
    assert.deepStrictEqual([r.binary.variant, r.binary.prebuilt], ['main', true]);
    assert.ok(r.binary.path.includes(`${path.sep}prebuilds${path.sep}linux-x64${path.sep}`), r.binary.path);
    assert.strictEqual(r.compiled, true, 'the prebuilt binary has no CUDA');
    assert.ok(Math.abs(r.self - 1) < 1e-6, `ssim(x, x) = ${r.self}`);
    assert.ok(r.other > 0 && r.other < 0.99, `ssim(x, y) = ${r.other}`);
    assert.deepStrictEqual(r.warnings, [], 'a warning without any NVIDIA driver');
    installed = pkgDir;
  });

  it('installs with --ignore-scripts and loads the same prebuilt binary', function () {
    const dir = freshProject('ignore-scripts');
    withoutNvcc(`cd ${dir} && npm install --ignore-scripts --no-audit --no-fund ${tarball} 2>&1`);
    const r = probe(dir, 'out.binary = s.backendInfo().binary; out.v = s.ssim({ data: new Float32Array(256).fill(0.5), width: 16, height: 16 }, { data: new Float32Array(256).fill(0.5), width: 16, height: 16 });');
    assert.deepStrictEqual([r.binary.variant, r.binary.prebuilt], ['main', true]);
    assert.ok(Math.abs(r.v - 1) < 1e-6, `ssim = ${r.v}`);
  });

  it('ships SASS for sm_75 ... sm_120 and compute_75 PTX (main), SASS up to sm_90 (CUDA 11.8)', function () {
    if (!installed) this.skip();
    const main = listFatbin(path.join(installed, 'prebuilds', 'linux-x64', 'cuda-ssim.glibc.napi.node'));
    const old = listFatbin(path.join(installed, 'prebuilds', 'linux-x64', 'cuda11.8', 'cuda-ssim.glibc.napi.node'));
    assert.deepStrictEqual(main, { sass: MAIN_SASS, ptx: ['compute_75'] });
    assert.deepStrictEqual(old, { sass: OLD_SASS, ptx: ['compute_75'] });
  });

  it('asks no glibc symbol newer than 2.28 and needs no libstdc++', function () {
    if (!installed) this.skip();
    for (const rel of ['cuda-ssim.glibc.napi.node', 'cuda11.8/cuda-ssim.glibc.napi.node']) {
      const dyn = sh('objdump', ['-T', '-p', path.join(installed, 'prebuilds', 'linux-x64', rel)]);
      const versions = [...dyn.matchAll(/\(GLIBC_([0-9.]+)\)/g)].map((m) => m[1].split('.').map(Number));
      const newest = versions.reduce((a, b) => (a[0] - b[0] || (a[1] ?? 0) - (b[1] ?? 0)) >= 0 ? a : b);
      assert.ok(newest[0] === 2 && newest[1] <= 28, `${rel} needs GLIBC_${newest.join('.')}`);
      assert.ok(!/GLIBCXX_|CXXABI_|libstdc\+\+/.test(dyn), `${rel} needs libstdc++`);
    }
  });

  describe('binary choice and the CPU-fallback warning (stand-in driver)', function () {
    const fake = (version, devices = 1) => ({ LD_LIBRARY_PATH: fakeDriverDir, FAKE_CUDA_DRIVER_VERSION: String(version), FAKE_CUDA_DEVICES: String(devices) });
    const compute = "out.info = s.backendInfo(); out.v = s.ssim({ data: new Float32Array(64).fill(0.25), width: 8, height: 8 }, { data: new Float32Array(64).fill(0.25), width: 8, height: 8 });";
    before(function () { if (!installed) this.skip(); });

    it('a CUDA 12.2 driver gets the CUDA 11.8 binary', function () {
      const r = probe(path.dirname(path.dirname(installed)), compute, fake(12020));
      assert.strictEqual(r.info.binary.variant, 'cuda11.8');
      assert.match(r.info.binary.note, /offers CUDA 12\.2.*'main' binary needs 13\.0/);
      assert.strictEqual(r.info.cuda.requiredDriverVersion, 11000);
    });

    it('a CUDA 13.0 driver keeps the main binary', function () {
      const r = probe(path.dirname(path.dirname(installed)), compute, fake(13000));
      assert.strictEqual(r.info.binary.variant, 'main');
      assert.strictEqual(r.info.binary.note, null);
    });

    it("a driver too old for every binary: 'auto' computes on the CPU with one CUDA_SSIM_DRIVER_TOO_OLD warning", function () {
      const r = probe(path.dirname(path.dirname(installed)), `${compute} s.ssim({ data: new Float32Array(64), width: 8, height: 8 }, { data: new Float32Array(64), width: 8, height: 8 });`, fake(10020));
      assert.strictEqual(r.info.cuda.reasonCode, 'driver-too-old');
      assert.strictEqual(r.info.backend, 'cpu');
      assert.ok(Math.abs(r.v - 1) < 1e-6);
      assert.deepStrictEqual(r.warnings.map((w) => w.code), ['CUDA_SSIM_DRIVER_TOO_OLD']);
      assert.match(r.warnings[0].message, /offers CUDA 10\.2/);
    });

    it('CUDA_SSIM_BACKEND=cpu silences it, and a driver without GPUs gives none', function () {
      const quiet = probe(path.dirname(path.dirname(installed)), compute, { ...fake(10020), CUDA_SSIM_BACKEND: 'cpu' });
      assert.deepStrictEqual(quiet.warnings, []);
      const noGpu = probe(path.dirname(path.dirname(installed)), compute, fake(10020, 0));
      assert.deepStrictEqual(noGpu.warnings, []);
    });

    it('CUDA_SSIM_PREBUILT forces a variant, and names the ones there are when it does not exist', function () {
      const forced = probe(path.dirname(path.dirname(installed)), 'out.binary = s.backendInfo().binary;', { CUDA_SSIM_PREBUILT: 'cuda11.8' });
      assert.strictEqual(forced.binary.variant, 'cuda11.8');
      const bad = probe(path.dirname(path.dirname(installed)), "try { s.backendInfo(); } catch (e) { out.code = e.code; out.message = e.message; }", { CUDA_SSIM_PREBUILT: 'nope' });
      assert.strictEqual(bad.code, 'ERR_SSIM_NATIVE_LOAD');
      assert.match(bad.message, /CUDA_SSIM_PREBUILT=nope.*'main', 'cuda11\.8'/);
      // what to do where no binary loads, npm 11 having skipped the install script that builds one
      assert.match(bad.message, /npm rebuild cuda-ssim.*npm install-scripts approve cuda-ssim/);
    });

    it('a source build without nvcc falls back to the CPU (build tools fetched on demand) and warns CUDA_SSIM_NO_CUDA_BUILD', function () {
      const dir = path.dirname(path.dirname(installed));
      withoutNvcc(`cd ${dir} && CUDA_SSIM_BUILD_FROM_SOURCE=1 npm rebuild cuda-ssim 2>&1`);
      assert.ok(fs.existsSync(path.join(installed, 'build', 'Release', 'cuda_ssim.node')), 'no source build');
      const r = probe(dir, compute, fake(13000));
      assert.strictEqual(r.info.binary.variant, 'source');
      assert.strictEqual(r.info.cuda.compiled, false);
      assert.strictEqual(r.info.cuda.reasonCode, 'no-cuda-build');
      assert.deepStrictEqual(r.warnings.map((w) => w.code), ['CUDA_SSIM_NO_CUDA_BUILD']);
      const none = probe(dir, compute);
      assert.deepStrictEqual(none.warnings, [], 'a warning on a machine without an NVIDIA driver');
      assert.match(none.info.cuda.driver.error, /libcuda\.so\.1 not found/);
    });
  });

  after(function () {
    if (os.platform() === 'linux' && fs.existsSync(work) && !process.env.SSIM_KEEP_PACKAGE_TEST) {
      for (const e of fs.readdirSync(work)) if (!e.endsWith('.tgz')) fs.rmSync(path.join(work, e), { recursive: true, force: true });
    }
  });
});
