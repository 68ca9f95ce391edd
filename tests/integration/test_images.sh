#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The image catalog end to end: every artifact format published through the
# CLI, sha256 computed on the way in, "latest" resolution and exclusion,
# download with Range requests, deletion, and a crash in the middle of an
# upload that publishes nothing and leaves no file behind after the restart.
. "$(dirname "$0")/lib.sh"
start_daemon
bw_rc 0 image create os --description "small test OS"

# Real artifacts of every supported format.
os_tree "$T/root"
echo "bootwave-test" >"$T/root/etc/hostname"
tar -C "$T/root" -cf "$T/os.tar" .
gzip -c "$T/os.tar" >"$T/os.tar.gz"
zstd -q -c "$T/os.tar" >"$T/os.tar.zst"
xz -c "$T/os.tar" >"$T/os.tar.xz"
ext4_image "$T/root" "$T/os.img" 4M
gzip -c "$T/os.img" >"$T/os.img.gz"
zstd -q -c "$T/os.img" >"$T/os.img.zst"
v=0
for f in os.tar os.tar.gz os.tar.zst os.tar.xz os.img os.img.gz os.img.zst; do
	v=$((v + 1))
	bw_rc 0 -o json image publish os "1.$v" "$T/$f"
	check_eq "$f sha256" "$(sha256sum "$T/$f" | cut -d' ' -f1)" "$(jq -r .sha256 <<<"$OUT")"
	check_eq "$f size" "$(stat -c %s "$T/$f")" "$(jq -r .size <<<"$OUT")"
done
check_eq "formats" "tar/none tar/gzip tar/zstd tar/xz raw/none raw/gzip raw/zstd" \
	"$(bw -o json image versions os | jq -r '[.[] | "\(.format)/\(.compression)"] | join(" ")')"

# latest: the highest version by version order (1.10 > 1.9), skipping exclusions.
bw_rc 0 image publish os 1.10 "$T/os.img"
bw_rc 0 image publish os 1.9 "$T/os.img" --exclude-from-latest
check_eq "latest after 1.10" "1.10" "$(bw -o json image version os latest | jq -r .version)"
check_eq "image shows latest" "1.10" "$(bw -o json image show os | jq -r .latest)"
bw_rc 0 image exclude os 1.10
check_eq "latest skips excluded 1.10 and 1.9" "1.7" "$(bw -o json image version os latest | jq -r .version)"
bw_rc 0 image include os 1.9
check_eq "latest after including 1.9" "1.9" "$(bw -o json image version os latest | jq -r .version)"
bw_rc 0 image create empty
bw_rc 3 image version empty latest

# Download, whole and in ranges.
download() { # download PATH FILE [curl args]: sets STATUS
	local path=$1 file=$2
	shift 2
	STATUS=$(curl -sS -o "$file" -w '%{http_code}' -H "Authorization: Bearer $ADMIN" "$@" "$URL$path")
}
download /api/v1/images/os/versions/1.5/artifact "$T/dl.img"
check_eq "download status" "200" "$STATUS"
check_eq "download is the artifact" "$(sha256sum <"$T/os.img")" "$(sha256sum <"$T/dl.img")"
download /api/v1/images/os/versions/1.5/artifact "$T/part" -H "Range: bytes=1080-1081"
check_eq "range status" "206" "$STATUS"
check_eq "range bytes (the ext4 magic)" "53ef" "$(od -An -tx1 "$T/part" | tr -d ' \n')"
download /api/v1/images/os/versions/1.5/artifact "$T/tail" -H "Range: bytes=-4"
check_eq "suffix range" "4" "$(stat -c %s "$T/tail")"
download /api/v1/images/os/versions/1.5/artifact /dev/null -H "Range: bytes=99999999-"
check_eq "unsatisfiable range" "416" "$STATUS"
# An upload that is not a whole number of the daemon's 1 MiB upload buffers
# (and larger than two): stored byte for byte, its checksum taken over all of it.
head -c 2621447 /dev/urandom >"$T/root/var-fill"
tar -C "$T/root" -cf - . | gzip -1 >"$T/odd.tar.gz"
bw_rc 0 -o json image publish os 1.20 "$T/odd.tar.gz"
check_eq "odd-sized upload: sha256" "$(sha256sum "$T/odd.tar.gz" | cut -d' ' -f1)" "$(jq -r .sha256 <<<"$OUT")"
download /api/v1/images/os/versions/1.20/artifact "$T/dl.tar.gz"
check_eq "odd-sized upload: stored as sent" "$(sha256sum <"$T/odd.tar.gz")" "$(sha256sum <"$T/dl.tar.gz")"
rm "$T/root/var-fill"
etag=$(curl -sS -I -H "Authorization: Bearer $ADMIN" "$URL/api/v1/images/os/versions/1.5/artifact" | tr -d '\r' | sed -n 's/^ETag: "\(.*\)"/\1/Ip')
check_eq "ETag is the sha256" "$(sha256sum "$T/os.img" | cut -d' ' -f1)" "$etag"

# Deletion: pinned versions are kept, others go with their files.
bw_rc 0 pool create web --image os --image-version 1.2
bw_rc 5 image delete-version os 1.2
bw_rc 0 image delete-version os 1.3
bw_rc 3 image version os 1.3
check_eq "files of 1.3 removed" "no" "$([ -e "$STATE/images/os/1.3" ] && echo yes || echo no)"
bw_rc 5 image delete os

# A crash in the middle of an upload: the temporary file is left by the
# crash, nothing is published, and the next start removes it.
head -c 40000000 /dev/urandom >"$T/big.img"
slow_upload os 2.0 "$T/big.img"
crash_daemon
wait "$UPLOAD_PID" 2>/dev/null || true
check_eq "crash left the temporary file" "1" "$(uploads_in_progress os)"
# A version directory without a row, as if the crash hit between rename and commit.
mkdir "$STATE/images/os/2.1" && echo x >"$STATE/images/os/2.1/artifact.img"
# Something that is not ours is never removed.
mkdir "$STATE/images/os/notes" && echo keep >"$STATE/images/os/notes/README"
start_daemon
check_eq "temporary file removed at start" "0" "$(uploads_in_progress os)"
check_eq "orphan version directory removed" "no" "$([ -e "$STATE/images/os/2.1" ] && echo yes || echo no)"
check_eq "foreign files kept" "keep" "$(cat "$STATE/images/os/notes/README")"
bw_rc 3 image version os 2.0
check_contains "cleanup logged" "removing unfinished upload" "$(cat "$T/daemon.log")"
# And the catalog still works after it.
bw_rc 0 image publish os 2.0 "$T/os.img.zst"
check_eq "published after restart" "2.0" "$(bw -o json image version os 2.0 | jq -r .version)"
stop_daemon
finish
