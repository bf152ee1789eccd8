"""Hostile TCP from outside with scapy (Debian's python3-scapy, so
/usr/bin/python3) over a tap in a throwaway namespace: a SYN flood, blind
RSTs and SYNs in and out of the window, out-of-order and overlapping
segments, a zero window, bad options and checksums, all while a Linux client
keeps an established connection busy; the stack (build/host/tcpecho)
serves it throughout, names every drop in its counters, and holds nothing
once it is over."""
import os
import subprocess

from harness import ROOT, Skip
from test_tcp_linux import HOST_IP, MAC, STACK_IP, TAP, HostStack, _need_root

SCRIPT = os.path.join(ROOT, "tests/system/tcphostile.py")


def test_hostile_tcp():
    _need_root()
    if subprocess.run(["/usr/bin/python3", "-c", "import scapy"],
                      capture_output=True).returncode:
        raise Skip("no python3-scapy (scripts/install-toolchain installs it)")
    with HostStack("tcp-hostile", "--synack-retries 1 --backlog 64") as st:
        p = subprocess.run(["ip", "netns", "exec", st.ns, "/usr/bin/python3", SCRIPT, TAP, MAC,
                            STACK_IP, HOST_IP, "7"], capture_output=True, text=True,
                           timeout=300)
        lines = p.stdout.splitlines()
        assert lines and lines[-1] == "done", f"{p.stdout}\n{p.stderr}"
        failed = [l for l in lines if l.startswith("FAIL")]
        assert not failed, "\n".join(failed)
        # Every drop named; then nothing held (half-open ones time out in ~3 s).
        st.wait_idle(0, timeout=60)
        tcp, drop = st.counters("tcp"), st.counters("drop")
        want_tcp = {"cookies_tx": 1, "challenge_acks": 10, "wscale_clamped": 1, "ooo": 2,
                    "probes": 1, "syn_drops": 1}
        want_drop = {"tcp_rst_ignored": 5, "tcp_rst_challenged": 5, "tcp_syn_challenged": 5,
                     "tcp_window": 5, "tcp_opt": 2, "tcp_csum": 1}
        short = {k: tcp.get(k) for k, v in want_tcp.items() if tcp.get(k, 0) < v}
        short.update({k: drop.get(k) for k, v in want_drop.items() if drop.get(k, 0) < v})
        assert not short, f"counters short: {short}\n{tcp}\n{drop}"
