'use strict';
// Runs a script in a child node process, so that a crash (a signal, an abort) is a test failure
// with its output instead of the end of the test run. The script finds the package at
// process.env.SSIM_PKG_ROOT and reports by printing one JSON line that starts with `RESULT `.

const assert = require('assert');
const { spawnSync } = require('child_process');
const pkg = require('./pkg');

function runChild(script, { env = {}, timeout = 60000, nodeArgs = ['--expose-gc'] } = {}) {
  const r = spawnSync(process.execPath, [...nodeArgs, '-e', script], {
    encoding: 'utf8',
    timeout,
    env: { ...process.env, SSIM_PKG_ROOT: pkg.root, ...env },
    maxBuffer: 64 * 1024 * 1024,
  });
  const line = (r.stdout || '').split('\n').find((l) => l.startsWith('RESULT '));
  return { status: r.status, signal: r.signal, stdout: r.stdout || '', stderr: r.stderr || '', error: r.error, result: line ? JSON.parse(line.slice(7)) : undefined };
}

// The child exited normally (status 0, no signal) and reported a result; returns the result.
function expectClean(r, what) {
  const tail = (s) => s.split('\n').slice(-15).join('\n');
  assert.ok(!r.error, `${what}: could not run the child: ${r.error}`);
  assert.ok(r.signal === null && r.status === 0,
    `${what}: the child process ended with ${r.signal ? `signal ${r.signal}` : `exit code ${r.status}`}\nstdout:\n${tail(r.stdout)}\nstderr:\n${tail(r.stderr)}`);
  assert.ok(r.result !== undefined, `${what}: no RESULT line\nstdout:\n${tail(r.stdout)}\nstderr:\n${tail(r.stderr)}`);
  return r.result;
}

module.exports = { runChild, expectClean };
