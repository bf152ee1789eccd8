#!/bin/bash
# Build the Linux + DPDK guest of the echo benchmark:
#   bench/cache/dpdk/vmlinuz    the Debian cloud kernel (same as the Linux guest)
#   bench/cache/dpdk/initrd.gz  busybox-static, uio_pci_generic, dpdk-testpmd with
#                               the shared libraries it links, the virtio PMD and
#                               ring mempool plugins, and a BPF filter that makes
#                               5tswap's echo acceptable to sockperf (see README)
# Downloads with `apt-get download` into bench/cache/debs the first time;
# offline after that. Idempotent.
#   --fetch-only   download and extract, build nothing
#   --cached       fail (exit 3) rather than download: succeed only offline
set -euo pipefail
. "$(dirname "$0")/../guest-common.sh"

fetch_only=0 cached=0
for a in "$@"; do
	case $a in
	--fetch-only) fetch_only=1 ;;
	--cached) cached=1 ;;
	*) die "usage: $0 [--fetch-only|--cached]" ;;
	esac
done

# The runtime closure of dpdk-dev (which holds dpdk-testpmd), resolved once:
# its dependencies, recursively, keeping shared-library packages only (no -dev
# headers, no python or perl), plus the virtio PMD that only dpdk recommends.
dpdk_packages() {
	local -A seen=([dpdk-dev]=1)
	local todo=(dpdk-dev) p d
	while [ ${#todo[@]} -gt 0 ]; do
		p=${todo[-1]}
		unset 'todo[-1]'
		for d in $(apt-cache depends --no-recommends --no-suggests --no-conflicts \
			--no-breaks --no-replaces --no-enhances "$p" 2>/dev/null |
			sed -n 's/^ *|\{0,1\}\(Pre\)\{0,1\}Depends: \([^<][^ :]*\).*/\2/p'); do
			case $d in
			*-dev | *python* | *perl*) continue ;;
			lib* | zlib1g | ibverbs-providers) ;;
			*) continue ;;
			esac
			[ -n "${seen[$d]:-}" ] && continue
			seen[$d]=1
			todo+=("$d")
		done
	done
	[ ${#seen[@]} -gt 10 ] || die "cannot resolve dpdk-dev's dependencies (run apt-get update)"
	printf '%s\n' "${!seen[@]}" librte-net-virtio23 | sort -u
}

if [ ! -s "$DEBS/dpdk.list" ] || [ ! -s "$DEBS/kernel.list" ] || [ ! -s "$DEBS/busybox.list" ]; then
	[ $cached = 1 ] && { say "dpdk guest: packages not cached"; exit 3; }
fi
if [ $cached = 1 ]; then
	for p in $(cat "$DEBS/dpdk.list" "$DEBS/kernel.list" "$DEBS/busybox.list"); do
		deb_of "$p" >/dev/null || { say "dpdk guest: $p not cached"; exit 3; }
	done
fi
if [ -s "$DEBS/dpdk.list" ]; then
	fetch_list dpdk
else
	# shellcheck disable=SC2046
	fetch_list dpdk $(dpdk_packages)
fi
fetch_kernel
fetch_busybox

# Extract every package of the closure into one tree (redone when the list changes).
DROOT=$CACHE/dpdk-root
sum=$(md5sum <"$DEBS/dpdk.list" | cut -d' ' -f1)
if [ "$(cat "$DROOT/.done" 2>/dev/null)" != "$sum" ]; then
	say "extracting $(wc -l <"$DEBS/dpdk.list") DPDK packages"
	rm -rf "$DROOT"
	mkdir -p "$DROOT"
	for p in $(list_pkgs dpdk); do
		dpkg-deb -x "$(deb_of "$p")" "$DROOT"
	done
	echo "$sum" >"$DROOT/.done"
fi
TESTPMD=$DROOT/usr/bin/dpdk-testpmd
[ -x "$TESTPMD" ] || die "no dpdk-testpmd in dpdk-dev"
[ $fetch_only = 1 ] && exit 0
