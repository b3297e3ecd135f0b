#!/usr/bin/env bash
# On the GPU machine (see stage-package.sh): the test suites on the installed tarball's prebuilt
# binaries. The repository's root loads the same prebuilt binaries (prebuilds/ is linked to the
# installed package's, and no build/ travels). Logs go to $OUT.
#   PHASE=tests    : the whole suite (repo root, main binary), the GPU suites from the installed
#                    package for each of VARIANTS (default: main cuda11.8; CUDA_SSIM_PREBUILT),
#                    GPU_FILES (default: every GPU suite);
#   PHASE=sanitize : kernel_check, compute-sanitizer memcheck (GPU, ssimMap, MS-SSIM, half, interop suites),
#                    racecheck (SSIM values, gradients, accuracy; MS-SSIM against the reference, folded combination);
#   PHASE=bench    : the benchmark.
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
[[ -d node_modules ]] || tar -xJf .device/rt.tar.xz
[[ -d .device/app/node_modules ]] || { mkdir -p .device/app && tar -xJf .device/app.tar.xz -C .device/app; }
rm -rf build && ln -sfn "$PWD/.device/app/node_modules/cuda-ssim/prebuilds" prebuilds
# the interop tests' second addon, built where nvcc and Node's headers are (npm run build:test-addon)
if [[ -f .device/interop_addon.node ]]; then mkdir -p build/interop_addon && cp .device/interop_addon.node build/interop_addon/; fi
app="$PWD/.device/app/node_modules/cuda-ssim"
mocha="node node_modules/mocha/bin/mocha.js"
gpu_only="--no-config --reporter test/reporter.js --require test/helpers/setup.js --timeout 900000"
gpu_files=${GPU_FILES:-"test/gpu.test.js test/map.test.js test/promises.test.js test/lifetime.test.js test/msssim.test.js test/gpu-half.test.js test/gpu-transfers.test.js test/interop.test.js"}
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
node -e "const i=require('.').backendInfo(); console.log('repo root:', JSON.stringify(i.binary), i.backend, i.cuda.devices.map(d => d.name + ' usable=' + d.usable).join())"
for phase in ${PHASE:-tests}; do
  case $phase in
  tests)
    echo "== whole suite, repository root on the prebuilt main binary"
    $mocha --ignore test/package.test.js 2>&1 | tee "$OUT/suite.log" | grep -E "passed, .* failed|^\s+[0-9]+\) " | head -30
    for variant in ${VARIANTS:-main cuda11.8}; do
      echo "== GPU suite from the installed tarball, CUDA_SSIM_PREBUILT=$variant"
      CUDA_SSIM_PREBUILT=$variant SSIM_TEST_PACKAGE_ROOT="$app" node -e "const i=require('$app').backendInfo(); console.log(JSON.stringify(i.binary), 'runtime', i.cuda.runtimeVersion, 'driver', i.cuda.driverVersion)"
      CUDA_SSIM_PREBUILT=$variant SSIM_TEST_PACKAGE_ROOT="$app" $mocha $gpu_only $gpu_files 2>&1 \
        | tee "$OUT/gpu-$variant.log" | grep -E "passed, .* failed|^\s+[0-9]+\) " | head -30
    done ;;
  sanitize)
    echo "== kernel_check (the kernels against a float64 host reference, launch-order chain)"
    nvcc -std=c++17 -O3 -arch=sm_90 -I cuda test/native/kernel_check.cu cuda/gpu/ssim_cuda.cu -o /tmp/kernel_check && /tmp/kernel_check --no-bench > "$OUT/kernel_check.log" 2>&1
    echo "kernel_check exit code $?"; tail -3 "$OUT/kernel_check.log"
    echo "== compute-sanitizer memcheck: GPU suite, ssimMap, MS-SSIM, half precision, interop"
    compute-sanitizer --tool memcheck --error-exitcode 9 $mocha $gpu_only test/gpu.test.js test/map.test.js test/msssim.test.js test/gpu-half.test.js test/interop.test.js > "$OUT/memcheck.log" 2>&1
    echo "memcheck exit code $?"; grep -E "ERROR SUMMARY|passed, .* failed" "$OUT/memcheck.log" | tail -3
    echo "== compute-sanitizer racecheck: values and gradients, accuracy cases, MS-SSIM (its pyramid kernels and folded combination share memory)"
    compute-sanitizer --tool racecheck --error-exitcode 9 $mocha $gpu_only -g "values and gradients|accuracy|cuda vs reference|combine in the coarse" test/gpu.test.js test/msssim.test.js > "$OUT/racecheck.log" 2>&1
    echo "racecheck exit code $?"; grep -E "RACECHECK SUMMARY|ERROR SUMMARY|passed, .* failed" "$OUT/racecheck.log" | tail -3 ;;
  bench)
    # The ceilings program (copy and fp32 rates) is the benchmark's own: built here with nvcc, next
    # to where bench/run.js looks for it (a build/Release without a .node: the prebuilt stays in use).
    mkdir -p build/Release && nvcc -O3 -arch=sm_90 bench/native/ceilings.cu -o build/Release/cuda_ssim_ceilings || echo "ceilings build failed"
    echo "== benchmark"
    node bench/run.js --gpu --out "$OUT" ${BENCH_ARGS:-} > "$OUT/bench.log" 2>&1; echo "bench exit code $?"
    sed -n '/^GPU:/,$p' "$OUT/bench.log" ;;
  esac
done
