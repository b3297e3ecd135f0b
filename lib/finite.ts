// A result is finite or the call throws ERR_SSIM_NONFINITE. float32 overflows where the data lie
// far outside [0, dataRange] (data in [0, 1] with dataRange 1e-30, say), which no option check can
// see without reading the data. Host outputs are scanned here, right after they were written;
// device outputs stay on the stream unread (docs/API.md says so). A NaN or infinity in the inputs
// still comes out as NaN (the documented propagation): the inputs are scanned only when an output
// is not finite, and where they are device memory the output is left as it is. A call with values
// has its values checked, not its gradient: each image's value averages every pixel's SSIM, whose
// partials the gradient is made of, so an overflow shows there, and an O(n) scan of the gradient
// would cost the host path ~15% (the gradient of a gradient-only call is scanned).

import type { DType } from './basic-types';
import { ssimError } from './errors';
import { halfAllFinite, halfFirstNonFinite, isHalfDType } from './half';
import { typedArrayBuffer, typedArrayByteOffset, typedArrayLength } from './util';

function allFinite(a: unknown, dtype: DType): boolean {
  if (!ArrayBuffer.isView(a)) return false;  // device memory: cannot tell here
  if (isHalfDType(dtype)) return halfAllFinite(a, dtype);  // the bits of half-precision data
  if (!(a instanceof Float32Array) && !(a instanceof Float64Array)) return true;  // integer data
  const buffer = typedArrayBuffer.call(a) as ArrayBuffer;
  const view = a instanceof Float32Array
    ? new Float32Array(buffer, typedArrayByteOffset.call(a), typedArrayLength.call(a))
    : new Float64Array(buffer, typedArrayByteOffset.call(a), typedArrayLength.call(a));
  for (let i = 0; i < view.length; i++) if (!Number.isFinite(view[i])) return false;
  return true;
}

/**
 * Throws ERR_SSIM_NONFINITE for the first output (a host Float32Array, or the host bits of a half
 * dtype given third; others are skipped) holding NaN or an infinity, unless the inputs `x` and `y`
 * (of `dtype`) are not all finite host data themselves.
 */
export function requireFinite(x: unknown, y: unknown, dtype: DType, ...outputs: (readonly [string, unknown, DType?])[]): void {
  for (const [name, a, outDtype] of outputs) {
    if (isHalfDType(outDtype) && a instanceof Uint16Array) {
      const i = halfFirstNonFinite(a, outDtype);
      if (i >= 0 && allFinite(x, dtype) && allFinite(y, dtype)) {
        throw ssimError('ERR_SSIM_NONFINITE', `The ${name} is not finite at index ${i}: it overflowed ${outDtype} (or float32). ` +
          "Scale the data or dataRange, or ask for a float32 gradient (gradientDtype 'float32').");
      }
      continue;
    }
    if (!(a instanceof Float32Array)) continue;
    // A fresh view through the intrinsic getters: the caller's array may override length, buffer,
    // byteOffset (validation reads them the same way).
    const view = new Float32Array(typedArrayBuffer.call(a), typedArrayByteOffset.call(a), typedArrayLength.call(a));
    for (let i = 0; i < view.length; i++) {
      if (!Number.isFinite(view[i])) {
        if (!allFinite(x, dtype) || !allFinite(y, dtype)) return;
        throw ssimError('ERR_SSIM_NONFINITE', `The ${name} is not finite (${view[i]} at index ${i}): float32 overflowed. ` +
          'The data must lie within [0, dataRange] up to a modest factor: scale the data or dataRange to match.');
      }
    }
  }
}
