// opts.workspace: a live Workspace that fits the call.

import type { NativeDeviceBuffer } from '../native';
import { ssimError, expected } from '../errors';
import { isWorkspace, workspaceBufferOf, workspaceFits } from '../workspace';
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
  if (ws === undefined) return NO_WORKSPACE;
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
  if (!workspaceFits(ws, batch, elements)) {
    throw ssimError('ERR_SSIM_WORKSPACE', `Expected a Workspace for at least ${batch} images and ${elements} elements for opts.workspace but received one for ${ws.images} images and ${ws.elements} elements`);
  }
  if (backend !== 'cuda') return NO_WORKSPACE;
  return { workspace: workspaceBufferOf(ws), images: ws.images, elements: ws.elements };
}
