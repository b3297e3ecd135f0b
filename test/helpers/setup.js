'use strict';
// Root hooks (loaded through .mocharc.json "require"): print the random seed once, and append
// it to every failed test's message so the failure can be replayed.

const { MASTER_SEED } = require('./random');

const replay = `SSIM_TEST_SEED=${MASTER_SEED}`;

function annotate(err, title) {
  if (!err || typeof err !== 'object' || typeof err.message !== 'string' || err.message.includes(replay)) return;
  const line = `[replay: ${replay} npx mocha -g ${JSON.stringify(title)}]`;
  err.message += `\n${line}`;
  // mocha prints the non-frame lines of err.stack: put the line before the first frame
  if (typeof err.stack === 'string') {
    const m = /\n\s+at\s/.exec(err.stack);
    err.stack = m ? `${err.stack.slice(0, m.index)}\n${line}${err.stack.slice(m.index)}` : `${err.stack}\n${line}`;
  }
  // assert.ok(false, msg) would print a useless "-false +true" diff (the reporter has already
  // turned actual/expected into strings when the test failed)
  if (String(err.actual) === 'false' && String(err.expected) === 'true') err.showDiff = false;
}

exports.mochaHooks = {
  beforeAll() {
    console.log(`  random seed ${MASTER_SEED} (replay with ${replay})`);
  },
  afterEach() {
    const t = this.currentTest;
    if (t && t.state === 'failed') annotate(t.err, t.title);
  },
};
