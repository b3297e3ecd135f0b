// Entry of the `cuda-ssim` command: bin/cuda-ssim.js requires this file (dist/cli.js).

export { main, EXIT, type MainOptions } from './cli/main';
export { mapFile, mapPath, mapId } from './cli/mapnames';
export { parseCli, USAGE } from './cli/args';
export { CSV_COLUMNS } from './cli/output';
