// The most scales of an MS-SSIM call. A module of its own so that lib/workspace.ts can use it
// without loading lib/parse/msssim.ts, which loads lib/workspace.ts.

/** Most scales (weights) of a call (cuda/common/msssim.h, kMaxScales). */
export const MAX_SCALES = 16;
