#!/usr/bin/env bash
# On the GPU machine (see stage-package.sh): the test suites on the installed tarball's prebuilt
# binaries. The repository's root loads the same prebuilt binaries (prebuilds/ is linked to the
# installed package's, and no build/ travels). Logs go to $OUT.
#   PHASE=tests    : the whole suite (repo root, main binary), the GPU suite from the installed
#                    package (main binary), and again with CUDA_SSIM_PREBUILT=cuda11.8;
#   PHASE=sanitize : compute-sanitizer memcheck (GPU suite + CUDA ssimMap tests) and racecheck;
#   PHASE=bench    : the benchmark.
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
[[ -d node_modules ]] || tar -xJf .device/rt.tar.xz
[[ -d .device/app/node_modules ]] || { mkdir -p .device/app && tar -xJf .device/app.tar.xz -C .device/app; }
rm -rf build && ln -sfn "$PWD/.device/app/node_modules/cuda-ssim/prebuilds" prebuilds
app="$PWD/.device/app/node_modules/cuda-ssim"
mocha="node node_modules/mocha/bin/mocha.js"
gpu_only="--no-config --reporter test/reporter.js --require test/helpers/setup.js --timeout 900000"
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
node -e "const i=require('.').backendInfo(); console.log('repo root:', JSON.stringify(i.binary), i.backend, i.cuda.devices.map(d => d.name + ' usable=' + d.usable).join())"
for phase in ${PHASE:-tests}; do
  case $phase in
  tests)
    echo "== whole suite, repository root on the prebuilt main binary"
    $mocha --ignore test/package.test.js 2>&1 | tee "$OUT/suite.log" | grep -E "passed, .* failed|^\s+[0-9]+\) " | head -30
    for variant in main cuda11.8; do
      echo "== GPU suite from the installed tarball, CUDA_SSIM_PREBUILT=$variant"
      CUDA_SSIM_PREBUILT=$variant SSIM_TEST_PACKAGE_ROOT="$app" node -e "const i=require('$app').backendInfo(); console.log(JSON.stringify(i.binary), 'runtime', i.cuda.runtimeVersion, 'driver', i.cuda.driverVersion)"
      CUDA_SSIM_PREBUILT=$variant SSIM_TEST_PACKAGE_ROOT="$app" $mocha $gpu_only test/gpu.test.js test/map.test.js test/promises.test.js test/lifetime.test.js 2>&1 \
        | tee "$OUT/gpu-$variant.log" | grep -E "passed, .* failed|^\s+[0-9]+\) " | head -30
    done ;;
  sanitize)
    echo "== compute-sanitizer memcheck: GPU suite and the CUDA ssimMap tests"
    compute-sanitizer --tool memcheck --error-exitcode 9 $mocha $gpu_only test/gpu.test.js test/map.test.js > "$OUT/memcheck.log" 2>&1
    echo "memcheck exit code $?"; grep -E "ERROR SUMMARY|passed, .* failed" "$OUT/memcheck.log" | tail -3
    echo "== compute-sanitizer racecheck: values and gradients, accuracy cases"
    compute-sanitizer --tool racecheck --error-exitcode 9 $mocha $gpu_only -g "values and gradients|accuracy" test/gpu.test.js > "$OUT/racecheck.log" 2>&1
    echo "racecheck exit code $?"; grep -E "RACECHECK SUMMARY|ERROR SUMMARY|passed, .* failed" "$OUT/racecheck.log" | tail -3 ;;
  bench)
    echo "== benchmark"
    node bench/run.js --gpu --out "$OUT" ${BENCH_ARGS:-} > "$OUT/bench.log" 2>&1; echo "bench exit code $?"
    sed -n '/^GPU:/,$p' "$OUT/bench.log" ;;
  esac
done
