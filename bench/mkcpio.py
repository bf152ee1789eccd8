#!/usr/bin/env python3
"""Pack a directory into a gzip'd cpio archive (the "newc" format the Linux
kernel unpacks as an initramfs), owned by root, in sorted order.

    mkcpio.py DIR OUT.gz [--dev PATH:c|b:MAJOR:MINOR:MODE ...]

--dev adds a device node (e.g. dev/console:c:5:1:600) without mknod, so that
no root rights are needed to build an image.
"""
import argparse
import gzip
import os
import stat
import sys

MAGIC = b"070701"


def header(ino, mode, nlink, size, rdev_major, rdev_minor, name):
    fields = [ino, mode, 0, 0, nlink, 0, size, 0, 0, rdev_major, rdev_minor,
              len(name) + 1, 0]
    return MAGIC + b"".join(b"%08X" % f for f in fields) + name + b"\0"


def pad(n):
    return b"\0" * ((4 - n % 4) % 4)


def entries(root, devs):
    names = ["."]  # the root itself: its mode is that of / in the guest
    for dirpath, dirnames, filenames in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        for n in dirnames + filenames:
            names.append(os.path.normpath(os.path.join(rel, n)))
    for path, _, _, _, _ in devs:
        if path not in names:
            names.append(path)
    return sorted(names)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("out")
    ap.add_argument("--dev", action="append", default=[])
    args = ap.parse_args()
    devs = []
    for d in args.dev:
        path, kind, major, minor, mode = d.split(":")
        devs.append((os.path.normpath(path), kind, int(major), int(minor), int(mode, 8)))
    devmap = {d[0]: d for d in devs}

    tmp = args.out + ".tmp"
    with open(tmp, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6,
                                                mtime=0) as out:
        ino = 1
        for name in entries(args.dir, devs):
            bname = name.encode()
            ino += 1
            if name in devmap:
                _, kind, major, minor, mode = devmap[name]
                fmt = stat.S_IFCHR if kind == "c" else stat.S_IFBLK
                out.write(header(ino, fmt | mode, 1, 0, major, minor, bname))
                out.write(pad(110 + len(bname) + 1))
                continue
            full = os.path.join(args.dir, name)
            st = os.lstat(full)
            mode = st.st_mode
            data = b""
            if stat.S_ISLNK(mode):
                data = os.readlink(full).encode()
            elif stat.S_ISREG(mode):
                with open(full, "rb") as f:
                    data = f.read()
            elif not stat.S_ISDIR(mode):
                sys.exit(f"mkcpio: {full}: unsupported file type")
            nlink = 2 if stat.S_ISDIR(mode) else 1
            out.write(header(ino, mode, nlink, len(data), 0, 0, bname))
            out.write(pad(110 + len(bname) + 1))
            out.write(data)
            out.write(pad(len(data)))
        trailer = b"TRAILER!!!"
        out.write(header(0, 0, 1, 0, 0, 0, trailer))
        out.write(pad(110 + len(trailer) + 1))
    os.replace(tmp, args.out)


if __name__ == "__main__":
    main()
