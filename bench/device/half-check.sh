#!/usr/bin/env bash
# On the GPU machine, for half-precision inputs: the GPU and CPU half suites, the float16 /
# bfloat16 bench rows next to their float32 ones, the GPU half suite under compute-sanitizer
# memcheck (without its 4K case), and kernel_check --quick when a build of it is given
# (KERNEL_CHECK=path). Logs and results go to $OUT.
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
mocha="node node_modules/mocha/bin/mocha.js --no-config --reporter test/reporter.js --require test/helpers/setup.js --timeout 600000"
nvidia-smi --query-gpu=name,driver_version,clocks.sm --format=csv,noheader
echo "== half-precision tests (CUDA)"
timeout "${TEST_S:-80}" $mocha test/gpu-half.test.js test/half.test.js > "$OUT/half-tests.log" 2>&1; echo "tests exit code $?"
grep -E "✔|^\s+- |^\s+[0-9]+\) |passed, .* failed" "$OUT/half-tests.log" | head -40
echo "== benchmark: float32 and half rows"
ROWS=b32_3ch_256_fwdbwd,b32_3ch_256_fwdbwd_fp16,b32_3ch_256_fwdbwd_fp16_gin,b32_3ch_256_fwdbwd_bf16,b8_3ch_4k_fwd,b8_3ch_4k_fwd_fp16,b8_3ch_4k_fwd_bf16
timeout "${BENCH_S:-100}" node bench/run.js --gpu --out "$OUT" --only "${ROWS}" > "$OUT/bench.log" 2>&1; echo "bench exit code $?"
sed -n '/^GPU:/,$p' "$OUT/bench.log"; grep -E "Error|error" "$OUT/bench.log" | head -5
echo "== compute-sanitizer memcheck: test/gpu-half.test.js (no 4K case)"
timeout "${SAN_S:-45}" compute-sanitizer --tool memcheck --error-exitcode 9 $mocha test/gpu-half.test.js -g 2160x3840 --invert > "$OUT/sanitizer.log" 2>&1
echo "sanitizer exit code $?"; grep -E "ERROR SUMMARY|passed, .* failed" "$OUT/sanitizer.log"
if [ -n "${KERNEL_CHECK:-}" ] && [ -x "$KERNEL_CHECK" ]; then
  echo "== kernel_check --quick"
  timeout "${KC_S:-20}" "$KERNEL_CHECK" --quick > "$OUT/kernel_check.log" 2>&1; echo "kernel_check exit code $?"
  grep -E "f16|bf16|^FAIL|PASSED|FAILED" "$OUT/kernel_check.log" | tail -12
fi
