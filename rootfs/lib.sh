# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=sh
# Helpers shared by rootfs/build-initrd and rootfs/build-os (sourced, POSIX sh).
# The caller defines die() and runs with set -eu.

# bw_mod_index MODULES_DIR INDEX
# Writes "name file" for every module of a lib/modules/<version> tree (names
# use _ where file names may use -), then "name -" for every module that is
# built into the kernel (modules.builtin), so lookups find files first.
bw_mod_index() {
	find "$1/kernel" -name '*.ko' -o -name '*.ko.xz' -o -name '*.ko.zst' -o -name '*.ko.gz' |
		awk '{ n = $0; sub(/.*\//, "", n); sub(/\.ko.*$/, "", n); gsub(/-/, "_", n); print n, $0 }' >"$2"
	if [ -f "$1/modules.builtin" ]; then
		awk '{ n = $0; sub(/.*\//, "", n); sub(/\.ko$/, "", n); gsub(/-/, "_", n); print n, "-" }' \
			"$1/modules.builtin" >>"$2"
	fi
}

# bw_mod_file INDEX NAME: the module's file, "-" if built in, nothing if unknown.
bw_mod_file() { awk -v m="$2" '$1 == m { print $2; exit }' "$1"; }

# bw_mod_resolve INDEX NAME...
# Sets bw_order to the modules to load, dependencies first (read with
# modinfo -F depends), each once. Built-in modules are skipped silently; an
# unknown name is an error.
bw_mod_resolve() {
	bw_index=$1
	shift
	bw_order=''
	for bw_m in "$@"; do _bw_visit "$(echo "$bw_m" | tr - _)"; done
	bw_order=${bw_order# }
}
# Depth-first. Positional parameters are per function, so they carry the
# state of each level of the recursion.
_bw_visit() {
	case " $bw_order " in *" $1 "*) return 0 ;; esac
	bw_f=$(bw_mod_file "$bw_index" "$1")
	[ -n "$bw_f" ] || die "module $1 not found (neither a file nor in modules.builtin)"
	[ "$bw_f" != - ] || return 0
	# shellcheck disable=SC2046 # one word per dependency (names as in the index)
	set -- $(modinfo -F depends "$bw_f" | tr ',-' ' _') "$1"
	while [ $# -gt 1 ]; do _bw_visit "$1"; shift; done
	bw_order="$bw_order $1"
}

# bw_mod_copy FILE DEST: one module, stored uncompressed (busybox insmod then
# needs no decompressor).
bw_mod_copy() {
	case $1 in
	*.ko) cp "$1" "$2" ;;
	*.ko.xz) xz -dc "$1" >"$2" ;;
	*.ko.zst) zstd -qdc "$1" >"$2" ;;
	*.ko.gz) gzip -dc "$1" >"$2" ;;
	esac
}

# bw_copy_elf SRC STAGE DEST
# Installs the executable SRC as STAGE/DEST (mode 0755), and the dynamic
# loader and every shared library it needs, transitively (ldd), each at the
# path the host's loader resolved, so the same loader finds them in STAGE.
# A static executable gets no libraries.
bw_copy_elf() {
	[ -f "$1" ] || die "$1: no such file"
	mkdir -p "$2/$(dirname "$3")"
	rm -f "$2/$3"
	cp "$1" "$2/$3"
	chmod 0755 "$2/$3"
	bw_ldd=$(LC_ALL=C ldd "$1" 2>&1) || {
		case $bw_ldd in
		*'not a dynamic executable'* | *'statically linked'*) return 0 ;;
		*) die "ldd $1: $bw_ldd" ;;
		esac
	}
	case $bw_ldd in *'not found'*) die "$1 needs a library the host does not have: $bw_ldd" ;; esac
	# "libz.so.1 => /lib/x86_64-linux-gnu/libz.so.1 (0x...)", "/lib64/ld-linux-x86-64.so.2 (0x...)";
	# linux-vdso.so.1 has no file.
	for bw_lib in $(echo "$bw_ldd" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'); do
		[ -e "$2$bw_lib" ] && continue
		mkdir -p "$2$(dirname "$bw_lib")"
		cp -L "$bw_lib" "$2$bw_lib"
	done
}

# bw_busybox BUSYBOX STAGE: busybox as /bin/busybox and one symbolic link per
# applet, where busybox says it lives. Existing files are kept (so a real
# tool copied before wins over the applet).
bw_busybox() {
	mkdir -p "$2/bin" "$2/sbin" "$2/usr/bin" "$2/usr/sbin"
	cp "$1" "$2/bin/busybox"
	chmod 0755 "$2/bin/busybox"
	for bw_a in $("$1" --list-full); do
		[ "$bw_a" = bin/busybox ] || [ -e "$2/$bw_a" ] || [ -L "$2/$bw_a" ] || ln -s /bin/busybox "$2/$bw_a"
	done
}

# bw_need_busybox BUSYBOX: unless BUSYBOX was given, checks that the
# busybox-static package (a static /bin/busybox) is installed.
bw_need_busybox() {
	if [ -z "${BUSYBOX:-}" ]; then
		dpkg-query -W -f='${db:Status-Status}' busybox-static 2>/dev/null | grep -qx installed ||
			die "needs the busybox-static package (scripts/setup-deps rack)"
	fi
	[ -x "$1" ] || die "$1: not an executable"
}

# bw_stamp STAGE: every file gets the same time, $SOURCE_DATE_EPOCH (default 0).
bw_stamp() { find "$1" -exec touch -h -d "@${SOURCE_DATE_EPOCH:-0}" {} +; }

# bw_replace TMP OUT: moves TMP to OUT unless OUT already has the same bytes.
# Prints "same" or "new".
bw_replace() {
	if [ -f "$2" ] && cmp -s "$1" "$2"; then
		rm -f "$1"
		echo same
	else
		mv "$1" "$2"
		echo new
	fi
}
