#!/usr/bin/env bash
# On the GPU machine (see stage.sh): the whole test suite on CUDA, the GPU suite under
# compute-sanitizer memcheck, the kernels' own check (test/native/kernel_check.cu, built by
# stage.sh), then the benchmark. Logs and results go to $OUT.
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
[ -d node_modules ] || tar -xJf .device/rt.tar.xz
nvidia-smi --query-gpu=name,driver_version,clocks.sm,temperature.gpu --format=csv,noheader
node -e "const i=require('.').backendInfo(); console.log(i.backend, JSON.stringify(i.cuda.devices))"
mocha="node node_modules/mocha/bin/mocha.js"
if [ "${SKIP_TESTS:-0}" != 1 ]; then
  echo "== npm test (CUDA available)"
  $mocha 2>&1 | tee "$OUT/test.log" | grep -E "passed, .* failed|failing|^\s+[0-9]+\) " | head -40
  echo "== compute-sanitizer memcheck: GPU suite and the CUDA ssimMap tests"
  compute-sanitizer --tool memcheck --error-exitcode 9 $mocha --no-config --reporter test/reporter.js \
    --require test/helpers/setup.js --timeout 900000 test/gpu.test.js test/map.test.js > "$OUT/sanitizer.log" 2>&1
  echo "sanitizer exit code $?"; grep -E "ERROR SUMMARY|passed, .* failed" "$OUT/sanitizer.log"
fi
if [ "${SKIP_KERNEL_CHECK:-0}" != 1 ]; then
  echo "== kernel_check --no-bench (cuda/gpu/ssim_cuda.cu against a float64 host reference)"
  if [ -x .device/bin/kernel_check ]; then
    .device/bin/kernel_check --no-bench > "$OUT/kernel_check.log" 2>&1; echo "kernel_check exit code $?"
    grep -E "^FAIL|PASSED|FAILED" "$OUT/kernel_check.log" | tail -20
  else
    echo "kernel_check: .device/bin/kernel_check not built (stage.sh builds it)"
  fi
fi
echo "== cross-check against scikit-image"
node bench/device/crosscheck.js /tmp/crosscheck > /dev/null && python3 bench/device/crosscheck.py /tmp/crosscheck | tee "$OUT/crosscheck.log" | tail -3
if [ "${SKIP_BENCH:-0}" != 1 ]; then
  echo "== benchmark"
  node bench/run.js --gpu --out "$OUT" ${BENCH_ARGS:-} > "$OUT/bench.log" 2>&1; echo "bench exit code $?"
  sed -n '/^GPU:/,$p' "$OUT/bench.log"
fi
if [ "${EVAL_BENCH:-0}" = 1 ]; then
  echo "== evaluate throughput (1080p PNG pairs, CUDA)"
  node bench/evaluate.js --backend cuda ${EVAL_ARGS:-} --out "$OUT/evaluate.json" > "$OUT/evaluate.log" 2>&1; echo "evaluate exit code $?"
  tail -15 "$OUT/evaluate.log"
fi
