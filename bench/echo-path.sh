#!/bin/sh
# echod's data path on the host under callgrind: instructions per echoed
# datagram, function by function (bench/echo-path.c; bench/README.md).
#   bench/echo-path.sh [ROUNDS]        (default 10000; needs valgrind)
set -e
cd "$(dirname "$0")/.."
rounds=${1:-10000}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
command -v valgrind >/dev/null || { echo "echo-path: valgrind is missing (apt-get install valgrind)" >&2; exit 1; }
gcc -std=gnu11 -O2 -g -fno-strict-aliasing -Wall -Wextra -Wno-unused-function \
	-DHOST_TEST -DFUZZ_TEST -Iinclude -Iarch/x86_64/include -Iusr/lib -Iusr/lib/include \
	-o "$out/echo-path" bench/echo-path.c usr/lib/netif.c usr/lib/vnet.c lib/virtq.c \
	usr/lib/net/[a-z]*.c
"$out/echo-path" 1000
valgrind --tool=callgrind --toggle-collect=guest_path --callgrind-out-file="$out/cg" \
	"$out/echo-path" "$rounds" 2>&1 | grep -E "refs" |
	awk -v n="$rounds" '{gsub(",", "", $4); printf "echo-path: %.0f instructions per echoed datagram\n", $4 / n}'
callgrind_annotate --threshold=95 "$out/cg" 2>/dev/null |
	sed -n 's/^ *\([0-9,]*\) ([ 0-9.]*%) *[^ ]*:\([A-Za-z_0-9]*\).*/\1 \2/p' |
	awk -v n="$rounds" '$2 != "" {gsub(",", "", $1); printf "%6.0f  %s\n", $1 / n, $2}' | head -25
