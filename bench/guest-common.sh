# shellcheck shell=bash
# Shared by bench/linux/build.sh and bench/dpdk/build.sh (sourced, not run).
#
# Downloads go to bench/cache/debs with `apt-get download` and are recorded in
# a list per purpose; once a list exists, nothing is asked of the network
# again (offline rebuilds). Delete bench/cache/debs/*.list to refresh.

BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=$BENCH/cache
DEBS=$CACHE/debs
mkdir -p "$DEBS"

say() { echo "bench: $*" >&2; }
die() { echo "bench: error: $*" >&2; exit 1; }

# Serialise builds: make check may run the Linux and DPDK smoke tests at once.
exec 9>"$CACHE/.build.lock"
flock 9

# fetch_list NAME PKG...: make sure every package of list NAME is in $DEBS.
# The first call resolves PKG... (already exact names) and records them.
fetch_list() {
	local name=$1
	shift
	local list=$DEBS/$name.list
	if [ ! -s "$list" ]; then
		printf '%s\n' "$@" >"$list.tmp"
		mv "$list.tmp" "$list"
	fi
	local missing=() p
	while read -r p; do
		[ -n "$p" ] || continue
		deb_of "$p" >/dev/null || missing+=("$p")
	done <"$list"
	if [ ${#missing[@]} -gt 0 ]; then
		say "downloading ${#missing[@]} package(s) into bench/cache/debs: ${missing[*]:0:6}$([ ${#missing[@]} -gt 6 ] && echo ' ...')"
		(cd "$DEBS" && apt-get download -q -o APT::Sandbox::User=root -o Acquire::Retries=3 "${missing[@]}" >/dev/null) ||
			die "apt-get download failed (is 'apt-get update' done and Debian's archive reachable?)"
		for p in "${missing[@]}"; do
			deb_of "$p" >/dev/null || die "package $p did not download"
		done
	fi
}

# deb_of PKG: the cached .deb of PKG (newest version if several).
deb_of() {
	local f
	f=$(ls -1 "$DEBS/$1"_*.deb 2>/dev/null | sort -V | tail -n 1)
	[ -n "$f" ] && echo "$f"
}

# list_pkgs NAME: the packages of list NAME.
list_pkgs() { cat "$DEBS/$1.list"; }

# The Debian cloud kernel: linux-image-cloud-amd64 is a metapackage whose one
# dependency is the versioned image package. Resolved once, then cached.
fetch_kernel() {
	local list=$DEBS/kernel.list
	if [ ! -s "$list" ]; then
		local img
		img=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null |
			sed -n 's/^ *Depends: \(linux-image-[0-9].*-cloud-amd64\)$/\1/p' | head -n 1)
		[ -n "$img" ] || die "cannot resolve linux-image-cloud-amd64 (run apt-get update)"
		fetch_list kernel "$img"
	else
		fetch_list kernel
	fi
	KPKG=$(list_pkgs kernel | head -n 1)
	KVER=${KPKG#linux-image-}
	KROOT=$CACHE/kernel-$KVER
	if [ ! -f "$KROOT/.done" ]; then
		say "extracting $KPKG"
		rm -rf "$KROOT"
		mkdir -p "$KROOT"
		dpkg-deb -x "$(deb_of "$KPKG")" "$KROOT"
		touch "$KROOT/.done"
	fi
	KMOD=$KROOT/lib/modules/$KVER
	VMLINUZ=$KROOT/boot/vmlinuz-$KVER
	[ -f "$VMLINUZ" ] || die "no kernel image in $KPKG"
}

# mod_path NAME: the .ko file of module NAME in the extracted kernel.
mod_path() {
	local f
	f=$(find "$KMOD/kernel" \( -name "$1.ko" -o -name "$1.ko.xz" -o -name "$1.ko.zst" \) | head -n 1)
	[ -z "$f" ] && f=$(find "$KMOD/kernel" -name "$(echo "$1" | tr _ -).ko*" | head -n 1)
	[ -n "$f" ] || return 1
	echo "$f"
}

# mod_order NAME...: the modules with their dependencies (from each module's
# .modinfo "depends=", so no depmod or modinfo is needed), dependencies
# first, each once, as paths relative to $KMOD.
mod_order() {
	local -A seen=()
	local order=()
	_mod_visit() {
		local m=$1 f deps d
		[ -n "${seen[$m]:-}" ] && return 0
		seen[$m]=1
		f=$(mod_path "$m") || die "module $m is not in kernel $KVER"
		case "$f" in *.ko) ;; *) die "compressed module $f: not supported" ;; esac
		deps=$(objcopy -O binary -j .modinfo "$f" /dev/stdout | tr '\0' '\n' |
			sed -n 's/^depends=//p' | tr ',' ' ')
		for d in $deps; do _mod_visit "$d"; done
		order+=("${f#"$KMOD"/}")
	}
	local m
	for m in "$@"; do _mod_visit "$m"; done
	printf '%s\n' "${order[@]}"
}

# fetch_busybox: busybox-static's binary, extracted; sets BUSYBOX.
fetch_busybox() {
	fetch_list busybox busybox-static
	local root=$CACHE/busybox-root
	if [ ! -f "$root/.done" ]; then
		rm -rf "$root"
		mkdir -p "$root"
		dpkg-deb -x "$(deb_of busybox-static)" "$root"
		touch "$root/.done"
	fi
	BUSYBOX=$root/bin/busybox
	[ -x "$BUSYBOX" ] || die "no busybox in busybox-static"
}

# build_echo OUT: the static UDP echo server.
build_echo() {
	local src=$BENCH/linux/udp-echo.c out=$1
	if [ ! -x "$out" ] || [ "$src" -nt "$out" ]; then
		command -v gcc >/dev/null || die "gcc is missing (apt-get install gcc libc6-dev)"
		gcc -static -O2 -Wall -Wextra -Werror -o "$out.tmp" "$src" ||
			die "building udp-echo failed (static glibc: apt-get install libc6-dev)"
		mv "$out.tmp" "$out"
	fi
}

# stage_base DIR MODULE...: an initramfs tree with busybox, the modules (and
# their dependencies, listed in load order in /modules) and /dev, /proc ...
stage_base() {
	local dir=$1 m
	shift
	rm -rf "$dir"
	mkdir -p "$dir"/{bin,sbin,dev,proc,sys,tmp,etc,lib/modules,mnt,run}
	chmod 755 "$dir"
	chmod 1777 "$dir/tmp"
	cp "$BUSYBOX" "$dir/bin/busybox"
	# Only the applets /init uses, linked by hand (no --install at boot).
	for a in sh mount insmod ip cat sleep echo mkdir ls dmesg grep sed tr awk tail head \
		ifconfig route poweroff ps top free taskset; do
		ln -s busybox "$dir/bin/$a"
	done
	: >"$dir/modules"
	for m in $(mod_order "$@"); do
		cp "$KMOD/$m" "$dir/lib/modules/"
		basename "$m" >>"$dir/modules"
	done
}

# pack DIR OUT: cpio (newc) + gzip, written atomically, with /dev/console
# (init's first output goes there, before devtmpfs is mounted).
pack() {
	python3 "$BENCH/mkcpio.py" "$1" "$2" --dev dev/console:c:5:1:600 ||
		die "packing the initramfs failed"
}

# fresh OUT INPUT...: OUT exists and is newer than every INPUT (skip the build).
fresh() {
	local out=$1 f
	shift
	[ -e "$out" ] || return 1
	for f in "$@"; do
		[ "$f" -nt "$out" ] && return 1
	done
	return 0
}
