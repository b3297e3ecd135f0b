#!/usr/bin/env node
'use strict';
// The `cuda-ssim` command: see `cuda-ssim --help` and the README ("The cuda-ssim command").
// Decoding (sharp) and the addon's async calls share libuv's thread pool: give it room first.
if (!process.env.UV_THREADPOOL_SIZE) {
  const os = require('node:os');
  const cpus = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  process.env.UV_THREADPOOL_SIZE = String(Math.min(128, Math.max(4, cpus + 2)));
}
require('../dist/cli.js').main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`cuda-ssim: ${err && err.stack ? err.stack : err}\n`);
    process.exitCode = 2;
  },
);
