#!/usr/bin/env bash
# On the GPU machine (staged like gpu-check.sh): the MS-SSIM tests on CUDA, the GPU ones under
# compute-sanitizer memcheck, the check against PyTorch autograd of a float64 MS-SSIM
# (msssim_torch_check.js / .py), and the MS-SSIM benchmark rows. Logs go to $OUT.
set -uo pipefail
OUT=${OUT:-$(mktemp -d)}; mkdir -p "$OUT"
[ -d node_modules ] || tar -xJf .device/rt.tar.xz
nvidia-smi --query-gpu=name,driver_version,clocks.sm --format=csv,noheader
mocha="node node_modules/mocha/bin/mocha.js --no-config --require test/helpers/setup.js --reporter test/reporter.js --timeout 600000"
echo "== MS-SSIM tests (CUDA available)"
$mocha test/msssim.test.js > "$OUT/msssim-test.log" 2>&1; echo "exit code $?"
grep -E "passed, .* failed|^\s+[0-9]+\) |msssim \(gpu\)|cuda vs|large images|in-place" "$OUT/msssim-test.log" | head -30
echo "== compute-sanitizer memcheck: the GPU MS-SSIM tests"
compute-sanitizer --tool memcheck --error-exitcode 9 $mocha test/msssim.test.js --grep "cuda vs reference|in-place calls" > "$OUT/sanitizer.log" 2>&1
echo "sanitizer exit code $?"; grep -E "ERROR SUMMARY|passed, .* failed" "$OUT/sanitizer.log"
echo "== PyTorch autograd (float64) check"
data=$(mktemp -d)
node bench/device/msssim_torch_check.js "$data" && python3 bench/device/msssim_torch_check.py "$data" 2>&1 | tee "$OUT/torch.log"
echo "== benchmark (MS-SSIM rows)"
node bench/run.js --gpu --out "$OUT" --only msssim_b32_3ch_256_fwdbwd,msssim_fhd_3ch_fwd,msssim_b8_3ch_4k_fwd,msssim_b5_5ch_fhd_fwdbwd > "$OUT/bench.log" 2>&1
echo "bench exit code $?"; grep -E "^#|^msssim_" "$OUT/bench.log"; sed -n '/^MS-SSIM/,$p' "$OUT/bench.log"
