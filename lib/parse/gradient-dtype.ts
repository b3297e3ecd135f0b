// opts.gradientDtype: the element type of a gradient. 'float32' (the default) for every dtype;
// 'input' for float32, float16 and bfloat16 data: the gradient in x's dtype (the half dtypes get the
// float32 gradient rounded to nearest even, natively: cuda/common/half_types.h).

import { optionError } from '../errors';
import type { DType } from '../types';

/** The gradient's dtype for `value` (opts.gradientDtype) and x's `dtype`: 'float32', 'float16' or 'bfloat16'. */
export function parseGradientDtype(value: unknown, dtype: DType): DType {
  if (value === undefined || value === 'float32') return 'float32';
  if (value !== 'input') throw optionError("one of 'float32', 'input'", 'opts.gradientDtype', value, typeof value !== 'string');
  if (dtype === 'float32' || dtype === 'float16' || dtype === 'bfloat16') return dtype;
  throw optionError(`'float32' (${dtype} data have float32 gradients; 'input' is for float32, float16 and bfloat16 data)`, 'opts.gradientDtype', value, false);
}
