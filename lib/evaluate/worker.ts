// The worker thread of a WorkerLane (lanes.ts): computes batches with the synchronous API (its own
// instance of the addon; the addon keeps per-environment state and one stream per device).

import { parentPort, workerData } from 'node:worker_threads';
import { msssim, ssim } from '../api';
import { ssimMap } from '../map';
import { callOptions, type Batch, type MetricOptions } from './lanes';

const { opts, maps } = workerData as { opts: MetricOptions; maps: boolean };

parentPort!.on('message', ({ id, batch }: { id: number; batch: Batch }) => {
  try {
    const shape = { width: batch.width, height: batch.height, channels: batch.channels, batch: batch.count };
    const x = { ...shape, data: batch.x };
    const y = { ...shape, data: batch.y };
    const call = callOptions(opts);
    const values = (opts.metric === 'msssim' ? msssim : ssim)(x, y, call);
    const map = maps ? ssimMap(x, y, call) : null;
    const transfer: ArrayBuffer[] = [values.buffer as ArrayBuffer];
    if (map) transfer.push(map.buffer as ArrayBuffer);
    parentPort!.postMessage({ id, values, maps: map }, transfer);
  } catch (err) {
    const e = err as { message?: string; code?: string };
    parentPort!.postMessage({ id, error: { message: String(e.message ?? err), code: e.code } });
  }
});
