'use strict';
// Preload for the CLI's interrupt tests (node -r this-file bin/cuda-ssim.js ...): writes a line
// to stderr when a SIGINT listener is added ("[probe] sigint") and when the package's dist/cli.js
// is loaded ("[probe] load dist/cli.js"). The test sends SIGINT the moment the first line shows,
// and checks that the handler comes before anything of the package is loaded.

const Module = require('module');

let sigint = false;
process.on('newListener', (event) => {
  if (event === 'SIGINT' && !sigint) {
    sigint = true;
    process.stderr.write('[probe] sigint\n');
  }
});

const load = Module._load;
Module._load = function probeLoad(request, parent, isMain) {
  if (/dist[\\/]cli(\.js)?$/.test(request)) process.stderr.write('[probe] load dist/cli.js\n');
  return load.call(this, request, parent, isMain);
};
