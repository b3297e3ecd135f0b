// opts.workspace: a live Workspace that fits the call.

import type { NativeDeviceBuffer } from '../native';
import { ssimError, expected } from '../errors';
import { isWorkspace, workspaceBufferOf, workspaceFits, type Workspace } from '../workspace';
import type { Placement } from './backend';

/** The workspace fields of a job: a CUDA workspace's buffer and capacity, or none. */
export interface WorkspaceParams {
  readonly workspace: NativeDeviceBuffer | null;
  readonly images: number;
  readonly elements: number;
}

const NO_WORKSPACE: WorkspaceParams = Object.freeze({ workspace: null, images: 0, elements: 0 });

/**
 * opts.workspace for a call placed at `at` over `batch` images of `elements` elements in all;
 * `gradientFor`: the function's name when it computes a gradient, else null. A CPU workspace
 * passes the same checks but gives the job nothing.
 */
export function parseWorkspace(ws: unknown, at: Placement, batch: number, elements: number, gradientFor: string | null): WorkspaceParams {
  const w = usableWorkspace(ws, at, gradientFor);
  if (w === undefined) return NO_WORKSPACE;
  if (!workspaceFits(w, batch, elements)) {
    throw ssimError('ERR_SSIM_WORKSPACE', `Expected a Workspace for at least ${batch} images and ${elements} elements for opts.workspace but received one for ${w.images} images and ${w.elements} elements`);
  }
  if (at.backend !== 'cuda') return NO_WORKSPACE;
  return { workspace: workspaceBufferOf(w), images: w.images, elements: w.elements };
}

/**
 * The checks every call's opts.workspace passes, whatever it computes (SSIM or MS-SSIM): a live
 * Workspace of the call's backend and device, with room for gradients when `gradientFor` (the
 * function's name) computes one. undefined when none was given.
 */
export function usableWorkspace(ws: unknown, at: Placement, gradientFor: string | null): Workspace | undefined {
  if (ws === undefined) return undefined;
  if (!isWorkspace(ws)) throw expected('ERR_SSIM_WORKSPACE', 'a Workspace (from Workspace.for())', 'opts.workspace', ws, 'type');
  if (ws.disposed) throw ssimError('ERR_SSIM_WORKSPACE', 'Expected a live Workspace for opts.workspace but received a disposed Workspace');
  const { backend, device } = at;
  if (ws.backend !== backend) {
    throw ssimError('ERR_SSIM_WORKSPACE', `Expected a ${backend} Workspace (this call runs on the ${backend} backend) for opts.workspace but received a ${ws.backend} Workspace`);
  }
  if (backend === 'cuda' && ws.device !== device) {
    throw ssimError('ERR_SSIM_WORKSPACE', `Expected a Workspace on device ${device} for opts.workspace but received one on device ${ws.device}`);
  }
  if (gradientFor !== null && !ws.gradient) {
    throw ssimError('ERR_SSIM_WORKSPACE', `Expected a Workspace with room for gradients for opts.workspace (${gradientFor} computes one) but received a value-only Workspace (made with gradient: false)`);
  }
  return ws;
}
