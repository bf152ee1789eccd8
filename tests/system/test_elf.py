"""Every bad ELF of the corpus is refused at boot with its reason, while a
good program in the same image still runs."""
import os

from harness import EXIT_PASS, ROOT, boot, iso

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
