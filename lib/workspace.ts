// Workspace: scratch memory reused by calls, so that in-place calls on device arrays make no
// device allocation, memset or copy (docs/ARCHITECTURE.md, "Workspace layout").

import { resolveBackend, resolveDevice } from './backend';
import { expected, fromNative, ssimError } from './errors';
import { getNative, type NativeDeviceBuffer } from './native';
import type { BackendName, WorkspaceOptions, WorkspaceShape } from './basic-types';
import { layoutOf } from './parse/layout';
import { MAX_SCALES } from './parse/scales';
import { installDispose, isOptionsObject } from './util';

/** Largest width, height, channels or batch (the addon keeps them in int32). */
export const MAX_DIMENSION = 0x7fffffff;

const constructionToken = Symbol('Workspace');

/** A shape field: a positive int32 (ERR_SSIM_SHAPE otherwise); `undefined` gives `fallback` when there is one. */
export function dimension(value: unknown, name: string, fallback?: number): number {
  if (value === undefined && fallback !== undefined) return fallback;
  if (typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= MAX_DIMENSION) return value;
  throw expected('ERR_SSIM_SHAPE', 'positive integer', name, value);
}

let bufferOf: (workspace: Workspace) => NativeDeviceBuffer | null;
let isInstance: (value: unknown) => value is Workspace;

/**
 * Scratch memory for calls of up to `images` images and `elements` elements, passed as
 * `opts.workspace`. On CUDA it holds device memory (zeroed once); on the CPU it holds none.
 */
export class Workspace {
  /** Most images (batch) of a call it serves. */
  readonly images: number;
  /** Most elements (batch*channels*height*width) of a call it serves. */
  readonly elements: number;
  /** Device memory held (0 for the CPU backend). */
  readonly byteLength: number;
  /** CUDA device index (0 for the CPU backend unless given). */
  readonly device: number;
  /** The backend of the calls it serves. */
  readonly backend: BackendName;
  /** False for a value-only workspace (`Workspace.for(shape, { gradient: false })`). */
  readonly gradient: boolean;
  #buffer: NativeDeviceBuffer | null;
  #disposed = false;

  static {
    bufferOf = (ws) => ws.#buffer;
    isInstance = (value): value is Workspace => typeof value === 'object' && value !== null && #buffer in value;
  }

  /** Use {@link Workspace.for}. */
  private constructor(token: symbol, backend: BackendName, device: number, images: number, elements: number,
    gradient: boolean, buffer: NativeDeviceBuffer | null) {
    if (token !== constructionToken) {
      throw ssimError('ERR_SSIM_INVALID_ARGUMENT', 'Workspace has no public constructor: use Workspace.for()');
    }
    this.images = images;
    this.elements = elements;
    this.byteLength = buffer === null ? 0 : buffer.byteLength;
    this.device = device;
    this.backend = backend;
    this.gradient = gradient;
    this.#buffer = buffer;
    // images, elements, ... are what calls are checked against: callers must not change them.
    Object.freeze(this);
  }

  /**
   * A workspace for calls of at most `shape.batch` images (default 1) of `shape.channels`
   * (default 1: pass the channels of your calls) x `height` x `width`, on `opts.backend` / `opts.device`.
   */
  static for(shape: WorkspaceShape, opts?: WorkspaceOptions): Workspace {
    if (!isOptionsObject<WorkspaceShape>(shape)) throw expected('ERR_SSIM_INVALID_ARGUMENT', 'object', 'shape', shape);
    const width = dimension(shape.width, 'shape.width');
    const height = dimension(shape.height, 'shape.height');
    const channels = dimension(shape.channels, 'shape.channels', 1);
    const batch = dimension(shape.batch, 'shape.batch', 1);
    const elements = batch * channels * height * width;
    if (!Number.isSafeInteger(elements)) {
      throw ssimError('ERR_SSIM_SHAPE', `Expected at most ${Number.MAX_SAFE_INTEGER} elements in shape but received ${elements}`);
    }
    let backendOpt: unknown;
    let deviceOpt: unknown;
    let gradient = true;
    let scales = 0;
    const layout = layoutOf(shape.layout, 'shape.layout');
    if (opts !== undefined) {
      if (!isOptionsObject<WorkspaceOptions>(opts)) throw expected('ERR_SSIM_INVALID_ARGUMENT', 'object', 'opts', opts);
      backendOpt = opts.backend;
      deviceOpt = opts.device;
      if (opts.gradient !== undefined) {
        if (typeof opts.gradient !== 'boolean') throw expected('ERR_SSIM_OPTION', 'boolean', 'opts.gradient', opts.gradient, 'type');
        gradient = opts.gradient;
      }
      const ms = opts.msssim;
      if (ms === true) scales = 5;
      else if (typeof ms === 'number' && Number.isInteger(ms) && ms >= 1 && ms <= MAX_SCALES) scales = ms;
      else if (ms !== undefined && ms !== false) {
        throw expected('ERR_SSIM_OPTION', `boolean or number of scales (integer in [1, ${MAX_SCALES}])`, 'opts.msssim', ms,
          typeof ms === 'boolean' || typeof ms === 'number' ? 'range' : 'type');
      }
    }
    if (scales > 0 && batch * channels > MAX_DIMENSION) {
      throw ssimError('ERR_SSIM_SHAPE', `Expected at most ${MAX_DIMENSION} planes (batch * channels) in shape for opts.msssim but received ${batch * channels}`);
    }
    const backend = resolveBackend(backendOpt, 'opts.backend', false);
    const device = resolveDevice(deviceOpt, 'opts.device', backend === 'cuda');
    let buffer: NativeDeviceBuffer | null = null;
    if (backend === 'cuda') {
      const native = getNative();
      try {
        let bytes = native.workspaceBytes(batch, elements, gradient);
        if (scales > 0) bytes = Math.max(bytes, native.msssimWorkspaceBytes(batch, channels, height, width, layout, scales, gradient));
        buffer = new native.DeviceBuffer(device, bytes);
      } catch (err) {
        throw fromNative(err);
      }
      try {
        buffer.zero();
      } catch (err) {
        buffer.free();
        throw fromNative(err);
      }
    }
    return new Workspace(constructionToken, backend, device, batch, elements, gradient, buffer);
  }

  /** True after `dispose()`. */
  get disposed(): boolean {
    return this.#disposed;
  }

  /** Frees the device memory now (after queued work that uses it). Idempotent. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    const buffer = this.#buffer;
    this.#buffer = null;
    if (buffer !== null) buffer.free();
  }
}

// eslint-disable-next-line @typescript-eslint/no-empty-object-type, @typescript-eslint/no-unsafe-declaration-merging
export interface Workspace extends Disposable {}
installDispose(Workspace.prototype);

/** A Workspace made by Workspace.for() (a brand check: not a Proxy of one; runs none of the caller's code). */
export function isWorkspace(value: unknown): value is Workspace {
  return isInstance(value);
}

/** The addon buffer of a CUDA workspace (null for CPU or disposed). */
export function workspaceBufferOf(workspace: Workspace): NativeDeviceBuffer | null {
  return bufferOf(workspace);
}

/** The workspace serves a call of `batch` images and `elements` elements. */
export function workspaceFits(workspace: Workspace, batch: number, elements: number): boolean {
  return batch <= workspace.images && elements <= workspace.elements;
}
