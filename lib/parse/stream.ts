// opts.stream: a caller's CUDA stream (a cudaStream_t as a bigint) to enqueue the call on.

import { expected } from '../errors';
import type { Placement } from './backend';

const MAX_HANDLE = (1n << 64n) - 1n;

/**
 * opts.stream for a call placed at `at`: undefined (the device's own stream: null) or a bigint
 * handle in [0, 2^64), 0n being CUDA's legacy default stream; only on the CUDA backend.
 */
export function parseStream(value: unknown, at: Placement): bigint | null {
  if (value === undefined) return null;
  if (typeof value !== 'bigint') throw expected('ERR_SSIM_INVALID_ARGUMENT', 'a bigint (a cudaStream_t handle)', 'opts.stream', value);
  if (value < 0n || value > MAX_HANDLE) throw expected('ERR_SSIM_INVALID_ARGUMENT', 'a bigint in [0, 2^64) (a cudaStream_t handle)', 'opts.stream', value, 'range');
  if (at.backend !== 'cuda') throw expected('ERR_SSIM_BACKEND', "undefined (a CUDA stream needs the 'cuda' backend; this call runs on the CPU)", 'opts.stream', value);
  return value;
}
