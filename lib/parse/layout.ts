// An image's or a Workspace shape's `layout`: 'hwc' (the default) or 'chw'. A module of its own so
// that lib/workspace.ts can use it without loading lib/parse/image.ts, which loads lib/workspace.ts.

import { expected } from '../errors';
import type { Layout } from '../basic-types';

/** `value` (the `name` key) as a Layout: ERR_SSIM_LAYOUT (a RangeError) for anything but undefined, 'hwc', 'chw'. */
export function layoutOf(value: unknown, name: string): Layout {
  if (value === undefined || value === 'hwc') return 'hwc';
  if (value === 'chw') return 'chw';
  throw expected('ERR_SSIM_LAYOUT', "one of 'hwc', 'chw'", name, value);
}
