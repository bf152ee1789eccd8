"""Hostile queue owners against the IOMMU (usr/tests/hostile dma-*): each
points its RX or TX descriptors at a page of kernel data, at another
process's page, or at an I/O address next to its own pool, and rings the
doorbell. The fault must be reported, the owner killed, both target pages
unchanged (the victim checksums them before and after, through test hooks),
the rest of the system running, and an honest echod beside or after the
attackers answering. Without the IOMMU the same attack lands: the test can
fail."""
import os
import re

from harness import EXIT_FAIL, ROOT, Guest, Skip, boot, iso, udp_roundtrips
from test_multiqueue import GUEST_IP, HOST_IP, TAP, MultiqueueNetns, _flows

HOSTILE = os.path.join(ROOT, "usr/tests/hostile/build/hostile.elf")
ECHOD = os.path.join(ROOT, "usr/echod/build/echod.elf")
SPIN = os.path.join(ROOT, "usr/tests/spin/build/spin.elf")
ATTACKS = [(mode, target) for mode in ("dma-tx", "dma-rx")
           for target in ("kernel", "victim", "unmapped")]
KILLED = r"pid (\d+) \(hostile\) killed: its queue pair (\d+) (.*)"


def _kills(log):
    return {int(pid): (int(qp), why) for pid, qp, why in re.findall(KILLED, log)}


def test_attacks_are_confined_and_reported():
    # pid 1 is the victim; pids 2-7 take queue pair 0 in turn (--after: the
    # kills before them), then pid 8 stops the device with a zero-length
    # descriptor, which the IOMMU cannot see but the kernel must answer too.
    mods = [(HOSTILE, f"hostile dma-victim {len(ATTACKS) + 1}")]
    for k, (mode, target) in enumerate(ATTACKS):
        mods.append((HOSTILE, f"net=eth0:0 hostile {mode} {target} --after {k}"))
    mods.append((HOSTILE, f"net=eth0:0 hostile dma-tx zero-length --after {len(ATTACKS)}"))
    b = boot(iso("testhooks", mods), "dma-attacks", net="user")
    b.expect("iommu: 00:0", "eth0: DMA confined by the IOMMU")
    # Reported: the unit's fault (once for the burst), with device and reason.
    assert re.search(r"iommu: DMA fault: 00:\d\d\.0 \(eth0\) read at I/O address 0x[0-9a-f]+: "
                     r"read of a page not mapped readable", b.log), b.logfile
    addrs = dict(re.findall(r"hostile\[(\d+)\]: hostile dma-\w+ \w+: descriptors at device "
                            r"address (0x[0-9a-f]+)", b.log))
    kills = _kills(b.log)
    for k, (mode, target) in enumerate(ATTACKS):
        pid = k + 2
        assert pid in kills, f"pid {pid} ({mode} {target}) was not killed: {b.logfile}"
        qp, why = kills[pid]
        verb = "read from" if mode == "dma-tx" else "write to"
        assert f"made eth0 {verb} I/O address {addrs[str(pid)]}" in why, why
    assert "gave eth0 a descriptor outside its pool, and the device stopped" in kills[8][1]
    b.expect("eth0: the device stopped (NEEDS_RESET); reset and up again")
    assert "survived" not in b.log, b.logfile
    # Nothing reached: the victim's own page and the kernel's, checksummed.
    b.expect(f"hostile dma-victim: after {len(ATTACKS) + 1} kill(s): own page unchanged, "
             f"kernel page unchanged", "pid 1 (hostile) exited with status 0")
    b.expect("all processes have exited")
    b.expect_status(EXIT_FAIL)  # the killed attackers' status


def test_dma_to_the_interrupt_range_cannot_crash_the_kernel():
    # RX buffers at 0xfee00000: every write there is an interrupt message
    # (vector and delivery mode from the frame's bytes). Interrupt remapping
    # would block them; QEMU 7.2 passes this (compatibility) format anyway,
    # so the kernel must take exception vectors that arrive as interrupts
    # for what they are, and find and kill who sent them.
    mods = [(HOSTILE, "net=eth0:0 hostile dma-rx msi"), (SPIN, "spin honest 30000000")]
    b = boot(iso("testhooks", mods), "dma-msi", net="user")
    b.expect("interrupt remapping on")
    assert re.search(r"kernel: interrupt message on exception vector \d+ \(a device's DMA to "
                     r"the interrupt range\?\): ignored", b.log), b.logfile
    assert "gave eth0 a descriptor outside its pool, and an interrupt message no device may " \
           "send arrived" in _kills(b.log)[1][1]
    assert "KERNEL PANIC" not in b.log
    b.expect("spin honest done", "pid 2 (spin) exited with status 0")
    b.expect_status(EXIT_FAIL)


def test_without_iommu_the_attack_lands():
    # The same RX attack with no IOMMU: the device writes the ARP reply into
    # the victim's page, and nothing stops it. (This is what the test above
    # would see if confinement failed.)
    mods = [(HOSTILE, "hostile dma-victim 1 4000"),
            (HOSTILE, "net=eth0:0 hostile dma-rx victim")]
    b = boot(iso("testhooks", mods), "dma-no-iommu", net="user", extra=["--no-iommu"])
    b.expect("eth0: DMA unconfined: no IOMMU")
    b.expect("hostile dma-victim: after 0 kill(s) (fewer than awaited): own page CHANGED")
    b.expect("hostile dma-rx victim: survived")


def test_next_owner_gets_a_clean_pair():
    # The attacker is killed; echod, waiting for the queue pair, gets it
    # wiped and answers host clients through the IOMMU.
    image = iso("testhooks", [(HOSTILE, "net=eth0:0 hostile dma-rx kernel"),
                              (ECHOD, "net=eth0:0 echod --delay 300 --retry 200")])
    with Guest(image, "dma-next-owner") as g:
        g.wait_for(KILLED)
        g.wait_for(r"pid 2 \(echod\) attached eth0 queue pair 0")
        g.wait_for("echod ready")
        payloads = [b"after the attack %d" % i for i in range(32)]
        assert not udp_roundtrips(g.port, payloads), "echod did not answer after the attack"


def test_echod_beside_attackers_keeps_answering():
    # Two queue pairs of one device: echod serves pair 0 on its own core
    # while attackers take pair 1. The second attacker stops the whole device;
    # the kernel resets it, echod is told (EV_NET_RESET), re-attaches and
    # answers every flow. Both share one PCI function, hence one IOMMU domain:
    # what this does not cover is in HACKING.md (threat model).
    if os.geteuid() != 0:
        raise Skip("needs root for network namespaces and tap devices")
    net = f"--ip {GUEST_IP} --gw {HOST_IP}"
    image = iso("testhooks", [
        (ECHOD, f"cpus=1 net=eth0:0 echod {net}"),
        (HOSTILE, "hostile dma-victim 2"),
        (HOSTILE, "net=eth0:1 hostile dma-tx kernel --qp 1 --after 0"),
        (HOSTILE, "net=eth0:1 hostile dma-tx zero-length --qp 1 --after 1 --delay 3000")])
    ok = ["lost", "0", "bad", "0", "ports", "16"]
    with MultiqueueNetns("dma") as ns:
        with Guest(image, "dma-beside", net=f"tap:{TAP}", cpus=3,
                   extra=["--queues", "2", "--rss"],
                   prefix=["ip", "netns", "exec", ns.name]) as g:
            g.wait_for("echod ready")
            g.wait_for(KILLED)
            out = _flows(ns.name, 16, 4)  # beside the first attacker's fault
            assert out == ok, f"client: {' '.join(out)} ({g.logfile})"
            g.wait_for(r"hostile dma-victim: after 2 kill\(s\): own page unchanged, "
                       r"kernel page unchanged", timeout=30)
            g.wait_for(r"eth0: the device stopped \(NEEDS_RESET\); reset and up again .* "
                       r"1 other owner\(s\) told to re-attach")
            g.wait_for(r"pid 1 \(echod\) re-attached eth0 queue pair 0 after a device reset")
            out = _flows(ns.name, 16, 4)  # after the second one stopped the device
            assert out == ok, f"client after the reset: {' '.join(out)} ({g.logfile})"
            kills = _kills(g.log())
            assert sorted(kills) == [3, 4] and all(qp == 1 for qp, _ in kills.values()), kills
            assert "pid 1 (echod) exited" not in g.log()
