#!/usr/bin/env node
'use strict';
// The `cuda-ssim` command: see `cuda-ssim --help` and the README ("The cuda-ssim command").
// Ctrl-C first: until this handler is installed a SIGINT kills the process (no exit 130, no rows
// written), so it goes before anything is loaded. The first SIGINT stops the run (main() finishes
// the pairs being computed, writes their rows and exits 130), a second one exits 130 at once.
const interrupt = new AbortController();
let interrupts = 0;
process.on('SIGINT', () => {
  interrupts++;
  if (interrupts > 1) process.exit(130);
  interrupt.abort();
});
// Decoding (sharp) and the addon's async calls share libuv's thread pool: give it room first.
if (!process.env.UV_THREADPOOL_SIZE) {
  const os = require('node:os');
  const cpus = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  process.env.UV_THREADPOOL_SIZE = String(Math.min(128, Math.max(4, cpus + 2)));
}
require('../dist/cli.js').main(process.argv.slice(2), undefined, { signal: interrupt.signal }).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`cuda-ssim: ${err && err.stack ? err.stack : err}\n`);
    process.exitCode = interrupt.signal.aborted ? 130 : 2;
  },
);
