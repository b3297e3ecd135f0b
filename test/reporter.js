'use strict';
// Mocha's Spec output, followed by one plain summary line as the very last line of output:
//   N passed, N failed, N skipped
// (passes, failures (tests and hooks), pending: tests that called this.skip() or have no body).

const Mocha = require('mocha');
const { MASTER_SEED } = require('./helpers/random');

const { Spec } = Mocha.reporters;

class SummaryReporter extends Spec {
  // Mocha calls reporter.done(failures, fn) after the run has ended and the epilogue has been
  // written, so this line comes last.
  done(failures, fn) {
    const s = this.stats || {};
    const passes = s.passes || 0;
    const failed = s.failures || 0;
    const pending = s.pending || 0;
    if (failed > 0) process.stdout.write(`random seed: SSIM_TEST_SEED=${MASTER_SEED}\n`);
    process.stdout.write(`${passes} passed, ${failed} failed, ${pending} skipped\n`);
    fn(failures);
  }
}

SummaryReporter.description = 'spec, then "N passed, N failed, N skipped"';

module.exports = SummaryReporter;
