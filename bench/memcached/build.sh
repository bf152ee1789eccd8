#!/bin/bash
# Build the memcached guest of the key-value benchmark (bench/kv.py):
#   bench/cache/memcached/vmlinuz   the Debian cloud kernel (the Linux guest's)
#   bench/cache/memcached/initrd.gz busybox-static, the virtio-net modules, /init,
#                                   Debian's memcached and its shared libraries
# The shared-library closure is taken from the packages (readelf NEEDED), as
# bench/dpdk/build.sh does for testpmd. Downloads with `apt-get download`
# into bench/cache/debs the first time; offline after that. Idempotent.
#   --cached   never download: exit 3 when a package is not cached
set -euo pipefail
. "$(dirname "$0")/../guest-common.sh"

cached=0
for a in "$@"; do
	case $a in
	--cached) cached=1 ;;
	*) die "usage: $0 [--cached]" ;;
	esac
done

# memcached and the library packages it depends on, recursively (no -dev,
# perl or python: the package's scripts are not needed to run the daemon).
memcached_packages() {
	local -A seen=([memcached]=1)
	local level=(memcached) next d
	while [ ${#level[@]} -gt 0 ]; do
		next=()
		for d in $(apt-cache depends --no-recommends --no-suggests --no-conflicts \
			--no-breaks --no-replaces --no-enhances "${level[@]}" 2>/dev/null |
			sed -n 's/^ *|\{0,1\}\(Pre\)\{0,1\}Depends: \([^<][^ :]*\).*/\2/p' | sort -u); do
			case $d in
			*-dev | *python* | *perl*) continue ;;
			lib* | zlib1g) ;;
			*) continue ;;
			esac
			[ -n "${seen[$d]:-}" ] && continue
			seen[$d]=1
			next+=("$d")
		done
		level=("${next[@]}")
	done
	[ ${#seen[@]} -gt 3 ] || die "cannot resolve memcached's dependencies (run apt-get update)"
	printf '%s\n' "${!seen[@]}" | sort -u
}

if [ $cached = 1 ]; then
	for l in memcached kernel busybox; do
		[ -s "$DEBS/$l.list" ] || { say "memcached guest: packages not cached"; exit 3; }
	done
	for p in $(cat "$DEBS/memcached.list" "$DEBS/kernel.list" "$DEBS/busybox.list"); do
		deb_of "$p" >/dev/null || { say "memcached guest: $p not cached"; exit 3; }
	done
fi
if [ -s "$DEBS/memcached.list" ]; then
	fetch_list memcached
else
	# shellcheck disable=SC2046
	fetch_list memcached $(memcached_packages)
fi
fetch_kernel
fetch_busybox

MROOT=$CACHE/memcached-root
sum=$(md5sum <"$DEBS/memcached.list" | cut -d' ' -f1)
if [ "$(cat "$MROOT/.done" 2>/dev/null)" != "$sum" ]; then
	say "extracting $(wc -l <"$DEBS/memcached.list") memcached packages"
	rm -rf "$MROOT"
	mkdir -p "$MROOT"
	for p in $(list_pkgs memcached); do deb_of "$p"; done | xargs -I{} dpkg-deb -x {} "$MROOT"
	echo "$sum" >"$MROOT/.done"
fi
MEMCACHED=$MROOT/usr/bin/memcached
[ -x "$MEMCACHED" ] || die "no /usr/bin/memcached in the memcached package"

OUT=$CACHE/memcached
mkdir -p "$OUT"
if fresh "$OUT/initrd.gz" "$BENCH/memcached/init" "$BENCH/memcached/build.sh" \
	"$BENCH/guest-common.sh" "$BENCH/mkcpio.py" "$DEBS/memcached.list" "$DEBS/kernel.list" \
	"$DEBS/busybox.list" && [ "$(cat "$OUT/kernel-version" 2>/dev/null)" = "$KVER" ]; then
	say "memcached guest: up to date ($OUT)"
	exit 0
fi

LIBDIRS=("$MROOT/lib/x86_64-linux-gnu" "$MROOT/usr/lib/x86_64-linux-gnu")
find_soname() {
	local d
	for d in "${LIBDIRS[@]}"; do
		[ -e "$d/$1" ] && { echo "$d/$1"; return 0; }
	done
	return 1
}
declare -A LIBS=()
todo=("$MEMCACHED")
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
stage_base "$stage" virtio_net virtio_pci
mkdir -p "$stage/usr/bin" "$stage/usr/lib/x86_64-linux-gnu" "$stage/lib64"
cp "$MEMCACHED" "$stage/usr/bin/memcached"
for n in "${!LIBS[@]}"; do
	cp -L "${LIBS[$n]}" "$stage/usr/lib/x86_64-linux-gnu/$n"
done
interp=$(readelf -l "$MEMCACHED" | sed -n 's/.*Requesting program interpreter: \(.*\)\]/\1/p')
cp -L "$MROOT/lib/x86_64-linux-gnu/${interp##*/}" "$stage$interp"
printf 'root:x:0:0:root:/:/bin/sh\n' >"$stage/etc/passwd"
printf 'root:x:0:\n' >"$stage/etc/group"
install -m 755 "$BENCH/memcached/init" "$stage/init"
pack "$stage" "$OUT/initrd.gz"
cp "$VMLINUZ" "$OUT/vmlinuz.tmp" && mv "$OUT/vmlinuz.tmp" "$OUT/vmlinuz"
echo "$KVER" >"$OUT/kernel-version"
say "memcached guest: $OUT/vmlinuz ($KVER) + $OUT/initrd.gz ($(du -k "$OUT/initrd.gz" | cut -f1) KiB, ${#LIBS[@]} libraries)"
