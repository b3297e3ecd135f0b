// opts.backend and opts.device: where a call runs.

import { resolveBackend, resolveDevice } from '../backend';
import type { DeviceArray } from '../device-array';
import { expected } from '../errors';
import type { SsimOptions } from '../types';
import type { Unchecked } from '../util';

/** Where a call runs. */
export interface Placement {
  readonly backend: 'cpu' | 'cuda';
  /** The CUDA device (0 on the CPU backend unless opts.device says otherwise). */
  readonly device: number;
}

/**
 * opts.backend ('auto' and CUDA_SSIM_BACKEND resolved), then opts.device. `array`: the DeviceArray
 * behind x.data (its device is the call's: opts.device may only repeat it), or null for host data.
 */
export function parseBackend(o: Unchecked<Pick<SsimOptions, 'backend' | 'device'>>, array: DeviceArray | null): Placement {
  const backend = resolveBackend(o.backend, 'opts.backend', array !== null);
  if (array === null) return { backend, device: resolveDevice(o.device, 'opts.device', backend === 'cuda') };
  const device = array.device;
  if (o.device !== undefined && resolveDevice(o.device, 'opts.device', false) !== device) {
    throw expected('ERR_SSIM_BACKEND', `${device} (the device of x.data) or undefined`, 'opts.device', o.device);
  }
  return { backend, device };
}
