'use strict';
// Child of test/cli-threadpool.test.js. Runs bin/cuda-ssim.js as the command does (`--version`),
// with the core count it reads replaced by PROBE_CORES, then measures the libuv thread pool this
// process really got: PROBE_BLOCK reads on FIFOs that nothing writes to hold that many pool
// threads, and an fs.stat completes only if a thread is left. Prints one RESULT line.
const fs = require('fs');
const os = require('os');
const path = require('path');
const { execFileSync } = require('child_process');

const cores = Number(process.env.PROBE_CORES);
os.availableParallelism = () => cores;
os.cpus = () => Array.from({ length: cores }, () => ({ model: 'probe', speed: 0, times: {} }));

const bin = path.join(__dirname, '..', '..', 'bin', 'cuda-ssim.js');
const realExit = process.exit;
let exited;
const done = new Promise((resolve) => {
  process.exit = (code) => {
    exited = code;
    resolve();
  };
});
process.argv = [process.argv[0], bin, '--version'];
require(bin);

// Resolves true when fs.stat completes within `ms` while `n` pool threads are blocked.
function statWithBlocked(n, ms) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'uvpool-'));
  const fds = [];
  for (let i = 0; i < n; i++) {
    const f = path.join(dir, `f${i}`);
    execFileSync('mkfifo', [f]);
    fds.push(fs.openSync(f, 'r+'));  // r+: the open does not wait for a writer
  }
  let pending = n;
  const readsDone = n === 0 ? Promise.resolve() : new Promise((resolve) => {
    for (const fd of fds) fs.read(fd, Buffer.alloc(1), 0, 1, null, () => { if (--pending === 0) resolve(); });
  });
  return new Promise((resolve) => {
    let settled = false;
    const finish = (ok) => {
      if (settled) return;
      settled = true;
      for (const fd of fds) fs.writeSync(fd, 'x');  // releases the blocked threads
      readsDone.then(() => {
        for (const fd of fds) fs.closeSync(fd);
        fs.rmSync(dir, { recursive: true, force: true });
        resolve(ok);
      });
    };
    setTimeout(() => finish(false), ms);
    setTimeout(() => fs.stat(dir, () => finish(true)), 50);  // after the reads have started
  });
}

done.then(async () => {
  const size = Number(process.env.UV_THREADPOOL_SIZE);
  const below = await statWithBlocked(size - 1, 1500);
  const at = await statWithBlocked(size, 500);
  console.log('RESULT ' + JSON.stringify({ exited, env: process.env.UV_THREADPOOL_SIZE, freeWithSizeMinusOneBlocked: below, freeWithSizeBlocked: at }));
  realExit(0);
});
