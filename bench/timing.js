// Helpers shared by the benchmark and the device probes: a millisecond clock, the median, and a
// seeded generator (so that a probe's inputs are the same from run to run).
'use strict';

/** Milliseconds from a monotonic clock. */
const now = () => Number(process.hrtime.bigint()) / 1e6;

/** The median (the upper one of an even count). */
const median = (values) => [...values].sort((a, b) => a - b)[values.length >> 1];

/** A linear congruential generator of numbers in [0, 1), starting from `seed`. */
function seededRandom(seed) {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 4294967296;
}

module.exports = { now, median, seededRandom };
