// A result is finite or the call throws ERR_SSIM_NONFINITE. float32 overflows where the data lie
// far outside [0, dataRange] (data in [0, 1] with dataRange 1e-30, say), which no option check can
// see without reading the data. Host outputs are scanned here, right after they were written;
// device outputs stay on the stream unread (docs/API.md says so).

import { ssimError } from './errors';
import { typedArrayBuffer, typedArrayByteOffset, typedArrayLength } from './util';

/** Throws ERR_SSIM_NONFINITE for the first output (a host Float32Array; others are skipped) holding NaN or an infinity. */
export function requireFinite(...outputs: (readonly [string, unknown])[]): void {
  for (const [name, a] of outputs) {
    if (!(a instanceof Float32Array)) continue;
    // A fresh view through the intrinsic getters: the caller's array may override length, buffer,
    // byteOffset (validation reads them the same way).
    const view = new Float32Array(typedArrayBuffer.call(a), typedArrayByteOffset.call(a), typedArrayLength.call(a));
    for (let i = 0; i < view.length; i++) {
      if (!Number.isFinite(view[i])) {
        throw ssimError('ERR_SSIM_NONFINITE', `The ${name} is not finite (${view[i]} at index ${i}): float32 overflowed. ` +
          'The data must lie within [0, dataRange] up to a modest factor: scale the data or dataRange to match.');
      }
    }
  }
}
