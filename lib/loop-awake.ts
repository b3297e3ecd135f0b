// Keeps the event loop polling, not sleeping, while CUDA promise calls on device arrays are in
// flight (lib/native.ts, runJobAsync).
//
// A promise call settles when the addon's waiter thread sees the device finish and wakes this
// thread's event loop. A loop asleep in epoll wakes 5 to 10 us later on a small call, and 80 to 110
// us later once it has slept through a 1 ms call (the core's deeper idle state): on the H200,
// promises measured +12 us over the sync call on fhd_1ch and +100 to +115 us on the 4K and b5 rows,
// and +6 / +20 to +26 us with the loop kept busy (docs/PERFORMANCE.md, "Promise calls and host
// arrays"). So while calls are in flight the loop runs a chain of immediates (other callbacks run
// between them as usual), for at most SPIN_MS after the latest call began: a longer call pays the
// wake-up, a small share of its time, and an idle process never spins. The immediates are ref'd:
// Node polls without sleeping only while a ref'd immediate is pending (an unref'd chain measured
// no gain); the calls in flight hold the loop open anyway, and the chain ends with them.

const SPIN_MS = 5;

let spinMs = SPIN_MS;
let inFlight = 0;
let spinning = false;
let deadline = 0;

function spin(): void {
  if (inFlight > 0 && performance.now() < deadline) {
    setImmediate(spin);
  } else {
    spinning = false;
  }
}

/** A CUDA promise call begins: the loop polls until `callEnded()` or SPIN_MS from now. */
export function callBegan(): void {
  inFlight++;
  deadline = performance.now() + spinMs;
  if (!spinning) {
    spinning = true;
    setImmediate(spin);
  }
}

/** Its promise settled (either way). */
export function callEnded(): void {
  inFlight--;
}

/**
 * Tests only: how long the chain may run after a call begins (null: SPIN_MS), so that a test of
 * how it ends with the call does not depend on a few loop turns fitting in 5 ms.
 */
export function setSpinMsForTesting(ms: number | null): void {
  spinMs = ms ?? SPIN_MS;
}
