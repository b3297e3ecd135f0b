#!/usr/bin/env node
// `npm pack` (prepack): builds the prebuilt binaries that the package ships, each from a clean
// build folder (never the development build/Release), and writes prebuilds/linux-x64/:
//   cuda-ssim.glibc.napi.node          CUDA 13 (this machine's nvcc): SASS sm_75 ... sm_120, PTX compute_75
//   cuda11.8/cuda-ssim.glibc.napi.node CUDA 11.8: drivers of CUDA 11.x/12.x (R450 ... R575), SASS sm_75 ... sm_90
//   manifest.json                      what each holds and needs (lib/native.ts chooses by it)
// Each binary is checked before it is written: CUDA compiled in (a CPU-only build is refused),
// the expected SASS/PTX in its fat binary, no glibc symbol newer than 2.28, no libstdc++ needed.
// CUDA_SSIM_PREBUILD_VARIANTS=main builds the main one alone (a machine without the CUDA 11.8
// toolchain; the package then lacks the older-driver variant and says so in the manifest).
'use strict';
const { spawnSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { listFatbin } = require('./fatbin');

const root = path.join(__dirname, '..', '..');
const toolchains = path.join(root, 'build', 'toolchains');
const outDir = path.join(root, 'prebuilds', 'linux-x64');
const GLIBC_FLOOR = '2.28';

function fail(message) {
  console.error(`prebuild: ${message}`);
  process.exit(1);
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', maxBuffer: 1 << 28, ...opts });
  if (r.status !== 0) {
    process.stderr.write(`${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? r.error.message : ''}\n`);
    fail(`${path.basename(cmd)} ${args.slice(0, 2).join(' ')} failed (exit ${r.status})`);
  }
  return r.stdout + r.stderr;
}

function findNvcc() {
  for (const candidate of [process.env.CUDACXX, '/usr/local/cuda/bin/nvcc']) {
    if (candidate && fs.existsSync(candidate)) return candidate;
  }
  const r = spawnSync('sh', ['-c', 'command -v nvcc'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

const versionOf = (nvcc) => /release (\d+\.\d+)/.exec(run(nvcc, ['--version']))?.[1] ?? '?';
const cmp = (a, b) => { const x = a.split('.').map(Number), y = b.split('.').map(Number); return x[0] - y[0] || (x[1] ?? 0) - (y[1] ?? 0) || (x[2] ?? 0) - (y[2] ?? 0); };

const nvccMain = findNvcc();
const variants = [
  {
    name: 'main', file: 'cuda-ssim.glibc.napi.node', nvcc: nvccMain, hostCxx: null, minCuda: '12.8',
    sass: ['sm_75', 'sm_80', 'sm_86', 'sm_89', 'sm_90', 'sm_100', 'sm_120'], ptx: ['compute_75'],
  },
  {
    name: 'cuda11.8', file: path.join('cuda11.8', 'cuda-ssim.glibc.napi.node'),
    nvcc: path.join(toolchains, 'cuda-11.8', 'bin', 'nvcc'), hostCxx: 'g++-11', minCuda: '11.8',
    sass: ['sm_75', 'sm_80', 'sm_86', 'sm_89', 'sm_90'], ptx: ['compute_75'],
  },
];

const only = (process.env.CUDA_SSIM_PREBUILD_VARIANTS || 'main,cuda11.8').split(',').map((s) => s.trim());
const sysroot = path.join(toolchains, 'sysroot-glibc2.31');
if (!fs.existsSync(path.join(sysroot, 'usr/lib/x86_64-linux-gnu/libc.so')) ||
    (only.includes('cuda11.8') && !fs.existsSync(variants[1].nvcc))) {
  console.log('prebuild: fetching toolchains (scripts/prebuild/toolchains.sh)');
  const r = spawnSync('bash', [path.join(__dirname, 'toolchains.sh')], { stdio: 'inherit' });
  if (r.status !== 0) fail('the toolchains could not be fetched (see above); CUDA_SSIM_PREBUILD_VARIANTS=main skips the CUDA 11.8 one');
}
if (process.platform !== 'linux' || process.arch !== 'x64') fail('prebuilt binaries are built on linux-x64');

// What a binary's ELF asks of the system: the highest GLIBC_ version, any GLIBCXX_/CXXABI_ or
// libstdc++ at all, and symbols it leaves undefined without a version (besides Node-API's).
function linkage(file) {
  const dyn = run('objdump', ['-T', '-p', file]);
  const glibc = [...dyn.matchAll(/\(GLIBC_([0-9.]+)\)/g)].map((m) => m[1]).sort(cmp);
  const cxx = [...new Set([...dyn.matchAll(/\((GLIBCXX_[0-9.]+|CXXABI_[0-9.]+)\)/g)].map((m) => m[1]))];
  const needed = [...dyn.matchAll(/NEEDED\s+(\S+)/g)].map((m) => m[1]);
  const loose = dyn.split('\n')
    .filter((l) => /\*UND\*/.test(l) && /\sBase\s/.test(l) && !/\sw\s/.test(l))
    .map((l) => l.trim().split(/\s+/).pop())
    .filter((s) => !/^(napi_|node_api_)/.test(s));
  return { maxGlibc: glibc[glibc.length - 1] ?? null, cxx, needed, loose };
}

// The binaries depend on these sources and the compilers alone: when prebuilds/ holds binaries
// built from the same ones (the manifest's sourceHash, each file's sha256), they are kept, so that
// a second `npm pack` (the test suite packs too) does not rebuild them. CUDA_SSIM_PREBUILD_FORCE=1
// rebuilds anyway.
function sourceHash() {
  const h = crypto.createHash('sha256');
  const walk = (rel) => {
    const abs = path.join(root, rel);
    if (fs.statSync(abs).isDirectory()) for (const e of fs.readdirSync(abs).sort()) walk(path.join(rel, e));
    else h.update(`${rel}\0`).update(fs.readFileSync(abs)).update('\0');
  };
  for (const rel of ['CMakeLists.txt', 'binding', 'cuda', 'scripts/prebuild']) walk(rel);
  for (const v of variants) if (only.includes(v.name)) h.update(`${v.name}:${v.nvcc && fs.existsSync(v.nvcc) ? versionOf(v.nvcc) : '-'}\0`);
  return h.digest('hex');
}
const sha256 = (file) => crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
const hash = sourceHash();
if (!process.env.CUDA_SSIM_PREBUILD_FORCE) {
  try {
    const old = JSON.parse(fs.readFileSync(path.join(outDir, 'manifest.json'), 'utf8'));
    if (old.sourceHash === hash && old.binaries.length === only.length &&
        old.binaries.every((b) => sha256(path.join(outDir, b.file)) === b.sha256)) {
      console.log(`prebuild: prebuilds/linux-x64 is up to date with the sources (${hash.slice(0, 12)}); CUDA_SSIM_PREBUILD_FORCE=1 rebuilds`);
      process.exit(0);
    }
  } catch {
    // no usable earlier build
  }
}

const cmakeJs = require.resolve('cmake-js/bin/cmake-js');
const manifest = { package: require(path.join(root, 'package.json')).version, sourceHash: hash, glibcFloor: GLIBC_FLOOR, binaries: [], missing: [] };
fs.rmSync(outDir, { recursive: true, force: true });
fs.mkdirSync(outDir, { recursive: true });

for (const v of variants) {
  if (!only.includes(v.name)) {
    manifest.missing.push({ variant: v.name, why: 'not built (CUDA_SSIM_PREBUILD_VARIANTS)' });
    continue;
  }
  if (!v.nvcc || !fs.existsSync(v.nvcc)) fail(`${v.name}: nvcc not found (CUDACXX, /usr/local/cuda/bin or PATH)`);
  const cuda = versionOf(v.nvcc);
  if (cmp(cuda, v.minCuda) < 0) fail(`${v.name}: nvcc ${cuda} found at ${v.nvcc}; this variant needs CUDA ${v.minCuda} or later`);
  const buildDir = path.join(root, 'build', `prebuild-${v.name}`);
  fs.rmSync(buildDir, { recursive: true, force: true });
  const env = { ...process.env, CUDACXX: v.nvcc };
  delete env.CUDAARCHS;  // the toolkit's whole list, whatever the developer's shell says
  if (v.hostCxx) env.CUDAHOSTCXX = v.hostCxx; else delete env.CUDAHOSTCXX;
  const t0 = Date.now();
  console.log(`prebuild: ${v.name}: CUDA ${cuda} (${v.nvcc}) -> prebuilds/linux-x64/${v.file}`);
  const log = run(process.execPath, [cmakeJs, 'configure', '--out', buildDir, '--CDCUDA_SSIM_CUDA=ON',
    '--CDCUDA_SSIM_PORTABLE=ON', `--CDCUDA_SSIM_SYSROOT=${sysroot}`], { cwd: root, env });
  if (!/cuda-ssim: CUDA \d/.test(log)) {
    process.stderr.write(log);
    fail(`${v.name}: CMake did not enable CUDA: refusing to write a CPU-only binary under a CUDA name`);
  }
  run(process.execPath, [cmakeJs, 'build', '--out', buildDir], { cwd: root, env });
  const built = path.join(buildDir, 'Release', 'cuda_ssim.node');
  run('strip', ['--strip-unneeded', built]);

  const info = JSON.parse(run(process.execPath, ['-e',
    `const b = require(${JSON.stringify(built)}).backendInfo(); console.log(JSON.stringify(b))`]));
  if (info.cudaCompiled !== true) fail(`${v.name}: the binary reports cudaCompiled = ${info.cudaCompiled}`);
  const fat = listFatbin(built);
  const link = linkage(built);
  const problems = [];
  if (JSON.stringify(fat.sass) !== JSON.stringify(v.sass)) problems.push(`SASS ${fat.sass.join(' ')}, expected ${v.sass.join(' ')}`);
  if (JSON.stringify(fat.ptx) !== JSON.stringify(v.ptx)) problems.push(`PTX ${fat.ptx.join(' ')}, expected ${v.ptx.join(' ')}`);
  if (link.maxGlibc && cmp(link.maxGlibc, GLIBC_FLOOR) > 0) problems.push(`needs GLIBC_${link.maxGlibc} (floor ${GLIBC_FLOOR})`);
  if (link.cxx.length > 0) problems.push(`needs ${link.cxx.join(', ')} (libstdc++ must be static)`);
  if (link.needed.some((n) => /libstdc\+\+|libcudart/.test(n))) problems.push(`links ${link.needed.join(', ')}`);
  if (link.loose.length > 0) problems.push(`undefined without a version: ${link.loose.slice(0, 8).join(', ')}`);
  if (problems.length > 0) fail(`${v.name}: ${problems.join('; ')}`);

  const dest = path.join(outDir, v.file);
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  fs.copyFileSync(built, dest);
  const entry = {
    variant: v.name, file: v.file.split(path.sep).join('/'), cuda, requiredDriverVersion: info.requiredDriverVersion,
    sass: fat.sass, ptx: fat.ptx, maxGlibc: link.maxGlibc, needed: link.needed, bytes: fs.statSync(dest).size,
    sha256: sha256(dest),
  };
  manifest.binaries.push(entry);
  console.log(`prebuild: ${v.name}: built in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
}

fs.writeFileSync(path.join(outDir, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
console.log('prebuild: manifest (prebuilds/linux-x64/manifest.json)');
const minDriver = { 13000: 'R580', 12000: 'R525', 11000: 'R450' };
for (const b of manifest.binaries) {
  console.log(`  ${b.variant.padEnd(9)} CUDA ${b.cuda.padEnd(5)} driver >= ${minDriver[b.requiredDriverVersion] ?? b.requiredDriverVersion}` +
    ` | SASS ${b.sass.join(' ')} | PTX ${b.ptx.join(' ')} | GLIBC <= ${b.maxGlibc}, no GLIBCXX` +
    ` | ${(b.bytes / 1048576).toFixed(1)} MiB`);
}
for (const m of manifest.missing) console.log(`  ${m.variant.padEnd(9)} MISSING: ${m.why}`);
