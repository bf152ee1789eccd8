#!/bin/bash
# Build the Linux sockets guest of the echo benchmark:
#   bench/cache/linux/vmlinuz   the Debian cloud kernel
#   bench/cache/linux/initrd.gz busybox-static, the virtio-net modules, /init,
#                               and udp-echo (bench/linux/udp-echo.c, static)
# Downloads with `apt-get download` into bench/cache/debs the first time;
# offline after that. Idempotent. Boot it with bench/lib.py (or see README).
set -euo pipefail
. "$(dirname "$0")/../guest-common.sh"

OUT=$CACHE/linux
mkdir -p "$OUT"
fetch_kernel
fetch_busybox
if fresh "$OUT/initrd.gz" "$BENCH/linux/init" "$BENCH/linux/udp-echo.c" "$BENCH/linux/build.sh" \
	"$BENCH/guest-common.sh" "$BENCH/mkcpio.py" "$DEBS/kernel.list" "$DEBS/busybox.list" &&
	[ "$(cat "$OUT/kernel-version" 2>/dev/null)" = "$KVER" ]; then
	say "linux guest: up to date ($OUT)"
	exit 0
fi
build_echo "$OUT/udp-echo"

stage=$OUT/root
stage_base "$stage" virtio_net virtio_pci
cp "$OUT/udp-echo" "$stage/bin/udp-echo"
install -m 755 "$BENCH/linux/init" "$stage/init"
pack "$stage" "$OUT/initrd.gz"
cp "$VMLINUZ" "$OUT/vmlinuz.tmp" && mv "$OUT/vmlinuz.tmp" "$OUT/vmlinuz"
echo "$KVER" >"$OUT/kernel-version"
say "linux guest: $OUT/vmlinuz ($KVER) + $OUT/initrd.gz ($(du -k "$OUT/initrd.gz" | cut -f1) KiB)"
