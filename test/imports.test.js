'use strict';
// The module graph of the compiled package (dist/): which module loads which at run time
// (`require` calls that tsc kept; imports used only as types are erased). No module may load one
// that is still loading it (a circle leaves one of them with undefined bindings at load time),
// and errors.js, which nearly every module loads, loads nothing of the package but util.js.

const assert = require('assert');
const fs = require('fs');
const path = require('path');
const pkg = require('./helpers/pkg');

const dist = path.join(pkg.root, 'dist');

function jsFiles(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return jsFiles(p);
    return e.name.endsWith('.js') ? [p] : [];
  });
}

// The package's own modules that `file` requires, as paths relative to dist/.
function localRequires(file) {
  const out = [];
  for (const m of fs.readFileSync(file, 'utf8').matchAll(/\brequire\(\s*["'](\.{1,2}\/[^"']*)["']\s*\)/g)) {
    const base = path.resolve(path.dirname(file), m[1]);
    const target = [base, `${base}.js`, path.join(base, 'index.js')].find((p) => fs.existsSync(p) && fs.statSync(p).isFile());
    if (target === undefined) throw new Error(`${path.relative(dist, file)}: cannot resolve require('${m[1]}')`);
    if (target.startsWith(dist + path.sep)) out.push(path.relative(dist, target));
  }
  return out;
}

function graph() {
  const g = new Map();
  for (const f of jsFiles(dist)) g.set(path.relative(dist, f), localRequires(f));
  return g;
}

// Every circle of the graph, each once, as [a, b, ..., a].
function circles(g) {
  const found = new Map();
  const state = new Map(); // 1: on the stack, 2: done
  const stack = [];
  const visit = (n) => {
    state.set(n, 1);
    stack.push(n);
    for (const m of g.get(n) || []) {
      if (state.get(m) === 1) {
        const cycle = stack.slice(stack.indexOf(m));
        const key = [...cycle].sort().join(' ');
        if (!found.has(key)) found.set(key, [...cycle, m]);
      } else if (!state.has(m)) {
        visit(m);
      }
    }
    stack.pop();
    state.set(n, 2);
  };
  for (const n of [...g.keys()].sort()) if (!state.has(n)) visit(n);
  return [...found.values()];
}

describe('module graph of dist/ (run-time requires)', function () {
  it('has no circle', function () {
    const g = graph();
    assert.ok(g.size > 20, `dist/ has the package's modules (found ${g.size})`);
    assert.deepStrictEqual(g.get('index.js').includes('device-array.js'), true, 'the graph reads requires (index.js loads device-array.js)');
    assert.deepStrictEqual(circles(g).map((c) => c.join(' > ')), []);
  });

  it('finds a circle where there is one (the check itself)', function () {
    const g = new Map([['a.js', ['b.js']], ['b.js', ['c.js']], ['c.js', ['a.js', 'd.js']], ['d.js', []]]);
    assert.deepStrictEqual(circles(g), [['a.js', 'b.js', 'c.js', 'a.js']]);
  });

  it('errors.js loads nothing of the package but util.js', function () {
    assert.deepStrictEqual(graph().get('errors.js'), ['util.js']);
  });
});
