'use strict';
// The two halves of evaluate()'s pipeline, each alone: the size-group batcher
// (dist/evaluate/batcher.js: grouping, batch limits, stacking, results per pair) and the
// scheduler (dist/evaluate/scheduler.js: bounded decoding, bounded queue, one batch per idle
// lane, stopping) driven by fake work whose every step the test releases by hand.

const assert = require('assert');
const path = require('path');
const pkg = require('./helpers/pkg');

const batcherModule = () => require(path.join(pkg.root, 'dist', 'evaluate', 'batcher.js'));
const schedulerModule = () => require(path.join(pkg.root, 'dist', 'evaluate', 'scheduler.js'));

function image(width, height, channels, fill, sixteen = false) {
  const data = sixteen ? new Uint16Array(width * height * channels) : new Uint8Array(width * height * channels);
  for (let i = 0; i < data.length; i++) data[i] = (fill + i) % (sixteen ? 65536 : 256);
  return { data, width, height, channels };
}

function pair(id, width, height, channels = 3, opts = {}) {
  return {
    info: { id, reference: `ref/${id}.png`, test: `test/${id}.png` },
    ref: image(width, height, channels, 10, opts.ref16),
    test: image(width, height, channels, 20, opts.test16),
  };
}

const ids = (items) => items.map((p) => p.info.id);

describe('evaluate pipeline: the size-group batcher', function () {
  it('take(): the largest group first (the first group on a tie), at most batchSize pairs, in arrival order', function () {
    const { Batcher } = batcherModule();
    const b = new Batcher(2);
    b.add(pair('a1', 4, 3));
    b.add(pair('b1', 5, 3));
    b.add(pair('a2', 4, 3));
    b.add(pair('b2', 5, 3));
    b.add(pair('b3', 5, 3));
    b.add(pair('c1', 4, 3, 1)); // same width and height, other channel count: a group of its own
    assert.strictEqual(b.size, 6);
    assert.deepStrictEqual(ids(b.take()), ['b1', 'b2']); // b: 3 pairs, batch size 2
    assert.strictEqual(b.size, 4);
    assert.deepStrictEqual(ids(b.take()), ['a1', 'a2']); // a: 2, b: 1, c: 1
    assert.deepStrictEqual(ids(b.take()), ['b3']); // b and c tie at 1: b came first
    assert.deepStrictEqual(ids(b.take()), ['c1']);
    assert.strictEqual(b.size, 0);
    assert.deepStrictEqual(b.take(), []);
  });

  it('take(): at most maxElements elements per batch, but always one pair (the default limit is 4 Mi elements)', function () {
    const { Batcher, MAX_BATCH_ELEMENTS } = batcherModule();
    assert.strictEqual(MAX_BATCH_ELEMENTS, 4 * 1024 * 1024);
    const b = new Batcher(16, 4 * 3 * 3 * 2 + 1); // room for two 4x3x3 pairs
    for (let i = 0; i < 5; i++) b.add(pair(`p${i}`, 4, 3));
    assert.deepStrictEqual(ids(b.take()), ['p0', 'p1']);
    const big = new Batcher(16, 10); // not even one pair fits: one per batch
    big.add(pair('x', 4, 3));
    big.add(pair('y', 4, 3));
    assert.deepStrictEqual([ids(big.take()), ids(big.take())], [['x'], ['y']]);
  });

  it('an 8-bit image against a 16-bit one is widened (v * 257) and grouped with 16-bit pairs', function () {
    const { Batcher } = batcherModule();
    const b = new Batcher(16);
    b.add(pair('eight', 2, 2, 1));
    b.add(pair('mixed', 2, 2, 1, { ref16: true }));
    b.add(pair('sixteen', 2, 2, 1, { ref16: true, test16: true }));
    const first = b.take();
    assert.deepStrictEqual(ids(first), ['mixed', 'sixteen']);
    assert.ok(first[0].test.data instanceof Uint16Array);
    assert.deepStrictEqual(Array.from(first[0].test.data), [20 * 257, 21 * 257, 22 * 257, 23 * 257]);
    assert.deepStrictEqual(ids(b.take()), ['eight']);
  });

  it('stack(): x holds the tests and y the references, one pair after the other; one pair goes without a copy', function () {
    const { stack } = batcherModule();
    const p = [pair('a', 2, 1, 2), pair('b', 2, 1, 2)];
    p[1].test.data.fill(7);
    const two = stack(p);
    assert.deepStrictEqual({ ...two, x: Array.from(two.x), y: Array.from(two.y) },
      { width: 2, height: 1, channels: 2, count: 2, x: [20, 21, 22, 23, 7, 7, 7, 7], y: [10, 11, 12, 13, 10, 11, 12, 13] });
    const one = stack([p[0]]);
    assert.strictEqual(one.x, p[0].test.data, 'a decoded array that owns its buffer is handed over');
    assert.strictEqual(one.y, p[0].ref.data);
    const view = pair('v', 2, 1, 2);
    view.test.data = new Uint8Array([0, 1, 2, 3, 4, 5]).subarray(1, 5);
    const copied = stack([view]);
    assert.notStrictEqual(copied.x, view.test.data, 'a view into a larger buffer is copied (the copy can be transferred)');
    assert.deepStrictEqual([Array.from(copied.x), copied.x.byteOffset, copied.x.buffer.byteLength], [[1, 2, 3, 4], 0, 4]);
  });

  it('unstack(): one result per pair, maps cropped; a value that is not a finite number is a non-finite error', function () {
    const { unstack } = batcherModule();
    const items = [pair('a', 4, 3, 1), pair('b', 4, 3, 1), pair('c', 4, 3, 1)];
    const values = new Float32Array([0.5, NaN, 0.25]);
    const maps = Float32Array.from({ length: 3 * 2 * 1 }, (_, i) => i); // crop 1: 2x1 per map
    const results = unstack(items, { values, maps }, { padding: 'valid', windowSize: 3 });
    assert.deepStrictEqual(results[0], {
      id: 'a', reference: 'ref/a.png', test: 'test/a.png', status: 'ok', ssim: 0.5, dssim: 0.5, width: 4, height: 3,
      map: { data: new Float32Array([0, 1]), width: 2, height: 1 }, convention: 'default',
    });
    assert.deepStrictEqual([results[1].status, results[1].ssim, results[1].error.code, results[1].error.file], ['error', null, 'non-finite', 'test/b.png']);
    assert.match(results[1].error.reason, /is NaN, not a finite number/);
    assert.deepStrictEqual([results[2].ssim, results[2].dssim, Array.from(results[2].map.data)], [0.25, 0.75, [4, 5]]);
    assert.strictEqual(unstack([items[0]], { values: new Float32Array([1]), maps: null }, {})[0].map, undefined);
    assert.strictEqual(unstack([items[0]], { values: new Float32Array([1]), maps: null }, { convention: 'matlab' })[0].convention, 'matlab');
  });
});

// A promise the test settles by hand.
function deferred() {
  let resolve;
  const promise = new Promise((r) => { resolve = r; });
  return { promise, resolve };
}

const tick = () => new Promise((r) => setImmediate(r));

// Fake work over items 0..n-1: every prepare and compute waits until the test releases it.
function fakeWork(n, overrides = {}) {
  const { Batcher } = batcherModule();
  const log = { preparing: new Map(), computing: [], maxPreparing: 0, maxHeld: 0, computed: [], stopped: false };
  const queue = new Batcher(overrides.batchSize ?? 2);
  const work = {
    items: Array.from({ length: n }, (_, i) => i),
    lanes: ['L0', 'L1'],
    queue,
    concurrency: 3,
    maxQueued: 5,
    stopped: () => log.stopped,
    prepare(i) {
      const d = deferred();
      log.preparing.set(i, d);
      log.maxPreparing = Math.max(log.maxPreparing, log.preparing.size);
      log.maxHeld = Math.max(log.maxHeld, log.preparing.size + queue.size);
      return d.promise.then((keep) => {
        log.preparing.delete(i);
        return keep === false ? undefined : pair(String(i), 4, 3);
      });
    },
    compute(lane, batch) {
      assert.ok(!log.computing.some((c) => c.lane === lane), `${lane} computes one batch at a time`);
      const d = deferred();
      const entry = { lane, ids: ids(batch), d };
      log.computing.push(entry);
      return d.promise.then(() => {
        log.computing.splice(log.computing.indexOf(entry), 1);
        log.computed.push(entry.ids);
      });
    },
    ...overrides,
  };
  return { work, log };
}

describe('evaluate pipeline: the scheduler', function () {
  it('prepares at most `concurrency` items and holds at most `maxQueued`; each idle lane gets the next batch; run() resolves when all is done', async function () {
    const { Scheduler } = schedulerModule();
    const { work, log } = fakeWork(9);
    const s = new Scheduler(work);
    let finished = false;
    const run = s.run().then(() => { finished = true; });
    assert.deepStrictEqual([...log.preparing.keys()], [0, 1, 2], 'concurrency 3');
    for (const i of [0, 1, 2]) log.preparing.get(i).resolve();
    await tick();
    // 3 prepared: both lanes took a batch ([0, 1] and [2]); 3 more started
    assert.deepStrictEqual(log.computing.map((c) => [c.lane, c.ids]), [['L0', ['0', '1']], ['L1', ['2']]]);
    assert.deepStrictEqual([...log.preparing.keys()], [3, 4, 5]);
    for (const i of [3, 4, 5]) log.preparing.get(i).resolve();
    await tick();
    // lanes busy: 3 wait in the queue, 2 more may start (3 + 2 = maxQueued 5)
    assert.deepStrictEqual([work.queue.size, ...log.preparing.keys()], [3, 6, 7]);
    log.computing[0].d.resolve(); // L0 done: it takes [3, 4] (starting comes first: item 8 waits for the next step)
    await tick();
    assert.deepStrictEqual(log.computing.map((c) => [c.lane, c.ids]), [['L1', ['2']], ['L0', ['3', '4']]]);
    assert.deepStrictEqual([work.queue.size, ...log.preparing.keys()], [1, 6, 7]);
    log.preparing.get(6).resolve(); // 2 queued + 1 preparing: item 8 starts
    await tick();
    assert.deepStrictEqual([work.queue.size, ...log.preparing.keys()], [2, 7, 8]);
    while (!finished) {
      for (const d of log.preparing.values()) d.resolve();
      for (const c of log.computing) c.d.resolve();
      await tick();
    }
    await run;
    assert.deepStrictEqual(log.computed.flat().sort(), ['0', '1', '2', '3', '4', '5', '6', '7', '8']);
    assert.deepStrictEqual([log.maxPreparing, log.maxHeld, s.interrupted], [3, 5, false]);
  });

  it('an item prepared to nothing is not queued, and one prepared without waiting takes no slot', async function () {
    const { Scheduler } = schedulerModule();
    const { work, log } = fakeWork(4, { concurrency: 1 });
    const prepare = work.prepare;
    work.prepare = (i) => (i === 0 || i === 1 ? undefined : prepare(i));
    const s = new Scheduler(work);
    const run = s.run();
    assert.deepStrictEqual([...log.preparing.keys()], [2], 'items 0 and 1 took no slot');
    log.preparing.get(2).resolve(false); // prepared to nothing (its result is out already)
    await tick();
    assert.deepStrictEqual([work.queue.size, log.computing.length, ...log.preparing.keys()], [0, 0, 3]);
    log.preparing.get(3).resolve();
    await tick();
    log.computing[0].d.resolve();
    await run;
    assert.deepStrictEqual([log.computed, s.interrupted], [[['3']], false]);
  });

  it('stopped: nothing more starts, waiting items are dropped, what runs finishes; interrupted', async function () {
    const { Scheduler } = schedulerModule();
    const { work, log } = fakeWork(9, { lanes: ['L0'] });
    const s = new Scheduler(work);
    let finished = false;
    const run = s.run().then(() => { finished = true; });
    for (const i of [0, 1, 2]) log.preparing.get(i).resolve();
    await tick();
    assert.deepStrictEqual([log.computing.map((c) => c.ids), work.queue.size, [...log.preparing.keys()]], [[['0', '1']], 1, [3, 4, 5]]);
    log.stopped = true;
    s.wake();
    log.preparing.get(3).resolve();
    log.preparing.get(4).resolve();
    await tick();
    assert.strictEqual(finished, false, 'item 5 is still being prepared, L0 still computes');
    log.computing[0].d.resolve();
    await tick();
    assert.deepStrictEqual([log.computing.length, finished], [0, false], 'no batch starts once stopped');
    log.preparing.get(5).resolve();
    await run;
    assert.deepStrictEqual([log.computed, log.preparing.size, s.interrupted], [[['0', '1']], 0, true]);
  });
});
