#!/usr/bin/python3
"""Write the ELF validator's test corpus (tests/elf/corpus/) deterministically.

Good files are named good-*.elf, bad ones bad-<what>.elf; corpus/EXPECTED lists
`name<TAB>ok` or `name<TAB>substring of the reason elf_parse must give`.
tests/unit/test_elf.c parses each with load bias PIE_BIAS. Layouts follow the
System V gABI (ELF header, program headers, dynamic section, relocation) and
the x86-64 psABI (EM_X86_64, R_X86_64_RELATIVE).
"""
import copy
import os
import struct

ET_REL, ET_EXEC, ET_DYN, ET_CORE = 1, 2, 3, 4
EM_X86_64, EM_386 = 62, 3
PT_LOAD, PT_DYNAMIC, PT_INTERP, PT_NOTE, PT_PHDR, PT_TLS = 1, 2, 3, 4, 6, 7
PT_GNU_STACK = 0x6474E551
PF_X, PF_W, PF_R = 1, 2, 4
DT_NULL, DT_NEEDED, DT_PLTRELSZ, DT_RELA, DT_RELASZ, DT_RELAENT = 0, 1, 2, 7, 8, 9
DT_JMPREL, DT_RELR, DT_RELACOUNT, DT_FLAGS_1 = 23, 36, 0x6FFFFFF9, 0x6FFFFFFB
DF_1_PIE = 0x08000000
R_X86_64_64, R_X86_64_RELATIVE = 1, 8
PAGE = 0x1000
EHDR_SIZE, PHDR_SIZE, SHDR_SIZE, DYN_SIZE, RELA_SIZE = 64, 56, 64, 16, 24

# mov $0,%edi; mov $0,%eax (SYS_exit); syscall; jmp . (never reached)
EXIT0 = bytes.fromhex("bf00000000" "b800000000" "0f05" "ebfe")


class Elf:
    """An ELF file as header fields, program headers and blobs at offsets."""

    def __init__(self, etype, entry):
        self.ident = {4: 2, 5: 1, 6: 1, 7: 0, 8: 0}  # class, data, version, osabi, abiversion
        self.h = dict(type=etype, machine=EM_X86_64, version=1, entry=entry,
                      phoff=EHDR_SIZE, shoff=0, flags=0, ehsize=EHDR_SIZE,
                      phentsize=PHDR_SIZE, phnum=None, shentsize=0, shnum=0,
                      shstrndx=0)
        self.ph = []
        self.blobs = []
        self.size = None  # default: up to the last byte written

    def load(self, flags, offset, vaddr, filesz, memsz, align=PAGE):
        return self.phdr(PT_LOAD, flags, offset, vaddr, filesz, memsz, align)

    def phdr(self, ptype, flags, offset, vaddr, filesz, memsz, align):
        self.ph.append(dict(type=ptype, flags=flags, offset=offset, vaddr=vaddr,
                            filesz=filesz, memsz=memsz, align=align))
        return self.ph[-1]

    def put(self, offset, data):
        self.blobs.append((offset, bytes(data)))

    def build(self):
        h = self.h
        phnum = len(self.ph) if h["phnum"] is None else h["phnum"]
        ident = bytearray(b"\x7fELF" + bytes(12))
        for i, v in self.ident.items():
            ident[i] = v
        parts = [(0, bytes(ident) + struct.pack(
            "<HHIQQQIHHHHHH", h["type"], h["machine"], h["version"], h["entry"],
            h["phoff"], h["shoff"], h["flags"], h["ehsize"], h["phentsize"],
            phnum, h["shentsize"], h["shnum"], h["shstrndx"]))]
        table = b"".join(struct.pack("<IIQQQQQQ", p["type"], p["flags"], p["offset"],
                                     p["vaddr"], p["vaddr"], p["filesz"], p["memsz"],
                                     p["align"]) for p in self.ph)
        parts.append((EHDR_SIZE, table))  # where every layout here puts it
        for off, d in self.blobs:
            assert off >= EHDR_SIZE + len(table) or off + len(d) <= EHDR_SIZE, "layout"
        parts += self.blobs
        end = max(off + len(d) for off, d in parts)
        out = bytearray(end if self.size is None else max(end, self.size))
        for off, d in parts:
            out[off:off + len(d)] = d
        return bytes(out if self.size is None else out[:self.size])


def good_exec():
    """ET_EXEC: headers + exit(0) code (RX), data + bss (RW), non-exec stack."""
    e = Elf(ET_EXEC, 0x400100)
    e.load(PF_R | PF_X, 0, 0x400000, 0x100 + len(EXIT0), 0x100 + len(EXIT0))
    e.load(PF_R | PF_W, 0x110, 0x401110, 0x10, 0x100)
    e.phdr(PT_GNU_STACK, PF_R | PF_W, 0, 0, 0, 0, 16)
    e.put(0x100, EXIT0)
    e.put(0x110, b"manticore data\0\0")
    return e


def good_exec_min():
    """The smallest accepted program: one RX PT_LOAD holding everything."""
    e = Elf(ET_EXEC, 0x400078)
    e.load(PF_R | PF_X, 0, 0x400000, 0x78 + len(EXIT0), 0x78 + len(EXIT0))
    e.put(0x78, EXIT0)
    return e


def good_exec_phdr_unmapped():
    """The program headers are in no PT_LOAD: no AT_PHDR (phdr 0)."""
    e = Elf(ET_EXEC, 0x400100)
    e.load(PF_R | PF_X, 0x100, 0x400100, len(EXIT0), len(EXIT0))
    e.put(0x100, EXIT0)
    return e


# good-pie.elf, linked at 0 (test_elf.c relies on these numbers).
PIE_RELA = 0x1C8      # 7 program headers end here
PIE_TEXT = 0x210      # file offset of the code; vaddr 0x1210
PIE_RW = 0x220        # file offset of .dynamic; vaddr 0x2220
PIE_DATA = 0x2280     # three pointers filled by RELATIVE relocations
PIE_TDATA = 0x2298    # 8 bytes of .tdata
PIE_RELOCS = [(PIE_DATA, 0x1210), (PIE_DATA + 8, PIE_TDATA), (PIE_DATA + 16, 0)]


def good_pie(relocs=PIE_RELOCS, dyn_extra=(), relaent=RELA_SIZE, relasz=None):
    """Static PIE: PHDR, R headers+rela, RX text, RW dynamic+data+bss, TLS."""
    e = Elf(ET_DYN, 0x1210)
    nrel = len(relocs)
    rw_filesz = 0x2A0 - PIE_RW
    e.phdr(PT_PHDR, PF_R, EHDR_SIZE, EHDR_SIZE, 7 * PHDR_SIZE, 7 * PHDR_SIZE, 8)
    e.load(PF_R, 0, 0, PIE_RELA + 3 * RELA_SIZE, PIE_RELA + 3 * RELA_SIZE)
    e.load(PF_R | PF_X, PIE_TEXT, 0x1210, len(EXIT0), len(EXIT0))
    e.load(PF_R | PF_W, PIE_RW, 0x2220, rw_filesz, rw_filesz + 0x40)
    e.phdr(PT_DYNAMIC, PF_R | PF_W, PIE_RW, 0x2220, 6 * DYN_SIZE, 6 * DYN_SIZE, 8)
    e.phdr(PT_TLS, PF_R, 0x298, PIE_TDATA, 8, 16, 8)
    e.phdr(PT_GNU_STACK, PF_R | PF_W, 0, 0, 0, 0, 16)
    rela = b""
    for r in relocs:
        off, addend = r[0], r[1]
        info = r[2] if len(r) > 2 else R_X86_64_RELATIVE
        rela += struct.pack("<QQq", off, info, addend)
    e.put(PIE_RELA, rela[:3 * RELA_SIZE])
    dyn = list(dyn_extra) + [
        (DT_RELA, PIE_RELA), (DT_RELASZ, nrel * RELA_SIZE if relasz is None else relasz),
        (DT_RELAENT, relaent), (DT_RELACOUNT, nrel), (DT_FLAGS_1, DF_1_PIE), (DT_NULL, 0)]
    e.put(PIE_RW, b"".join(struct.pack("<qQ", t, v) for t, v in dyn[:6]))
    e.put(PIE_TEXT, EXIT0)
    e.put(0x298, b"tls-init")
    return e


def mutate(base, fn):
    e = copy.deepcopy(base)
    fn(e)
    return e


def setf(obj, **kw):
    obj.update(kw)


def too_many_loads():
    e = Elf(ET_EXEC, 0x400400)
    e.load(PF_R | PF_X, 0, 0x400000, 0x400 + len(EXIT0), 0x400 + len(EXIT0))
    for k in range(16):
        e.load(PF_R, 0, 0x402000 + k * PAGE, 0, 0x10)
    e.put(0x400, EXIT0)
    return e


def top_page_exec():
    """Code that ends exactly at 2^47, the end of the canonical lower half."""
    e = Elf(ET_EXEC, 0x7FFFFFFFF100)
    e.load(PF_R | PF_X, 0x100, 0x7FFFFFFFF100, len(EXIT0), 0xF00)
    e.put(0x100, EXIT0)
    return e


def with_sections(image):
    """image with what a linker appends: .shstrtab and a section header table
    (null, .text over the first PT_LOAD's code, .shstrtab), e_shoff/e_shnum set."""
    names = b"\0.text\0.shstrtab\0"
    strtab_off = len(image)
    shoff = (strtab_off + len(names) + 7) & ~7
    shdr = lambda name, stype, flags, addr, off, size: struct.pack(
        "<IIQQQQIIQQ", name, stype, flags, addr, off, size, 0, 0, 1, 0)
    table = (bytes(SHDR_SIZE) + shdr(1, 1, 6, 0x400100, 0x100, len(EXIT0))
             + shdr(7, 3, 0, 0, strtab_off, len(names)))
    out = bytearray(image + names + bytes(shoff - strtab_off - len(names)) + table)
    struct.pack_into("<Q", out, 40, shoff)
    struct.pack_into("<HHH", out, 58, SHDR_SIZE, 3, 2)
    return bytes(out)


def corpus():
    """(name, file bytes, expected) in order."""
    ex, pie = good_exec(), good_pie()
    ex_bytes = ex.build()
    out = [
        ("good-exec.elf", ex, "ok"),
        ("good-exec-min.elf", good_exec_min(), "ok"),
        ("good-exec-phdr-unmapped.elf", good_exec_phdr_unmapped(), "ok"),
        ("good-exec-gnu-osabi.elf", mutate(ex, lambda e: e.ident.update({7: 3})), "ok"),
        ("good-pie.elf", pie, "ok"),
        # Section headers are not used to load a program: any values, or none, will do.
        ("good-sh-past-end.elf", mutate(ex, lambda e: setf(e.h, shoff=0x100000,
                                                            shentsize=SHDR_SIZE, shnum=3,
                                                            shstrndx=2)), "ok"),
        ("good-sh-no-shoff.elf", mutate(ex, lambda e: setf(e.h, shnum=3)), "ok"),
        ("good-sh-garbage.elf", mutate(ex, lambda e: setf(e.h, shoff=(1 << 64) - 0x40,
                                                           shentsize=0x1234, shnum=0xffff,
                                                           shstrndx=0xfffe)), "ok"),
        ("good-sh-in-phdrs.elf", mutate(ex, lambda e: setf(e.h, shoff=EHDR_SIZE + 4,
                                                            shentsize=SHDR_SIZE, shnum=1,
                                                            shstrndx=5)), "ok"),
        ("good-pie-sh-garbage.elf", mutate(pie, lambda e: setf(e.h, shoff=(1 << 64) - 1,
                                                                shentsize=1, shnum=1,
                                                                shstrndx=0xffff)), "ok"),
        ("good-sh-table.elf", with_sections(ex_bytes), "ok"),
        ("good-sh-table-cut.elf", with_sections(ex_bytes)[:-SHDR_SIZE - 8], "ok"),
        # the file as a whole
        ("bad-empty.elf", b"", "empty file"),
        ("bad-garbage.elf", b"#!/bin/sh\necho this is not an ELF file\n" * 4,
         "not an ELF file (bad magic)"),
        ("bad-trunc-ident.elf", ex_bytes[:10], "truncated: file smaller than the ELF header"),
        ("bad-trunc-ehdr.elf", ex_bytes[:63], "truncated: file smaller than the ELF header"),
        ("bad-trunc-phdrs.elf", ex_bytes[:EHDR_SIZE + 100], "truncated: program headers"),
        ("bad-trunc-segment.elf", ex_bytes[:0x118], "segment 1: p_offset + p_filesz past end"),
        # e_ident
        ("bad-class32.elf", mutate(ex, lambda e: e.ident.update({4: 1})), "EI_CLASS"),
        ("bad-bigendian.elf", mutate(ex, lambda e: e.ident.update({5: 2})), "not little-endian"),
        ("bad-ident-version.elf", mutate(ex, lambda e: e.ident.update({6: 0})), "EI_VERSION"),
        ("bad-osabi.elf", mutate(ex, lambda e: e.ident.update({7: 9})), "EI_OSABI"),
        ("bad-abiversion.elf", mutate(ex, lambda e: e.ident.update({8: 1})), "EI_ABIVERSION"),
        # ELF header fields
        ("bad-type-rel.elf", mutate(ex, lambda e: setf(e.h, type=ET_REL)), "ET_REL"),
        ("bad-type-core.elf", mutate(ex, lambda e: setf(e.h, type=ET_CORE)), "ET_CORE"),
        ("bad-type-unknown.elf", mutate(ex, lambda e: setf(e.h, type=0xfe00)), "bad e_type"),
        ("bad-machine.elf", mutate(ex, lambda e: setf(e.h, machine=EM_386)),
         "wrong machine (not x86-64)"),
        ("bad-version.elf", mutate(ex, lambda e: setf(e.h, version=0)), "bad e_version"),
        ("bad-flags.elf", mutate(ex, lambda e: setf(e.h, flags=1)), "e_flags not 0"),
        ("bad-ehsize.elf", mutate(ex, lambda e: setf(e.h, ehsize=52)), "bad e_ehsize"),
        ("bad-phentsize.elf", mutate(ex, lambda e: setf(e.h, phentsize=32)), "bad e_phentsize"),
        ("bad-phnum-zero.elf", mutate(ex, lambda e: setf(e.h, phnum=0)), "e_phnum is 0"),
        ("bad-phnum-huge.elf", mutate(ex, lambda e: setf(e.h, phnum=0xffff)),
         "too many program headers"),
        ("bad-phoff-past-end.elf", mutate(ex, lambda e: setf(e.h, phoff=0x10000)),
         "truncated: program headers past end of file"),
        ("bad-phoff-overflow.elf", mutate(ex, lambda e: setf(e.h, phoff=(1 << 64) - 8)),
         "truncated: program headers past end of file"),
        ("bad-phoff-unaligned.elf", mutate(ex, lambda e: setf(e.h, phoff=0x44)),
         "e_phoff not 8-byte aligned"),
        ("bad-phoff-in-ehdr.elf", mutate(ex, lambda e: setf(e.h, phoff=0)),
         "e_phoff inside the ELF header"),
        ("bad-entry-outside.elf", mutate(ex, lambda e: setf(e.h, entry=0x500000)),
         "entry point not in an executable segment"),
        ("bad-entry-in-data.elf", mutate(ex, lambda e: setf(e.h, entry=0x401110)),
         "entry point not in an executable segment"),
        # PT_LOAD fields
        ("bad-filesz-gt-memsz.elf", mutate(ex, lambda e: setf(e.ph[1], filesz=0x200)),
         "segment 1: p_filesz > p_memsz"),
        ("bad-offset-past-end.elf", mutate(ex, lambda e: setf(e.ph[1], offset=0x10110)),
         "segment 1: p_offset + p_filesz past end of file"),
        ("bad-offset-overflow.elf",
         mutate(ex, lambda e: setf(e.ph[1], offset=(1 << 64) - PAGE + 0x110)),
         "segment 1: p_offset + p_filesz past end of file"),
        ("bad-memsz-zero.elf", mutate(ex, lambda e: setf(e.ph[1], filesz=0, memsz=0)),
         "segment 1: p_memsz is 0"),
        ("bad-memsz-huge.elf", mutate(ex, lambda e: setf(e.ph[1], memsz=0x80000000)),
         "segment 1: p_memsz too large"),
        ("bad-total-huge.elf", mutate(ex, lambda e: (
            setf(e.ph[1], memsz=0x30000000),
            setf(e.ph[2], type=PT_LOAD, vaddr=0x40000000, memsz=0x30000000, align=PAGE))),
         "image too large"),
        ("bad-kernel-space.elf", mutate(ex, lambda e: setf(e.ph[1], vaddr=0xffffffff80001110)),
         "segment 1 outside user space"),
        ("bad-vaddr-zero.elf", mutate(ex, lambda e: setf(e.ph[1], vaddr=0x110)),
         "segment 1 outside user space"),
        ("bad-below-user-min.elf", mutate(ex, lambda e: setf(e.ph[1], vaddr=0x3ff110)),
         "segment 1 outside user space"),
        ("bad-past-user-max.elf", mutate(ex, lambda e: setf(e.ph[1], vaddr=0x7fffffffff110)),
         "segment 1 outside user space"),
        # A SYSCALL at the end of the last page would return to RIP 2^47,
        # which is not canonical: the top user page stays unmapped.
        ("bad-top-user-page.elf", top_page_exec(),
         "segment 0 reaches the top user page, which stays unmapped"),
        ("bad-vaddr-overflow.elf", mutate(ex, lambda e: setf(e.ph[1], vaddr=(1 << 64) - PAGE + 0x110)),
         "segment 1 outside user space"),
        ("bad-bias-overflow.elf", mutate(pie, lambda e: setf(e.ph[3], vaddr=(1 << 64) - 0x10000000 + 0x2220)),
         "segment 3 outside user space"),
        ("bad-overlap.elf", mutate(ex, lambda e: setf(e.ph[1], offset=0x100, vaddr=0x400100)),
         "segments 0 and 1 overlap"),
        ("bad-share-page-perms.elf", mutate(ex, lambda e: setf(e.ph[1], vaddr=0x400110)),
         "segments 0 and 1 share a page with different permissions"),
        ("bad-share-page.elf", mutate(ex, lambda e: setf(e.ph[1], vaddr=0x400110, flags=PF_R | PF_X)),
         "segments 0 and 1 share a page"),
        ("bad-unsorted.elf", mutate(ex, lambda e: e.ph.reverse()),
         "segments 1 and 2 not sorted by p_vaddr"),
        ("bad-wx.elf", mutate(ex, lambda e: setf(e.ph[0], flags=PF_R | PF_W | PF_X)),
         "segment 0 is writable and executable"),
        ("bad-align-not-pow2.elf", mutate(ex, lambda e: setf(e.ph[0], align=0x1800)),
         "segment 0: p_align not a power of two"),
        ("bad-align-incongruent.elf", mutate(ex, lambda e: setf(e.ph[1], vaddr=0x401120)),
         "segment 1: p_vaddr and p_offset not congruent mod p_align"),
        ("bad-page-incongruent.elf", mutate(ex, lambda e: setf(e.ph[1], vaddr=0x401120, align=1)),
         "segment 1: p_vaddr and p_offset not congruent mod page size"),
        ("bad-bias-align.elf", mutate(pie, lambda e: setf(e.ph[1], align=0x20000000)),
         "segment 1: load bias not a multiple of p_align"),
        ("bad-no-load.elf", mutate(ex, lambda e: [setf(p, type=PT_NOTE) for p in e.ph[:2]]),
         "no PT_LOAD segment"),
        ("bad-too-many-loads.elf", too_many_loads(), "too many PT_LOAD segments"),
        # other program headers
        ("bad-interp.elf", mutate(ex, lambda e: setf(e.ph[2], type=PT_INTERP, offset=0x110,
                                                      filesz=0x10, memsz=0x10)),
         "dynamically linked (PT_INTERP)"),
        ("bad-execstack.elf", mutate(ex, lambda e: setf(e.ph[2], flags=PF_R | PF_W | PF_X)),
         "executable stack"),
        ("bad-phdr-mismatch.elf", mutate(pie, lambda e: setf(e.ph[0], offset=0x48)),
         "PT_PHDR does not describe the program header table"),
        ("bad-phdr-after-load.elf", mutate(pie, lambda e: e.ph.insert(1, e.ph.pop(0))),
         "PT_PHDR after a PT_LOAD"),
        ("bad-tls-outside.elf", mutate(pie, lambda e: setf(e.ph[5], vaddr=0x9000)),
         "PT_TLS outside the PT_LOAD segments"),
        ("bad-tls-filesz.elf", mutate(pie, lambda e: setf(e.ph[5], filesz=32)),
         "PT_TLS: p_filesz > p_memsz"),
        # dynamic section and relocations
        ("bad-needed.elf", good_pie(dyn_extra=[(DT_NEEDED, 1)]), "DT_NEEDED"),
        ("bad-jmprel.elf", good_pie(dyn_extra=[(DT_JMPREL, PIE_RELA)]), "DT_JMPREL"),
        ("bad-relr.elf", good_pie(dyn_extra=[(DT_RELR, PIE_RELA)]), "DT_RELR"),
        ("bad-dyn-no-null.elf", mutate(pie, lambda e: setf(e.ph[4], filesz=5 * DYN_SIZE)),
         "no DT_NULL terminator"),
        ("bad-dyn-past-end.elf", mutate(pie, lambda e: setf(e.ph[4], offset=0x10220)),
         "PT_DYNAMIC past end of file"),
        ("bad-relaent.elf", good_pie(relaent=16), "DT_RELAENT is not 24"),
        ("bad-relasz.elf", good_pie(relasz=3 * RELA_SIZE + 8),
         "DT_RELASZ not a multiple of DT_RELAENT"),
        ("bad-rela-outside.elf", good_pie(relasz=30 * RELA_SIZE),
         "DT_RELA table not inside a segment's file data"),
        ("bad-reloc-type.elf", good_pie(relocs=PIE_RELOCS[:2] + [(PIE_DATA + 16, 0, R_X86_64_64)]),
         "relocation type not R_X86_64_RELATIVE"),
        ("bad-reloc-sym.elf",
         good_pie(relocs=[(PIE_DATA, 0, (1 << 32) | R_X86_64_RELATIVE)] + PIE_RELOCS[1:]),
         "relocation names a symbol"),
        ("bad-reloc-target.elf", good_pie(relocs=[(0x1210, 0)] + PIE_RELOCS[1:]),
         "relocation target not in a writable segment"),
        ("bad-reloc-past-bss.elf", good_pie(relocs=[(0x22e0, 0)] + PIE_RELOCS[1:]),
         "relocation target not in a writable segment"),
        ("bad-reloc-unaligned.elf", good_pie(relocs=[(PIE_DATA + 4, 0)] + PIE_RELOCS[1:]),
         "relocation target not 8-byte aligned"),
    ]
    return [(n, f if isinstance(f, bytes) else f.build(), x) for n, f, x in out]


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    outdir = os.path.join(here, "corpus")
    os.makedirs(outdir, exist_ok=True)
    files = corpus()
    names = [n for n, _, _ in files]
    assert len(set(names)) == len(names), "duplicate corpus name"
    for old in os.listdir(outdir):
        if old.endswith(".elf") and old not in names:
            os.remove(os.path.join(outdir, old))
    for name, data, _ in files:
        with open(os.path.join(outdir, name), "wb") as f:
            f.write(data)
    with open(os.path.join(outdir, "EXPECTED"), "w") as f:
        for name, _, expect in files:
            f.write(f"{name}\t{expect}\n")
    print(f"wrote {len(files)} files to {outdir}")


if __name__ == "__main__":
    main()
