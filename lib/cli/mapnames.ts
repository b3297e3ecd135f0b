// File names of --maps heat maps: DIR/<encoded id>.png, one file per id and never one for two.
// The id is split on "/" (folders), and each segment is percent-encoded where it would be unsafe
// or ambiguous as a path segment; the encoding is reversible (mapId), so distinct ids get
// distinct files:
//   - "%" and "\" and the characters Windows refuses (< > : " | ? *, controls U+0000-U+001F, U+007F)
//     become %XX (UTF-8 bytes, upper-case hex); a lone surrogate becomes %uXXXX;
//   - a trailing "." or " " becomes %2E / %20 (Windows drops them);
//   - the segments "." and ".." become %2E and %2E%2E, an empty segment (a leading, trailing or
//     double "/") becomes "%";
//   - a folder segment ending in ".png" (any case) has that "." as %2E, so no folder can be the
//     file of another id (id "x" is x.png, id "x.png/y" is x%2Epng/y.png).
// Every file name ends in ".png" added to the last segment (id "a.webp" is a.webp.png). Ids that
// differ only in letter case still share a file on a case-insensitive file system.

import * as path from 'node:path';

const UNSAFE = /[%\\<>:"|?*\u0000-\u001f\u007f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

function hexByte(b: number): string {
  return `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
}

function escapeChar(c: string): string {
  const code = c.charCodeAt(0);
  if (c.length === 1 && code >= 0xd800 && code <= 0xdfff) return `%u${code.toString(16).toUpperCase().padStart(4, '0')}`;
  return [...Buffer.from(c, 'utf8')].map(hexByte).join('');
}

function encodeSegment(segment: string, folder: boolean): string {
  if (segment === '') return '%';
  if (segment === '.') return '%2E';
  if (segment === '..') return '%2E%2E';
  let s = segment.replace(UNSAFE, escapeChar);
  if (s.endsWith('.') || s.endsWith(' ')) s = s.slice(0, -1) + hexByte(s.charCodeAt(s.length - 1));
  if (folder && /\.png$/i.test(s)) s = `${s.slice(0, -4)}%2E${s.slice(-3)}`;
  return s;
}

function decodeSegment(segment: string): string {
  if (segment === '%') return '';
  return segment
    .split(/(%u[0-9A-F]{4})/)
    .map((part) => (part.startsWith('%u') && part.length === 6 ? String.fromCharCode(parseInt(part.slice(2), 16)) : decodeURIComponent(part)))
    .join('');
}

/** The heat map's path relative to the maps folder, with "/" between folders: `<encoded id>.png`. */
export function mapPath(id: string): string {
  const segments = id.split('/');
  return `${segments.map((s, i) => encodeSegment(s, i < segments.length - 1)).join('/')}.png`;
}

/** The id whose heat map is `rel` (a path relative to the maps folder, "/" or the platform's separator): mapPath's inverse. */
export function mapId(rel: string): string {
  const posix = path.sep === '/' ? rel : rel.split(path.sep).join('/');
  if (!posix.endsWith('.png')) throw new Error(`not a heat-map file name: ${rel}`);
  return posix.slice(0, -4).split('/').map(decodeSegment).join('/');
}

/** DIR/<encoded id>.png for a pair's heat map (see mapPath). */
export function mapFile(dir: string, id: string): string {
  return path.join(dir, ...mapPath(id).split('/'));
}
