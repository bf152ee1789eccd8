"""Every bad ELF of the corpus is refused at boot with its reason, while a
good program in the same image still runs; every good one runs, section
headers garbage or gone; so do real programs whose section headers are
mangled or cut off the end of the file."""
import os
import struct

from harness import EXIT_PASS, ROOT, WORK, boot, iso

CORPUS = os.path.join(ROOT, "tests/elf/corpus")
PER_IMAGE = 24  # Multiboot2 modules per image stay well under the kernel's 32


def _corpus():
    with open(os.path.join(CORPUS, "EXPECTED")) as f:
        rows = [l.rstrip("\n").split("\t") for l in f if l.strip()]
    return [(name, want) for name, want in rows]


def _check_chunk(index, rows):
    good = os.path.join(CORPUS, "good-exec.elf")
    modules = [(os.path.join(CORPUS, name), name[:-4]) for name, _ in rows]
    modules.append((good, "good-exec"))
    b = boot(iso("", modules), f"elf-corpus-{index}")
    for n, (name, want) in enumerate(rows, start=1):
        prefix = f"refused module {n} ({name[:-4]}"
        lines = [l for l in b.log.splitlines() if l.startswith(prefix)]
        assert lines, f"{name}: no 'refused' line in {b.logfile}"
        assert want in lines[0], f"{name}: reason {lines[0]!r} lacks {want!r}"
    b.expect("started pid 1 (good-exec)", "pid 1 (good-exec) exited with status 0")
    b.expect_status(EXIT_PASS)


def _chunks():
    bad = [r for r in _corpus() if r[1] != "ok"]
    return [bad[i:i + PER_IMAGE] for i in range(0, len(bad), PER_IMAGE)]


def test_corpus_part1():
    _check_chunk(1, _chunks()[0])


def test_corpus_part2():
    _check_chunk(2, _chunks()[1])


def test_corpus_part3():
    chunks = _chunks()
    for i in range(2, len(chunks)):
        _check_chunk(i + 1, chunks[i])


def test_good_files_run():
    # Each good file (section-header fields garbage, tables past the end, ...) runs exit(0).
    good = [name for name, want in _corpus() if want == "ok"]
    modules = [(os.path.join(CORPUS, name), name[:-4]) for name in good]
    b = boot(iso("", modules), "elf-good")
    for pid, name in enumerate(good, start=1):
        b.expect(f"started pid {pid} ({name[:-4]})", f"pid {pid} ({name[:-4]}) exited with status 0")
    assert "refused" not in b.log, f"a good file was refused; log {b.logfile}"
    b.expect_status(EXIT_PASS)


def _needed(data):
    """Bytes of an ELF file its program headers name (program header table, segments)."""
    phoff, = struct.unpack_from("<Q", data, 32)
    phnum, = struct.unpack_from("<H", data, 56)
    need = phoff + 56 * phnum
    for i in range(phnum):
        _, _, off, _, _, filesz, _, _ = struct.unpack_from("<IIQQQQQQ", data, phoff + 56 * i)
        need = max(need, off + filesz)
    return need


def _variant(src, name, cut=False, garbage=True):
    """A copy of a real program with its section headers garbage, or cut off the file."""
    with open(src, "rb") as f:
        data = bytearray(f.read())
    shoff, = struct.unpack_from("<Q", data, 40)
    assert shoff >= _needed(data), f"{src}: section headers before the loaded bytes"
    if garbage:
        struct.pack_into("<Q", data, 40, (1 << 64) - 0x40)  # e_shoff
        struct.pack_into("<HHH", data, 58, 0x1234, 0xffff, 0xfffe)  # e_shentsize, e_shnum, e_shstrndx
    if cut:
        data = data[:_needed(data)]
    os.makedirs(WORK, exist_ok=True)
    out = os.path.join(WORK, name + ".elf")
    with open(out, "wb") as f:
        f.write(bytes(data))
    return out


def test_real_programs_without_section_headers():
    hello = os.path.join(ROOT, "usr/hello/build/hello.elf")
    pie = os.path.join(ROOT, "usr/hello/build/hello-pie.elf")
    mods = [(_variant(hello, "hello-shgarbage"), "hello-shgarbage a"),
            (_variant(hello, "hello-shcut", cut=True, garbage=False), "hello-shcut b"),
            (_variant(pie, "hello-pie-shboth", cut=True), "hello-pie-shboth c")]
    b = boot(iso("", mods), "elf-no-sections")
    b.expect("hello from pid 1: hello-shgarbage a", "hello from pid 2: hello-shcut b",
             "hello from pid 3: hello-pie-shboth c")
    b.expect_status(EXIT_PASS)
