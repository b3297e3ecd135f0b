// sharp, loaded when the first image is decoded, so that `require('cuda-ssim')` never needs it.
// A module of its own: no declaration of the public entries names sharp's types (they differ
// between sharp's CommonJS and ES declarations), so a program that checks our .d.ts files
// (skipLibCheck: false) never reads sharp's.

type Sharp = typeof import('sharp').default;
let sharpModule: Sharp | null = null;

/** The sharp module (loaded on first use). */
export function loadSharp(): Sharp {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  if (sharpModule === null) sharpModule = require('sharp') as Sharp;
  return sharpModule;
}
