"""DMA remapping (VT-d) from the outside: the kernel finds the unit, confines
the NIC to a domain of its own, and the data path still works through it;
without an IOMMU (or with a NIC that bypasses it) the log says that bypass
DMA is unconfined."""
import os

from harness import ROOT, Guest, iso, udp_roundtrips

ECHOD = os.path.join(ROOT, "usr/echod/build/echod.elf")
READY = r"echod ready"


def _echod():
    return iso("", [(ECHOD, "net=eth0:0 echod")])


def test_unit_found_and_nic_confined():
    with Guest(_echod(), "iommu-on") as g:
        g.wait_for(READY)
        g.wait_for(r"acpi: DMAR: 1 remapping unit")
        g.wait_for(r"iommu: VT-d \d+\.\d+ unit at 0xfed90000 .*translation on")
        g.wait_for(r"iommu: 00:0\d\.0 \(eth0\) in domain \d+")
        g.wait_for(r"eth0: DMA confined by the IOMMU")
        payloads = [bytes([i]) * (1 + 37 * i) for i in range(40)]
        assert not udp_roundtrips(g.port, payloads), "echo through the IOMMU failed"
        assert "DMA fault" not in g.log(), "an honest owner made the device fault"


def test_no_iommu_says_unconfined():
    with Guest(_echod(), "iommu-off", extra=["--no-iommu"]) as g:
        g.wait_for(READY)
        g.wait_for(r"iommu: no DMA remapping unit \(no DMAR table\): bypass DMA is unconfined")
        g.wait_for(r"eth0: DMA unconfined: no IOMMU")
        assert not udp_roundtrips(g.port, [b"unconfined but working"] * 4)


def test_nic_that_bypasses_the_iommu_is_named():
    # A virtio device without VIRTIO_F_ACCESS_PLATFORM uses physical
    # addresses and QEMU does not translate them: the kernel must not
    # claim to confine it.
    with Guest(_echod(), "iommu-bypass", extra=["--nic-opts", "iommu_platform=off"]) as g:
        g.wait_for(READY)
        g.wait_for(r"iommu: VT-d .*translation on")
        g.wait_for(r"eth0: DMA unconfined: the device does not offer VIRTIO_F_ACCESS_PLATFORM")
        assert not udp_roundtrips(g.port, [b"bypassing"] * 4)
