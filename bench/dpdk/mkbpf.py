#!/usr/bin/env python3
"""Write sockperf-reply.o: an eBPF program for testpmd's `bpf-load rx`.

testpmd's 5tswap forwarding swaps MAC, IP and UDP ports but leaves the UDP
payload alone, and sockperf ignores a reply whose "client" flag (bit 0 of
byte 9 of its 14-byte header) is still set. This program, run by DPDK's
librte_bpf on each received packet (argument: a pointer to the frame),
clears that bit in UDP datagrams of 14 bytes or more, as echod --sockperf
and udp-echo --sockperf do, and updates the UDP checksum incrementally
(RFC 1624). It returns 1 (keep) for every packet.

No compiler for the BPF target is needed: the few instructions are
assembled here and wrapped in a minimal ELF64 relocatable (EM_BPF, one
".text" section, which is what rte_bpf_elf_load looks for).

    mkbpf.py OUT.o
"""
import struct
import sys

# Offsets in an Ethernet + IPv4 (no options) + UDP frame.
ETHERTYPE = 12
IP_VHL = 14
IP_PROTO = 23
UDP_LEN = 38
UDP_CSUM = 40
FLAGS = 14 + 20 + 8 + 9  # byte 9 of the UDP payload
MIN_UDP_LEN = 8 + 14     # UDP header + sockperf header

# eBPF opcodes (class | size/op | source).
LDXB, LDXH, STXB = 0x71, 0x69, 0x73
MOV_K, MOV_X, ADD_K, AND_K, OR_X, LSH_K, RSH_K = 0xb7, 0xbf, 0x07, 0x57, 0x4f, 0x67, 0x77
JEQ_K, JNE_K, JLT_K, EXIT = 0x15, 0x55, 0xa5, 0x95
R0, R1, R2, R3, R4, R5 = range(6)


def assemble(prog):
    """prog: list of (opcode, dst, src, off_or_label, imm) and 'label:' strings."""
    labels, pc = {}, 0
    for item in prog:
        if isinstance(item, str):
            labels[item.rstrip(":")] = pc
        else:
            pc += 1
    out, pc = b"", 0
    for item in prog:
        if isinstance(item, str):
            continue
        op, dst, src, off, imm = item
        if isinstance(off, str):  # a jump: offset from the next instruction
            off = labels[off] - (pc + 1)
        out += struct.pack("<BBhi", op, (src << 4) | dst, off, imm)
        pc += 1
    return out


PROGRAM = [
    (LDXH, R2, R1, ETHERTYPE, 0),
    (JNE_K, R2, 0, "keep", 0x0008),     # IPv4 (bytes 08 00, read little-endian)
    (LDXB, R2, R1, IP_VHL, 0),
    (JNE_K, R2, 0, "keep", 0x45),       # version 4, no options
    (LDXB, R2, R1, IP_PROTO, 0),
    (JNE_K, R2, 0, "keep", 17),         # UDP
    (LDXB, R2, R1, UDP_LEN, 0),
    (LSH_K, R2, 0, 0, 8),
    (LDXB, R3, R1, UDP_LEN + 1, 0),
    (OR_X, R2, R3, 0, 0),
    (JLT_K, R2, 0, "keep", MIN_UDP_LEN),
    (LDXB, R3, R1, FLAGS, 0),
    (MOV_X, R4, R3, 0, 0),
    (AND_K, R4, 0, 0, 1),
    (JEQ_K, R4, 0, "keep", 0),          # flag already clear
    (AND_K, R3, 0, 0, 0xfe),
    (STXB, R1, R3, FLAGS, 0),
    # The 16-bit word holding byte 9 (its low byte) went down by one, so the
    # checksum goes up by one in ones' complement: 0xffff + 1 folds to 1.
    (LDXB, R4, R1, UDP_CSUM, 0),
    (LSH_K, R4, 0, 0, 8),
    (LDXB, R5, R1, UDP_CSUM + 1, 0),
    (OR_X, R4, R5, 0, 0),
    (JEQ_K, R4, 0, "keep", 0),          # 0: the sender computed no checksum
    (ADD_K, R4, 0, 0, 1),
    (JLT_K, R4, 0, "store", 0x10000),
    (MOV_K, R4, 0, 0, 1),
    "store:",
    (MOV_X, R5, R4, 0, 0),
    (RSH_K, R5, 0, 0, 8),
    (STXB, R1, R5, UDP_CSUM, 0),
    (STXB, R1, R4, UDP_CSUM + 1, 0),    # a byte store keeps the low 8 bits
    "keep:",
    (MOV_K, R0, 0, 0, 1),
    (EXIT, 0, 0, 0, 0),
]


def elf(text):
    """A relocatable ELF64 (little-endian, EM_BPF) with .text and .shstrtab."""
    shstr = b"\0.text\0.shstrtab\0"
    text_off = 64
    str_off = text_off + len(text)
    sh_off = (str_off + len(shstr) + 7) & ~7
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
    ehdr = ident + struct.pack("<HHIQQQIHHHHHH", 1, 247, 1, 0, 0, sh_off, 0,
                               64, 0, 0, 64, 3, 2)

    def shdr(name, typ, flags, off, size, align):
        return struct.pack("<IIQQQQIIQQ", name, typ, flags, 0, off, size, 0, 0, align, 0)

    shdrs = (bytes(64) +
             shdr(1, 1, 0x6, text_off, len(text), 8) +        # .text: PROGBITS, AX
             shdr(7, 3, 0, str_off, len(shstr), 1))          # .shstrtab: STRTAB
    body = ehdr + text + shstr
    return body + bytes(sh_off - len(body)) + shdrs


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: mkbpf.py OUT.o")
    with open(sys.argv[1], "wb") as f:
        f.write(elf(assemble(PROGRAM)))


if __name__ == "__main__":
    main()
