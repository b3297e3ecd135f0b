// The TensorFlow.js module that cuda-ssim/tfjs builds tensors with: the caller's, found where it
// is installed (an optional peer dependency), loaded on first use.

import { ssimError } from '../errors';

/** The part of TensorFlow.js that cuda-ssim/tfjs uses. */
export type Tf = typeof import('@tensorflow/tfjs-core');

// tfjs-core is what @tensorflow/tfjs, tfjs-node and tfjs-node-gpu all re-export (one engine,
// which is global, so any of them gives the caller's tensors).
const CANDIDATES = ['@tensorflow/tfjs-core', '@tensorflow/tfjs', '@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu'];

let tf: Tf | null = null;

function notFound(err: unknown, name: string): boolean {
  const e = err as { code?: unknown; message?: unknown };
  return e !== null && typeof e === 'object' && e.code === 'MODULE_NOT_FOUND' && typeof e.message === 'string' && e.message.includes(`'${name}'`);
}

/** TensorFlow.js; ERR_SSIM_TFJS_UNAVAILABLE when none of its packages can be loaded. */
export function tensorflow(): Tf {
  if (tf !== null) return tf;
  for (const name of CANDIDATES) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      tf = require(name) as Tf;
      return tf;
    } catch (err) {
      if (!notFound(err, name)) throw err;
    }
  }
  throw ssimError('ERR_SSIM_TFJS_UNAVAILABLE', `cuda-ssim/tfjs needs TensorFlow.js: install @tensorflow/tfjs (or @tensorflow/tfjs-node) next to cuda-ssim (none of ${CANDIDATES.join(', ')} could be loaded)`);
}
