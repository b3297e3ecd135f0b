// Image files -> pixel arrays with sharp: PNG (8 and 16 bit), JPEG, WebP, TIFF, AVIF. Alpha is
// dropped; grey images become RGB (R = G = B) so that any two images of a size compare. 16-bit
// images give Uint16Array data, all others Uint8Array. 'luma' turns RGB into one channel with the
// BT.601 weights of MATLAB's rgb2gray, rounded to the integer type (as rgb2gray does).

import * as fs from 'node:fs';
import { RGB2GRAY } from '../preprocess';
import { loadSharp } from './sharp';
import type { ColorMode, PairError } from './types';


/** A decoded image: hwc, `channels` 3 ('rgb') or 1 ('luma'). */
export interface DecodedImage {
  data: Uint8Array | Uint16Array;
  width: number;
  height: number;
  channels: number;
}

/** A decoding failure, reported as the pair's error. */
export class DecodeError extends Error {
  constructor(readonly pairError: PairError) {
    super(pairError.reason);
  }
}

function luma(rgb: Uint8Array | Uint16Array, pixels: number): Uint8Array | Uint16Array {
  const out = rgb instanceof Uint16Array ? new Uint16Array(pixels) : new Uint8Array(pixels);
  const [wr, wg, wb] = RGB2GRAY; // MATLAB rgb2gray's weights (BT.601 luma), as opts.grayscale
  for (let i = 0, j = 0; i < pixels; i++, j += 3) out[i] = Math.round(wr * rgb[j] + wg * rgb[j + 1] + wb * rgb[j + 2]);
  return out;
}

/** Default of the option maxFileSize (and --max-file-size): 512 MiB. */
export const DEFAULT_MAX_FILE_SIZE = 512 * 1024 * 1024;

function fileKind(st: fs.Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

function notAFile(file: string, st: fs.Stats): DecodeError {
  return new DecodeError({ code: 'not-a-file', file, reason: `${file} is ${fileKind(st)}, not a regular file: only regular files are read` });
}

function tooLarge(file: string, size: number, maxFileSize: number): DecodeError {
  return new DecodeError({ code: 'too-large', file, reason: `${file} has ${size} bytes, more than the maximum file size of ${maxFileSize} bytes (maxFileSize, --max-file-size)` });
}

function unreadable(file: string, err: unknown): DecodeError {
  const e = err as NodeJS.ErrnoException;
  return new DecodeError({ code: 'unreadable', file, reason: `cannot read ${file}: ${e.code ?? ''} ${e.message ?? String(err)}`.trim() });
}

// O_NONBLOCK: opening a FIFO that was swapped in after the stat below returns at once instead of
// waiting for a writer (the fstat then refuses it). Not defined on Windows.
const OPEN_FLAGS = fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0);

/** Most bytes asked of one read() (reads of 2 GiB or more are refused). */
const READ_CHUNK = 1 << 30;

/**
 * The bytes of an image file. Only a regular file is read (symbolic links followed): a FIFO, a
 * device (/dev/zero), a socket or a directory is DecodeError 'not-a-file' without reading (a FIFO
 * or a device is not even opened); a file of more than `maxFileSize` bytes is 'too-large' (checked
 * before reading, and the read stops there if the file grows); other failures are 'unreadable'.
 */
export async function readImageFile(file: string, maxFileSize = DEFAULT_MAX_FILE_SIZE): Promise<Buffer> {
  let st: fs.Stats;
  try {
    st = await fs.promises.stat(file);
  } catch (err) {
    throw unreadable(file, err);
  }
  if (!st.isFile()) throw notAFile(file, st);
  if (st.size > maxFileSize) throw tooLarge(file, st.size, maxFileSize);
  let fh: fs.promises.FileHandle;
  try {
    fh = await fs.promises.open(file, OPEN_FLAGS);
  } catch (err) {
    throw unreadable(file, err);
  }
  try {
    // again on what was opened: the path may have been replaced since the stat
    let size: number;
    try {
      const fst = await fh.stat();
      if (!fst.isFile()) throw notAFile(file, fst);
      size = fst.size;
    } catch (err) {
      throw err instanceof DecodeError ? err : unreadable(file, err);
    }
    if (size > maxFileSize) throw tooLarge(file, size, maxFileSize);
    // one byte more than the size, to notice a file that grew while being read
    const buf = Buffer.allocUnsafe(size + 1);
    let n = 0;
    try {
      while (n < buf.length) {
        const { bytesRead } = await fh.read(buf, n, Math.min(buf.length - n, READ_CHUNK), n);
        if (bytesRead === 0) break;
        n += bytesRead;
      }
    } catch (err) {
      throw unreadable(file, err);
    }
    if (n > size) {
      throw new DecodeError({ code: 'unreadable', file, reason: `cannot read ${file}: it grew while being read (from ${size} bytes)` });
    }
    return buf.subarray(0, n);
  } finally {
    await fh.close().catch(() => {});
  }
}

/**
 * Decodes one file; throws DecodeError ('unreadable', 'not-a-file', 'too-large' or 'decode') with
 * the file named. `maxFileSize`: see readImageFile().
 */
export async function decodeFile(file: string, color: ColorMode, maxFileSize = DEFAULT_MAX_FILE_SIZE): Promise<DecodedImage> {
  const bytes = await readImageFile(file, maxFileSize);
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
