'use strict';
// Docs that must follow the code: docs/API.md's error table has a row for every error code (and
// no other), and docs/ARCHITECTURE.md's "Native module" interface names every export of the addon
// (binding/addon.cc).

const assert = require('assert');
const fs = require('fs');
const path = require('path');
const pkg = require('./helpers/pkg');

const repo = path.join(__dirname, '..');
const read = (file) => fs.readFileSync(path.join(repo, file), 'utf8');

describe('docs follow the code', function () {
  it('docs/API.md\'s error table: one row per code of errorCodes', function () {
    const rows = [...read('docs/API.md').matchAll(/^\| (ERR_SSIM_[A-Z_]+) \|/gm)].map((m) => m[1]);
    assert.deepStrictEqual([...rows].sort(), Object.keys(pkg.api().errorCodes).sort());
    assert.strictEqual(new Set(rows).size, rows.length, 'each code once');
  });

  it('docs/ARCHITECTURE.md\'s native module interface names every export of binding/addon.cc', function () {
    const exported = [...read('binding/addon.cc').matchAll(/exports\.Set\("(\w+)"/g)].map((m) => m[1]);
    assert.ok(exported.length >= 9, `addon exports found: ${exported.join(', ')}`);
    const arch = read('docs/ARCHITECTURE.md');
    const section = arch.slice(arch.indexOf('## Native module'), arch.indexOf('interface DeviceBuffer {'));
    const documented = new Set([...section.matchAll(/^ {2}(\w+)(?:\(|:)/gm)].map((m) => m[1]));
    assert.deepStrictEqual(exported.filter((name) => !documented.has(name)), []);
  });
});
