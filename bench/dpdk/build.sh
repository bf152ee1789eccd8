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
	local level=(dpdk-dev) next d
	while [ ${#level[@]} -gt 0 ]; do
		next=()
		# One apt-cache call per level of the tree (each call loads the cache).
		for d in $(apt-cache depends --no-recommends --no-suggests --no-conflicts \
			--no-breaks --no-replaces --no-enhances "${level[@]}" 2>/dev/null |
			sed -n 's/^ *|\{0,1\}\(Pre\)\{0,1\}Depends: \([^<][^ :]*\).*/\2/p' | sort -u); do
			case $d in
			*-dev | *python* | *perl*) continue ;;
			lib* | zlib1g | ibverbs-providers) ;;
			*) continue ;;
			esac
			[ -n "${seen[$d]:-}" ] && continue
			seen[$d]=1
			next+=("$d")
		done
		level=("${next[@]}")
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
	for p in $(list_pkgs dpdk); do deb_of "$p"; done |
		xargs -P "$(nproc)" -I{} dpkg-deb -x {} "$DROOT"
	echo "$sum" >"$DROOT/.done"
fi
TESTPMD=$DROOT/usr/bin/dpdk-testpmd
[ -x "$TESTPMD" ] || die "no dpdk-testpmd in dpdk-dev"
[ $fetch_only = 1 ] && exit 0

OUT=$CACHE/dpdk
mkdir -p "$OUT"
if fresh "$OUT/initrd.gz" "$BENCH/dpdk/init" "$BENCH/dpdk/build.sh" "$BENCH/dpdk/mkbpf.py" \
	"$BENCH/guest-common.sh" "$BENCH/mkcpio.py" "$DEBS/dpdk.list" "$DEBS/kernel.list" \
	"$DEBS/busybox.list" && [ "$(cat "$OUT/kernel-version" 2>/dev/null)" = "$KVER" ]; then
	say "dpdk guest: up to date ($OUT)"
	exit 0
fi

PMDS=$(cd "$DROOT" && ls -d usr/lib/x86_64-linux-gnu/dpdk/pmds-* | head -n 1)
[ -n "$PMDS" ] || die "no DPDK plugin directory in the packages"
ABI=${PMDS##*pmds-}
# The plugins testpmd needs here: the virtio PMD and the ring mempool driver.
# EAL loads every librte_*.so.$ABI of its plugin directory at start-up.
PLUGINS=(librte_net_virtio.so."$ABI" librte_mempool_ring.so."$ABI")

# The shared-library closure of testpmd and the plugins, from the packages.
LIBDIRS=("$DROOT/lib/x86_64-linux-gnu" "$DROOT/usr/lib/x86_64-linux-gnu" "$DROOT/$PMDS")
find_soname() {
	local d
	for d in "${LIBDIRS[@]}"; do
		[ -e "$d/$1" ] && { echo "$d/$1"; return 0; }
	done
	return 1
}
declare -A LIBS=()
todo=("$TESTPMD")
for p in "${PLUGINS[@]}"; do
	[ -f "$DROOT/$PMDS/$p" ] || die "plugin $p is not in the packages"
	todo+=("$DROOT/$PMDS/$p")
done
while [ ${#todo[@]} -gt 0 ]; do
	f=${todo[-1]}
	unset 'todo[-1]'
	for n in $(readelf -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
		[ -n "${LIBS[$n]:-}" ] && continue
		path=$(find_soname "$n") || die "$n (needed by ${f##*/}) is in none of the packages"
		LIBS[$n]=$path
		todo+=("$path")
	done
done

stage=$OUT/root
stage_base "$stage" uio_pci_generic
mkdir -p "$stage/usr/bin" "$stage/usr/lib/x86_64-linux-gnu" "$stage/$PMDS" "$stage/lib64" \
	"$stage/dev/hugepages" "$stage/var/run"
cp "$TESTPMD" "$stage/usr/bin/dpdk-testpmd"
for n in "${!LIBS[@]}"; do
	cp -L "${LIBS[$n]}" "$stage/usr/lib/x86_64-linux-gnu/$n"
done
for p in "${PLUGINS[@]}"; do
	cp -L "$DROOT/$PMDS/$p" "$stage/$PMDS/$p"
done
interp=$(readelf -l "$TESTPMD" | sed -n 's/.*Requesting program interpreter: \(.*\)\]/\1/p')
cp -L "$DROOT/lib/x86_64-linux-gnu/${interp##*/}" "$stage$interp"
python3 "$BENCH/dpdk/mkbpf.py" "$stage/etc/sockperf-reply.o"
echo "bpf-load rx 0 0 J /etc/sockperf-reply.o" >"$stage/etc/testpmd.cmds"
install -m 755 "$BENCH/dpdk/init" "$stage/init"
pack "$stage" "$OUT/initrd.gz"
cp "$VMLINUZ" "$OUT/vmlinuz.tmp" && mv "$OUT/vmlinuz.tmp" "$OUT/vmlinuz"
echo "$KVER" >"$OUT/kernel-version"
say "dpdk guest: $OUT/vmlinuz ($KVER) + $OUT/initrd.gz ($(du -k "$OUT/initrd.gz" | cut -f1) KiB, ${#LIBS[@]} libraries)"
