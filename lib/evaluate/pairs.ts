// The pair list: explicit pairs, or two folders matched by relative path with the extension left
// out; deterministic shards; skipped ids.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { expected, ssimError } from '../errors';
import type { FolderSpec, PairInfo, PairSpec, ShardSpec } from './types';

/** File extensions read as images (lower case). */
export const IMAGE_EXTENSIONS: ReadonlySet<string> = new Set(['.png', '.jpg', '.jpeg', '.jpe', '.webp', '.tif', '.tiff', '.avif', '.heif', '.heic']);

/** FNV-1a (32-bit) of a string's UTF-16 code units: the shard hash (stable across runs and machines). */
export function stableHash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** True when the pair `id` belongs to `shard`. */
export function inShard(id: string, shard: ShardSpec): boolean {
  return stableHash(id) % shard.count === shard.index;
}

/** Validates a shard option. */
export function checkShard(value: unknown, name: string): ShardSpec | undefined {
  if (value === undefined) return undefined;
  const s = value as Partial<ShardSpec>;
  if (typeof value !== 'object' || value === null || !Number.isInteger(s.count) || !Number.isInteger(s.index) ||
      (s.count as number) < 1 || (s.index as number) < 0 || (s.index as number) >= (s.count as number)) {
    throw expected('ERR_SSIM_OPTION', '{ index, count } with integers 0 <= index < count', name, value, 'range');
  }
  return { index: s.index as number, count: s.count as number };
}

function compareIds(a: { id: string }, b: { id: string }): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** Explicit pairs (objects or [reference, test] tuples) -> PairInfo, ids made unique, sorted by id. */
export function explicitPairs(list: readonly unknown[]): PairInfo[] {
  const seen = new Map<string, number>();
  const out: PairInfo[] = [];
  list.forEach((item, i) => {
    let reference: unknown;
    let test: unknown;
    let id: unknown;
    if (Array.isArray(item)) [reference, test] = item;
    else if (typeof item === 'object' && item !== null) ({ reference, test, id } = item as PairSpec);
    if (typeof reference !== 'string' || typeof test !== 'string' || (id !== undefined && typeof id !== 'string')) {
      throw expected('ERR_SSIM_INVALID_ARGUMENT', '{ reference: string, test: string, id?: string } or [reference, test]', `pairs[${i}]`, item);
    }
    let key = (id as string | undefined) ?? test;
    const n = seen.get(key) ?? 0;
    seen.set(key, n + 1);
    if (n > 0) key = `${key}#${n + 1}`;
    out.push({ id: key, reference, test });
  });
  return out.sort(compareIds);
}

function toPosix(rel: string): string {
  return path.sep === '/' ? rel : rel.split(path.sep).join('/');
}

/** A subfolder that could not be listed: its full path and why. */
interface UnreadableFolder {
  dir: string;
  reason: string;
}

/** What one folder tree holds: image files by key, and the subfolders that could not be listed. */
interface Listing {
  /** key (relative path less extension) -> files */
  files: Map<string, string[]>;
  /** relative path (POSIX) of a subfolder that could not be listed -> why */
  unreadable: Map<string, UnreadableFolder>;
}

function errnoText(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return `${e.code ?? ''} ${e.message ?? String(err)}`.trim();
}

/**
 * Image files under `root` (recursively; hidden entries skipped). A subfolder that cannot be
 * listed (permissions, a path too long, an I/O error) is recorded and the walk goes on; the root
 * itself failing is ERR_SSIM_INVALID_ARGUMENT (`name`: which folder).
 */
async function imageFiles(root: string, name: string): Promise<Listing> {
  const files = new Map<string, string[]>();
  const unreadable = new Map<string, UnreadableFolder>();
  async function walk(dir: string): Promise<void> {
    let entries: fs.Dirent[];
    try {
      entries = await fs.promises.readdir(dir, { withFileTypes: true });
    } catch (err) {
      if (dir === root) throw ssimError('ERR_SSIM_INVALID_ARGUMENT', `Expected a folder for ${name} but ${dir} cannot be read (${errnoText(err)})`);
      unreadable.set(toPosix(path.relative(root, dir)), { dir, reason: errnoText(err) });
      return;
    }
    for (const e of entries) {
      if (e.name.startsWith('.')) continue;
      const full = path.join(dir, e.name);
      if (e.isDirectory()) await walk(full);
      // anything else with an image extension is listed (a symbolic link, but also a FIFO or a
      // device): reading refuses what is not a regular file, as that pair's error ('not-a-file')
      else if (IMAGE_EXTENSIONS.has(path.extname(e.name).toLowerCase())) {
        const rel = toPosix(path.relative(root, full));
        const key = rel.slice(0, rel.length - path.extname(rel).length);
        const list = files.get(key);
        if (list) list.push(full);
        else files.set(key, [full]);
      }
    }
  }
  await walk(root);
  return { files, unreadable };
}

/** The unreadable folder of `listing` that holds the key `id` (an ancestor folder), if any. */
function unreadableAncestor(listing: Listing, id: string): UnreadableFolder | undefined {
  if (listing.unreadable.size === 0) return undefined;
  for (let i = id.indexOf('/'); i >= 0; i = id.indexOf('/', i + 1)) {
    const u = listing.unreadable.get(id.slice(0, i));
    if (u) return u;
  }
  return undefined;
}

/** Throws ERR_SSIM_INVALID_ARGUMENT unless `dir` is a readable folder (one that can be listed). */
export function requireFolder(dir: string, name: string): void {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(dir);
  } catch (err) {
    throw ssimError('ERR_SSIM_INVALID_ARGUMENT', `Expected a folder for ${name} but ${dir} cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  if (!stat.isDirectory()) throw ssimError('ERR_SSIM_INVALID_ARGUMENT', `Expected a folder for ${name} but ${dir} is not one`);
  try {
    fs.opendirSync(dir).closeSync();
  } catch (err) {
    throw ssimError('ERR_SSIM_INVALID_ARGUMENT', `Expected a folder for ${name} but ${dir} cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
}

/**
 * Pairs of two folders: images matched by relative path without extension (ref/a/b.png pairs
 * with test/a/b.webp). An image without a counterpart, or a name with several images in one
 * folder, is a pair with an error. A subfolder that cannot be listed is an entry of its own
 * (id "<relative path>/", error 'unreadable'), and an image whose counterpart would be in it is
 * 'unreadable' too (not 'missing-*'). Sorted by id (the relative path without extension).
 */
export async function folderPairs(spec: FolderSpec): Promise<PairInfo[]> {
  const [refListing, testListing] = await Promise.all([imageFiles(spec.reference, 'reference'), imageFiles(spec.test, 'test')]);
  const refs = refListing.files;
  const tests = testListing.files;
  const keys = new Set([...refs.keys(), ...tests.keys()]);
  const out: PairInfo[] = [];
  for (const id of keys) {
    const r = refs.get(id);
    const t = tests.get(id);
    const reference = r ? r[0] : null;
    const test = t ? t[0] : null;
    const info: PairInfo = { id, reference, test };
    let u: UnreadableFolder | undefined;
    if (r && r.length > 1) info.error = { code: 'ambiguous', file: r[1], reason: `several reference images are named ${id}.*: ${r.map((f) => path.basename(f)).join(', ')}` };
    else if (t && t.length > 1) info.error = { code: 'ambiguous', file: t[1], reason: `several test images are named ${id}.*: ${t.map((f) => path.basename(f)).join(', ')}` };
    else if (!t && (u = unreadableAncestor(testListing, id))) info.error = { code: 'unreadable', file: u.dir, reason: `the test image ${id}.* for ${reference} cannot be looked for: cannot read folder ${u.dir}: ${u.reason}` };
    else if (!r && (u = unreadableAncestor(refListing, id))) info.error = { code: 'unreadable', file: u.dir, reason: `the reference image ${id}.* for ${test} cannot be looked for: cannot read folder ${u.dir}: ${u.reason}` };
    else if (!t) info.error = { code: 'missing-test', file: reference, reason: `no test image ${id}.* in ${spec.test} for ${reference}` };
    else if (!r) info.error = { code: 'missing-reference', file: test, reason: `no reference image ${id}.* in ${spec.reference} for ${test}` };
    out.push(info);
  }
  // one entry per folder that could not be listed (on either side), id "<relative path>/": no
  // image key ends with "/", so it cannot clash with a pair
  for (const rel of new Set([...refListing.unreadable.keys(), ...testListing.unreadable.keys()])) {
    const ur = refListing.unreadable.get(rel);
    const ut = testListing.unreadable.get(rel);
    const first = (ur ?? ut) as UnreadableFolder;
    const why = [ur, ut].filter((x): x is UnreadableFolder => x !== undefined).map((x) => `cannot read folder ${x.dir}: ${x.reason}`).join('; ');
    out.push({
      id: `${rel}/`,
      reference: path.join(spec.reference, rel),
      test: path.join(spec.test, rel),
      error: { code: 'unreadable', file: first.dir, reason: `${why} (the images under it are not compared)` },
    });
  }
  return out.sort(compareIds);
}

/** The pairs of this run: the shard's share, less the skipped ids (order kept). */
export function selectPairs(all: PairInfo[], shard: ShardSpec | undefined, skip: ReadonlySet<string> | undefined): PairInfo[] {
  return all.filter((p) => (shard === undefined || inShard(p.id, shard)) && (skip === undefined || !skip.has(p.id)));
}
