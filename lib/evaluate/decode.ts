// Image files -> pixel arrays with sharp: PNG (8 and 16 bit), JPEG, WebP, TIFF, AVIF. Alpha is
// dropped; grey images become RGB (R = G = B) so that any two images of a size compare. 16-bit
// images give Uint16Array data, all others Uint8Array. 'luma' turns RGB into one channel with the
// BT.601 weights of MATLAB's rgb2gray, rounded to the integer type (as rgb2gray does).

import * as fs from 'node:fs';
import type { ColorMode, PairError } from './types';

/** MATLAB rgb2gray weights (BT.601 luma). */
export const LUMA_WEIGHTS = Object.freeze([0.298936021293775, 0.587043074451121, 0.114020904255103] as const);

/** A decoded image: hwc, `channels` 3 ('rgb') or 1 ('luma'). */
export interface DecodedImage {
  data: Uint8Array | Uint16Array;
  width: number;
  height: number;
  channels: number;
}

// sharp is loaded when the first image is decoded, so that `require('cuda-ssim')` never needs it.
type Sharp = typeof import('sharp').default;
let sharpModule: Sharp | null = null;

/** The sharp module (loaded on first use). */
export function loadSharp(): Sharp {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  if (sharpModule === null) sharpModule = require('sharp') as Sharp;
  return sharpModule;
}

/** A decoding failure, reported as the pair's error. */
export class DecodeError extends Error {
  constructor(readonly pairError: PairError) {
    super(pairError.reason);
  }
}

function luma(rgb: Uint8Array | Uint16Array, pixels: number): Uint8Array | Uint16Array {
  const out = rgb instanceof Uint16Array ? new Uint16Array(pixels) : new Uint8Array(pixels);
  const [wr, wg, wb] = LUMA_WEIGHTS;
  for (let i = 0, j = 0; i < pixels; i++, j += 3) out[i] = Math.round(wr * rgb[j] + wg * rgb[j + 1] + wb * rgb[j + 2]);
  return out;
}

/** Decodes one file; throws DecodeError ('unreadable' or 'decode') with the file named. */
export async function decodeFile(file: string, color: ColorMode): Promise<DecodedImage> {
  let bytes: Buffer;
  try {
    bytes = await fs.promises.readFile(file);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new DecodeError({ code: 'unreadable', file, reason: `cannot read ${file}: ${e.code ?? ''} ${e.message}`.trim() });
  }
  const sharp = loadSharp();
  try {
    const meta = await sharp(bytes).metadata();
    const sixteen = meta.depth === 'ushort';
    const { data, info } = await sharp(bytes, { failOn: 'error', limitInputPixels: false })
      .removeAlpha()
      .toColourspace(sixteen ? 'rgb16' : 'srgb')
      .raw({ depth: sixteen ? 'ushort' : 'uchar' })
      .toBuffer({ resolveWithObject: true });
    const pixels = info.width * info.height;
    if (info.channels !== 3 || data.length !== pixels * 3 * (sixteen ? 2 : 1)) {
      throw new Error(`unexpected decoded layout (${info.channels} channels, ${data.length} bytes)`);
    }
    let arr: Uint8Array | Uint16Array;
    if (sixteen) {
      // a copy, aligned for Uint16Array (the buffer may start at an odd offset of a pool)
      arr = new Uint16Array(pixels * 3);
      new Uint8Array(arr.buffer).set(data);
    } else {
      arr = new Uint8Array(data.buffer, data.byteOffset, data.length);
    }
    if (color === 'luma') return { data: luma(arr, pixels), width: info.width, height: info.height, channels: 1 };
    return { data: arr, width: info.width, height: info.height, channels: 3 };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new DecodeError({ code: 'decode', file, reason: `cannot decode ${file}: ${message}` });
  }
}

/** 8-bit data as 16-bit with the same intensities (v / 255 == 257 v / 65535). */
export function widen(data: Uint8Array): Uint16Array {
  const out = new Uint16Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = data[i] * 257;
  return out;
}
