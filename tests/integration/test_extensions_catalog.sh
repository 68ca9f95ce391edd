#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The extension catalog end to end: bundles of every archive format (tar,
# tar.gz, tar.zst, tar.xz, tar.bz2, zip, and a tar listing only files in another
# order) normalize to the same bytes; the bundle downloaded back is owned by
# 0:0 with its modes folded to 0755/0644 and the entry executable; every bad
# bundle or version is refused with its status, code and a message naming
# what was wrong, publishing nothing and leaving no temporary file; deletion
# is refused while a pool or a version refers to what would go; a viewer
# reads but cannot upload; leftovers of a crash go at the next upload and
# at the next start.
. "$(dirname "$0")/lib.sh"
cat >>"$CONF" <<CONF
[extensions]
max_bundle = 1M
CONF
start_daemon
EXT=$STATE/extensions
VIEWER=$(bw -q token create watcher --role viewer)

bw_rc 0 extension create hello --description "says hello"
check_eq "extension listed" "hello" "$(bw -o json extension list | jq -r '.[].name')"
check_eq "extension shown" "says hello" "$(bw -o json extension show hello | jq -r .description)"

# The same files in every format. Even mtimes: zip keeps DOS times (2 s) besides its UT field.
src=$T/src
mkdir -p "$src/lib" "$src/etc"
printf '#!/bin/sh\necho hello\n' >"$src/run"
printf 'helper\n' >"$src/lib/helper.sh"
printf 'data\n' >"$src/lib/data.txt"
chmod 0755 "$src/run" "$src/lib/helper.sh"
chmod 0600 "$src/lib/data.txt"
chmod 0700 "$src/etc"
find "$src" -exec touch -h -d @1700000000 {} +
tar -C "$src" --owner=1234 --group=99 -cf "$T/b.tar" .
gzip -c "$T/b.tar" >"$T/b.tar.gz"
zstd -q -c "$T/b.tar" >"$T/b.tar.zst"
xz -c "$T/b.tar" >"$T/b.tar.xz"
bzip2 -c "$T/b.tar" >"$T/b.tar.bz2"
if command -v zip >/dev/null; then
	(cd "$src" && zip -q -r "$T/b.zip" .)
else
	python3 - "$src" "$T/b.zip" <<'PY'
import os, sys, zipfile
src, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
    for root, dirs, files in os.walk(src):
        for n in sorted(dirs) + sorted(files):
            p = os.path.join(root, n)
            z.write(p, os.path.relpath(p, src))
PY
fi
# Only files, listed backwards: the parent directories are implied.
tar -C "$src" -cf "$T/files-only.tar" lib/helper.sh lib/data.txt run etc

v=0
for f in b.tar b.tar.gz b.tar.zst b.tar.xz b.tar.bz2 b.zip files-only.tar; do
	v=$((v + 1))
	bw_rc 0 -o json extension publish hello "1.$v" "$T/$f"
	sums+=("$(jq -r .sha256 <<<"$OUT")")
	check_eq "$f: entries" "5" "$(jq -r .files <<<"$OUT")"
	check_eq "$f: entry" "run" "$(jq -r .entry <<<"$OUT")"
done
check_eq "one sha256 for every format" "1" "$(printf '%s\n' "${sums[@]}" | sort -u | wc -l)"
check_eq "versions listed" "1.1 1.2 1.3 1.4 1.5 1.6 1.7" "$(bw -o json extension versions hello | jq -r '[.[].version] | join(" ")')"
check_eq "version shown" "${sums[0]}" "$(bw -o json extension version hello 1.3 | jq -r .sha256)"
check_eq "stored under <dir>/<name>/<version>.tar" "yes" "$([ -f "$EXT/hello/1.5.tar" ] && echo yes || echo no)"

# The bundle downloaded back: the sha256 published, owner 0:0, modes folded, entry executable.
bw -q extension download hello 1.5 >"$T/dl.tar" || fail "extension download failed"
check_eq "download is the published bundle" "${sums[0]}" "$(sha256sum "$T/dl.tar" | cut -d' ' -f1)"
listing=$(tar --numeric-owner -tvf "$T/dl.tar" | awk '{print $1, $2, $6}')
check_eq "normalized listing" "drwxr-xr-x 0/0 etc/
drwxr-xr-x 0/0 lib/
-rw-r--r-- 0/0 lib/data.txt
-rwxr-xr-x 0/0 lib/helper.sh
-rwxr-xr-x 0/0 run" "$listing"
check_eq "mtimes kept" "1700000000 1700000000" \
	"$(python3 -c 'import sys, tarfile; t = tarfile.open(sys.argv[1]); print(t.getmember("run").mtime, t.getmember("lib/data.txt").mtime)' "$T/dl.tar")"
mkdir "$T/x" && tar -C "$T/x" -xf "$T/dl.tar"
check_eq "content kept" "$(cat "$src/lib/helper.sh")" "$(cat "$T/x/lib/helper.sh")"
if command -v script >/dev/null; then
	check_contains "the CLI refuses a terminal" "redirect" "$(script -qc "$BW_BIN/bootwave extension download hello 1.5" /dev/null 2>&1 || true)"
fi
etag=$(curl -sS -I -H "Authorization: Bearer $VIEWER" "$URL/api/v1/extensions/hello/versions/1.1/bundle" | tr -d '\r' | sed -n 's/^ETag: "\(.*\)"/\1/Ip')
check_eq "ETag is the sha256" "${sums[0]}" "$etag"

# Another entry, not executable in the archive: made executable.
mkdir -p "$T/src2" && printf 'echo install\n' >"$T/src2/install.sh" && chmod 0644 "$T/src2/install.sh"
tar -C "$T/src2" -cf "$T/install.tar" install.sh
bw_rc 0 -o json extension publish hello 2.0.1 "$T/install.tar" --entry install.sh
check_eq "entry recorded" "install.sh" "$(jq -r .entry <<<"$OUT")"
bw -q extension download hello 2.0.1 >"$T/dl2.tar"
check_eq "entry made executable" "-rwxr-xr-x" "$(tar -tvf "$T/dl2.tar" install.sh | awk '{print $1}')"

# ---- refusals: each names the rule and the entry; nothing is published or left behind ----

# Archives crafted with python's tarfile: a good "run" first, then one bad member.
cat >"$T/mk.py" <<'PY'
import io, sys, tarfile
kind, out = sys.argv[1], sys.argv[2]
t = tarfile.open(out, "w", format=tarfile.GNU_FORMAT)
def add(name, data=b"", type=tarfile.REGTYPE, link="", mode=0o755):
    ti = tarfile.TarInfo(name)
    ti.type, ti.linkname, ti.mode, ti.mtime = type, link, mode, 1700000000
    ti.size = len(data) if type == tarfile.REGTYPE else 0
    if type in (tarfile.CHRTYPE, tarfile.BLKTYPE):
        ti.devmajor, ti.devminor = 1, 3
    t.addfile(ti, io.BytesIO(data) if ti.size else None)
if kind not in ("noentry", "nested"):
    add("run", b"#!/bin/sh\n")
if kind == "abs": add("/etc/cron.d/evil", b"x")
if kind == "dotdot": add("lib/../../evil", b"x")
if kind == "symlink": add("lib/passwd", type=tarfile.SYMTYPE, link="../../etc/passwd")
if kind == "inlink": add("lib/self", type=tarfile.SYMTYPE, link="../run")
if kind == "chardev": add("dev/null", type=tarfile.CHRTYPE)
if kind == "fifo": add("pipe", type=tarfile.FIFOTYPE)
if kind == "hardlink": add("lib/again", type=tarfile.LNKTYPE, link="run")
if kind == "dup": add("lib/a", b"1"); add("lib/a", b"2")
if kind == "under": add("lib", b"file"); add("lib/x", b"x")
if kind == "noentry": add("README", b"x")
if kind == "nested": add("bin/run", b"#!/bin/sh\n")
if kind == "many":
    for i in range(10001): add("f/%05d" % i)
t.close()
PY
for k in abs dotdot symlink inlink chardev fifo hardlink dup under noentry nested many; do
	python3 "$T/mk.py" "$k" "$T/$k.tar"
done
zstd -q "$T/many.tar" # 5 MB of headers in a few KiB
head -c 300000 /dev/urandom >"$T/garbage"
head -c 2000000 /dev/urandom >"$T/big"
gzip -c "$T/b.tar" | head -c 200 >"$T/truncated.tar.gz"
# Bombs: a 1 GiB file of zeros in 45 KiB of tar.zst, and 20 files of 100 KiB (2 MB in all).
{
	python3 -c 'import sys, tarfile
ti = tarfile.TarInfo("zeros"); ti.size = 1 << 30; ti.mtime = 1700000000
sys.stdout.buffer.write(ti.tobuf(tarfile.GNU_FORMAT))'
	head -c 1G /dev/zero
	head -c 10240 /dev/zero
} | zstd -q -c >"$T/bomb.tar.zst"
mkdir -p "$T/many-zeros" && for i in $(seq 20); do head -c 100000 /dev/zero >"$T/many-zeros/z$i"; done
cp "$src/run" "$T/many-zeros/run"
tar -C "$T/many-zeros" -cf - . | zstd -q -c >"$T/bomb2.tar.zst"
check_eq "the bombs are small" "yes" "$([ "$(stat -c %s "$T/bomb.tar.zst")" -lt 100000 ] && echo yes || echo no)"

leftovers() { ls -A "$EXT/hello" | grep -cv '^[0-9.]*\.tar$' || true; }
versions() { bw -o json extension versions hello | jq -r '[.[].version] | join(" ")'; }
before=$(versions)

# refused STATUS CODE VERSION FILE NEEDLE... [-- curl args]: a PUT refused with the status, the
# code and a message holding every NEEDLE; no version appears and no temporary file stays.
refused() {
	local status=$1 code=$2 version=$3 file=$4 n
	shift 4
	local needles=() extra=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do needles+=("$1"); shift; done
	[ $# -gt 0 ] && shift && extra=("$@")
	api PUT "/api/v1/extensions/hello/versions/$version" -T "$file" "${extra[@]}"
	check_eq "$file@$version: status" "$status" "$STATUS"
	check_eq "$file@$version: code" "$code" "$(jq -r '.error.code // empty' <<<"$BODY")"
	for n in "${needles[@]}"; do
		check_contains "$file@$version: message" "$n" "$(jq -r '.error.message // empty' <<<"$BODY")"
	done
	check_eq "$file@$version: nothing published" "$before" "$(versions)"
	check_eq "$file@$version: no temporary file left" "0" "$(leftovers)"
}

refused 422 unsafe_path 3.0 "$T/abs.tar" '/etc/cron.d/evil' 'absolute'
refused 422 unsafe_path 3.0 "$T/dotdot.tar" 'lib/../../evil' "'..'"
refused 422 unsupported_entry 3.0 "$T/symlink.tar" 'lib/passwd' 'symlink' '../../etc/passwd'
refused 422 unsupported_entry 3.0 "$T/inlink.tar" 'lib/self' 'symlink'
refused 422 unsupported_entry 3.0 "$T/chardev.tar" 'dev/null' 'character device'
refused 422 unsupported_entry 3.0 "$T/fifo.tar" 'pipe' 'FIFO'
refused 422 unsupported_entry 3.0 "$T/hardlink.tar" 'lib/again' 'hard link'
refused 422 conflicting_entries 3.0 "$T/dup.tar" 'lib/a' 'twice'
refused 422 conflicting_entries 3.0 "$T/under.tar" '"lib" is a regular file' 'lib/x'
refused 422 missing_entry 3.0 "$T/noentry.tar" 'entry script "run" is missing' 'top directory'
check_eq "missing entry: field" "entry" "$(jq -r .error.field <<<"$BODY")"
refused 422 missing_entry 3.0 "$T/nested.tar" 'entry script "run"' 'bin/run'
refused 422 missing_entry '3.0?entry=setup' "$T/b.tar" 'entry script "setup"'
refused 422 too_many_entries 3.0 "$T/many.tar.zst" 'more than 10000 entries'
refused 422 not_an_archive 3.0 "$T/garbage" 'not an archive'
refused 422 damaged_archive 3.0 "$T/truncated.tar.gz" 'damaged or truncated'
refused 413 upload_too_large 3.0 "$T/big" 'max_bundle' '1048576'
# Without a Content-Length: refused once the limit is crossed.
refused 413 upload_too_large 3.0 "$T/big" 'max_bundle' -- -H "Transfer-Encoding: chunked"
refused 413 bundle_too_large 3.0 "$T/bomb.tar.zst" '"zeros" is 1073741824 bytes' 'max_bundle'
refused 413 bundle_too_large 3.0 "$T/bomb2.tar.zst" 'expand beyond 1048576' 'max_bundle'
for bad in 1 1.2.3.4 v1.2 01.2 1.02 latest 1.2-rc1; do
	refused 422 invalid_value "$bad" "$T/b.tar" "version \"$bad\"" 'MAJOR.MINOR'
done
refused 409 duplicate 1.1 "$T/b.tar" 'already has version 1.1'
refused 409 duplicate 1.1.0 "$T/b.tar" 'already has version 1.1, the same release as 1.1.0'
refused 400 invalid_parameter '3.0?entry=..%2Frun' "$T/b.tar" 'entry "../run"'
refused 400 unknown_parameter '3.0?filename=b.tar' "$T/b.tar" 'filename'
: >"$T/empty"
refused 400 empty_upload 3.0 "$T/empty" 'empty'
api PUT /api/v1/extensions/nosuch/versions/1.0 -T "$T/b.tar"
check_eq "unknown extension" "404" "$STATUS"
bw_rc 6 extension publish hello 3.0 "$T/abs.tar"
check_contains "CLI prints the reason" "path is absolute" "$ERR"
bw_rc 5 extension publish hello 1.1 "$T/b.tar"

# Roles: a viewer reads and downloads, never uploads or deletes.
TOKEN=$VIEWER api PUT /api/v1/extensions/hello/versions/3.0 -T "$T/b.tar"
check_eq "viewer upload status" "403" "$STATUS"
check_contains "viewer upload message" "operator" "$(jq -r .error.message <<<"$BODY")"
TOKEN=$VIEWER api DELETE /api/v1/extensions/hello/versions/1.1
check_eq "viewer delete status" "403" "$STATUS"
TOKEN=$VIEWER api GET /api/v1/extensions/hello/versions
check_eq "viewer lists" "200" "$STATUS"
check_eq "viewer downloads" "200" \
	"$(curl -sS -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $VIEWER" "$URL/api/v1/extensions/hello/versions/1.1/bundle")"
check_eq "viewer: nothing published" "$before" "$(versions)"

# ---- deletion ----
bw_rc 5 extension delete hello
check_contains "extension with versions: why" "extension hello still has 8 versions (1.1, ...)" "$ERR"
check_contains "extension with versions: what to do" "delete-version" "$ERR"
# A pool that runs a version, and one that keeps another to roll back to (the pools' own API is not needed here).
bw_rc 0 image create os
bw_rc 0 pool create web --image os
bw_rc 0 pool create db --image os
sqlite3 "$DB" "INSERT INTO pool_extensions (pool_id, name, version, previous_version, created_at, updated_at)
	VALUES ((SELECT id FROM pools WHERE name = 'web'), 'hello', '1.2', '', 0, 0),
	       ((SELECT id FROM pools WHERE name = 'db'), 'hello', '1.3', '1.4', 0, 0)"
bw_rc 5 extension delete-version hello 1.2
check_contains "version in use: the pool named" "pool web runs hello@1.2" "$ERR"
bw_rc 5 extension delete-version hello 1.4
check_contains "rollback version: the pool named" "pool db keeps hello@1.4 as the version to roll back to" "$ERR"
bw_rc 5 extension delete hello
check_contains "extension used by a pool" "pool web uses extension hello" "$ERR"
bw_rc 0 extension delete-version hello 1.7
check_eq "file of 1.7 removed" "no" "$([ -e "$EXT/hello/1.7.tar" ] && echo yes || echo no)"
bw_rc 3 extension version hello 1.7
sqlite3 "$DB" "DELETE FROM pool_extensions"
for ver in 1.1 1.2 1.3 1.4 1.5 1.6 2.0.1; do bw_rc 0 extension delete-version hello "$ver"; done
bw_rc 0 extension delete hello
check_eq "extension directory removed" "no" "$([ -e "$EXT/hello" ] && echo yes || echo no)"
bw_rc 3 extension show hello

# ---- crash leftovers ----
bw_rc 0 extension create tools
bw_rc 0 extension publish tools 1.0 "$T/b.tar"
# An unfinished upload of a dead daemon goes at the next upload to that extension.
mkdir "$EXT/tools/.upload-1.1-dead01" && echo x >"$EXT/tools/.upload-1.1-dead01/body"
bw_rc 0 extension upload tools 1.1 "$T/b.tar.gz"
check_eq "stale upload removed by the next upload" "no" "$([ -e "$EXT/tools/.upload-1.1-dead01" ] && echo yes || echo no)"
check_contains "stale upload removal logged" "removing unfinished upload" "$(cat "$T/daemon.log")"
crash_daemon
mkdir "$EXT/tools/.upload-2.0-dead02" && echo x >"$EXT/tools/.upload-2.0-dead02/body"
# A renamed bundle whose transaction never committed.
cp "$EXT/tools/1.0.tar" "$EXT/tools/2.0.tar"
echo keep >"$EXT/tools/NOTES"
start_daemon
check_eq "stale upload removed at start" "no" "$([ -e "$EXT/tools/.upload-2.0-dead02" ] && echo yes || echo no)"
check_eq "bundle without a row removed at start" "no" "$([ -e "$EXT/tools/2.0.tar" ] && echo yes || echo no)"
check_eq "published bundles kept" "1.0.tar 1.1.tar NOTES" "$(ls "$EXT/tools" | sort | xargs)"
bw -q extension download tools 1.1 >"$T/dl3.tar"
check_eq "still downloadable after the restart" "${sums[0]}" "$(sha256sum "$T/dl3.tar" | cut -d' ' -f1)"
stop_daemon
finish
