// Lists the GPU code in a binary's CUDA fat binaries (ELF section .nv_fatbin): SASS architectures
// (sm_XX) and PTX virtual architectures (compute_XX). Read directly, because cuobjdump is not in
// every toolkit install and older ones cannot read newer fat binaries.
// Layout: fat binaries one after another, each a 16-byte header (magic 0xBA55ED50, u16 version,
// u16 header size, u64 payload size) and entries (u16 kind: 1 PTX, 2 ELF; u32 header size at 4;
// u64 payload size at 8; u32 architecture at 28).
'use strict';
const fs = require('node:fs');

function sectionBytes(buf, wanted) {
  if (buf.readUInt32BE(0) !== 0x7f454c46 || buf[4] !== 2) throw new Error('not a 64-bit ELF file');
  const shoff = Number(buf.readBigUInt64LE(0x28));
  const shentsize = buf.readUInt16LE(0x3a), shnum = buf.readUInt16LE(0x3c), shstrndx = buf.readUInt16LE(0x3e);
  const header = (i) => shoff + i * shentsize;
  const strtab = Number(buf.readBigUInt64LE(header(shstrndx) + 24));
  for (let i = 0; i < shnum; i++) {
    const nameAt = strtab + buf.readUInt32LE(header(i));
    const name = buf.toString('latin1', nameAt, buf.indexOf(0, nameAt));
    if (name === wanted) {
      const offset = Number(buf.readBigUInt64LE(header(i) + 24));
      return buf.subarray(offset, offset + Number(buf.readBigUInt64LE(header(i) + 32)));
    }
  }
  return null;
}

/** { sass: ['sm_75', ...], ptx: ['compute_75', ...] }, sorted, without repeats; empty lists for a CPU-only binary. */
function listFatbin(file) {
  const section = sectionBytes(fs.readFileSync(file), '.nv_fatbin');
  const sass = new Set(), ptx = new Set();
  for (let pos = 0; section && pos + 16 <= section.length;) {
    if (section.readUInt32LE(pos) !== 0xba55ed50) { pos += 8; continue; }  // padding between fat binaries
    const end = pos + section.readUInt16LE(pos + 6) + Number(section.readBigUInt64LE(pos + 8));
    for (let e = pos + section.readUInt16LE(pos + 6); e + 32 <= end;) {
      const kind = section.readUInt16LE(e), arch = section.readUInt32LE(e + 28);
      if (kind === 1) ptx.add(arch); else if (kind === 2) sass.add(arch);
      e += section.readUInt32LE(e + 4) + Number(section.readBigUInt64LE(e + 8));
    }
    pos = end;
  }
  const names = (set, prefix) => [...set].sort((a, b) => a - b).map((a) => `${prefix}${a}`);
  return { sass: names(sass, 'sm_'), ptx: names(ptx, 'compute_') };
}

module.exports = { listFatbin };
