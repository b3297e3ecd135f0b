'use strict';
// The fuzz suite: test/fuzz/runner.js in a child process (a crash names its case), seeded from
// the run's seed. Each case is replayable alone (the failure message prints the command).
//
//   SSIM_FUZZ_CASES=100000 npm test -- -g fuzz     more cases (default 5000, a few seconds)
//   SSIM_FUZZ_SEED=<n>                            the runner's seed (default: from SSIM_TEST_SEED)
//   SSIM_FUZZ_PENDING=0                           report the groups of issue 11 items 1, 2 (flat
//                                                 images with tiny k, extreme options) as pending
//                                                 instead of failing (they fail by default)
//
// Pending cases, if any, are listed in the test's output (count and one replayable example each).

const assert = require('assert');
const path = require('path');
const { MASTER_SEED, hashString } = require('./helpers/random');
const { runChild } = require('./helpers/child');

const RUNNER = path.join(__dirname, 'fuzz', 'runner.js');

describe('fuzz: the public API against the reference, coded errors, no crashes (child process)', function () {
  it('every call returns reference-accurate finite results or throws an ERR_SSIM_* error (not ERR_SSIM_INTERNAL)', function () {
    const seed = process.env.SSIM_FUZZ_SEED !== undefined ? Number(process.env.SSIM_FUZZ_SEED) >>> 0 : hashString('fuzz', MASTER_SEED);
    const cases = Number(process.env.SSIM_FUZZ_CASES || 5000);
    this.timeout(Math.max(120000, cases * 100));
    const r = runChild(`require(${JSON.stringify(RUNNER)})`, {
      env: { SSIM_FUZZ_SEED: String(seed), SSIM_FUZZ_CASES: String(cases) },
      timeout: Math.max(110000, cases * 90),
      nodeArgs: [],
    });
    const lines = r.stdout.split('\n');
    const lastCase = [...lines].reverse().find((l) => l.startsWith('CASE '));
    if (r.signal !== null || r.status !== 0 || r.result === undefined) {
      const i = lastCase ? Number(lastCase.slice(5)) : NaN;
      assert.fail(`the fuzz runner ended with ${r.signal ? `signal ${r.signal}` : `exit code ${r.status}`} in case ${i}` +
        ` (replay: SSIM_FUZZ_SEED=${seed} SSIM_FUZZ_CASE=${i} node test/fuzz/runner.js)\nstderr:\n${r.stderr.split('\n').slice(-20).join('\n')}`);
    }
    const res = r.result;
    for (const [group, p] of Object.entries(res.pending)) {
      console.log(`      pending ${group}: ${p.count} case(s), ${p.what}; e.g. ${p.example.replay} (${p.example.fn}, ${p.example.problem})`);
    }
    console.log(`      ${res.ran} cases in ${res.seconds.toFixed(1)} s (seed ${seed}): ${JSON.stringify(res.groups)}`);
    assert.strictEqual(res.ran, cases, 'every case ran');
    if (res.failureCount > 0) {
      const shown = res.failures.slice(0, 8).map((f) => `  case ${f.case} [${f.group}] ${f.fn} (${f.mode}) ${JSON.stringify(f.spec)} opts ${f.opts}${f.note ? ` (${f.note})` : ''}: ${f.problem}${f.knownPending ? ` [known pending: ${f.knownPending}]` : ''}\n    replay: ${f.replay}`);
      assert.fail(`${res.failureCount} of ${res.ran} fuzz cases failed:\n${shown.join('\n')}`);
    }
  });
});
