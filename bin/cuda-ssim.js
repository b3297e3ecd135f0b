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
// Exit through process.exit() once stdout and stderr have taken what was written (a pipe takes a
// large write asynchronously). Not by letting the event loop end: Node then tears the environment
// down first, and closing its handles closes the SIGINT watcher, which puts SIGINT's default
// action back while the process is still tearing down (addon and libvips threads, V8): a Ctrl-C in
// that window killed the process by the signal after the run had finished. process.exit() keeps
// the handler installed until the process is gone (a SIGINT then is ignored).
function exit(code) {
  process.exitCode = code;
  let waiting = 2;
  const done = () => {
    if (--waiting === 0) process.exit(code);
  };
  for (const stream of [process.stdout, process.stderr]) {
    if (stream.destroyed || !stream.writable) done();
    else stream.write('', done);
  }
}
require('../dist/cli.js').main(process.argv.slice(2), undefined, { signal: interrupt.signal }).then(
  (code) => exit(code),
  (err) => {
    process.stderr.write(`cuda-ssim: ${err && err.stack ? err.stack : err}\n`);
    exit(interrupt.signal.aborted ? 130 : 2);
  },
);
