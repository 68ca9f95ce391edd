#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The reimage agent against file-backed disks and a real bootwaved: an OS
# disk with GPT (bw-os-a, bw-os-b, bw-data) and a separate data disk holding
# files. v1 goes to slot A, v2 to slot B (tarballs and raw images); the slot
# contents are checked, and the SHA-256 of the data partition and the data
# disk never changes: not after a good write, not after any bad input, not
# when the agent is killed with SIGKILL in the middle of a write.
# The agent runs as it does in the ramdisk, with a kernel command line that
# bootwaved's own boot script wrote; only its disks are files (--devroot).
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" -eq 0 ] || { echo "test_agent needs root (loop devices, mount)" >&2; exit 1; }

BUILD_DIR=$(cd "$BW_BIN/../.." && pwd)
AGENT=$BW_BIN/bootwave-agent
MAC=52:54:00:ab:00:01
mkdir -p "$T/keys" "$T/dev" "$T/mnt"
cat >>"$CONF" <<EOF
[boot]
firmware_dir = $BUILD_DIR/firmware
[images]
trusted_keys = $T/keys
max_content = 3G
[agent]
slot_size = 48M
stall_timeout = 5
EOF
openssl genpkey -algorithm ed25519 -out "$T/k1.key" 2>/dev/null
openssl pkey -in "$T/k1.key" -pubout -out "$T/keys/k1.pem"
openssl genpkey -algorithm ed25519 -out "$T/k2.key" 2>/dev/null
openssl pkey -in "$T/k2.key" -pubout -out "$T/k2.pem"
start_daemon

# ---- disks ----
# part_range DISK NAME: "OFFSET LENGTH" in bytes, from sgdisk (the peer tool).
part_range() {
	local n
	n=$(sgdisk -p "$1" | awk -v want="$2" '$7 == want { print $1 }')
	[ -n "$n" ] || { echo "0 0"; return; }
	sgdisk -i "$n" "$1" | awk '/^First sector/ { f = $3 } /^Last sector/ { l = $3 } END { print f * 512, (l - f + 1) * 512 }'
}
# range_sum FILE OFFSET LENGTH: sha256 of those bytes.
range_sum() { dd if="$1" bs=1M iflag=skip_bytes,count_bytes skip="$2" count="$3" status=none | sha256sum | cut -d' ' -f1; }
part_sum() { # part_sum DISK NAME
	local r
	r=$(part_range "$1" "$2")
	range_sum "$1" ${r% *} ${r#* }
}
disk_sum() { sha256sum <"$1" | cut -d' ' -f1; }
# The promise: data partition and data disk byte for byte as they were.
DATA_SUM= DISK2_SUM=
remember_data() { DATA_SUM=$(part_sum "$T/dev/vda" bw-data); DISK2_SUM=$(disk_sum "$T/dev/vdb"); }
check_data() {
	check_eq "$1: data partition unchanged" "$DATA_SUM" "$(part_sum "$T/dev/vda" bw-data)"
	check_eq "$1: data disk unchanged" "$DISK2_SUM" "$(disk_sum "$T/dev/vdb")"
}
new_disks() {
	rm -f "$T/dev/vda" "$T/dev/vdb"
	truncate -s 160M "$T/dev/vda"
	sgdisk -n1:1M:+48M -c1:bw-os-a -n2:0:+48M -c2:bw-os-b -n3:0:0 -c3:bw-data "$T/dev/vda" >/dev/null
	local r
	r=$(part_range "$T/dev/vda" bw-data)
	head -c $((${r#* })) /dev/urandom | dd of="$T/dev/vda" bs=1M seek=$((${r% *})) oflag=seek_bytes conv=notrunc status=none
	# The data disk holds a filesystem with files, as a real one would.
	mkdir -p "$T/datafiles"
	head -c 3000000 /dev/urandom >"$T/datafiles/db.bin"
	echo "customer data" >"$T/datafiles/README"
	ext4_image "$T/datafiles" "$T/dev/vdb" 24M
	remember_data
}
new_disks

# ---- images ----
build_tree() { # build_tree DIR VERSION
	os_tree "$1" "$2"
	mkdir -p "$1/usr/bin" "$1/var/lib"
	head -c 2000000 /dev/urandom >"$1/usr/bin/payload"
	ln -sf /usr/bin/payload "$1/bin/payload"
	ln -sf ../usr/bin "$1/bin/rel"
	ln "$1/usr/bin/payload" "$1/var/lib/hardlink"
	chmod 4755 "$1/usr/bin/payload"
	echo "$2" >"$1/etc/version"
}
build_tree "$T/v1" v1
build_tree "$T/v2" v2
tar -C "$T/v1" --zstd -cf "$T/v1.tar.zst" .
tar -C "$T/v2" -czf "$T/v2.tar.gz" .
ext4_image "$T/v1" "$T/v1.img" 16M
ext4_image "$T/v2" "$T/v2.img" 16M
zstd -q -f "$T/v1.img" -o "$T/v1.img.zst"
gzip -c "$T/v2.img" >"$T/v2.img.gz"
bw -q image create os
bw_rc 0 image publish os t1 "$T/v1.tar.zst"
bw_rc 0 image publish os t2 "$T/v2.tar.gz"
bw_rc 0 image publish os r1 "$T/v1.img.zst"
bw_rc 0 image publish os r2 "$T/v2.img.gz"
check_eq "import measured the tarball" "$(du -b --apparent-size -s "$T/v1" >/dev/null; tar -tvf "$T/v1.tar.zst" | awk '$1 ~ /^-/ { s += $3 } END { print s }')" \
	"$(bw -o json image version os t1 | jq -r .content_size)"
check_eq "import measured the raw image" "$(stat -c %s "$T/v1.img")" "$(bw -o json image version os r1 | jq -r .content_size)"
api GET /api/v1/images/os/versions/t1
curl -sf "$URL/boot/images/os/t1/kernel" >"$T/k.out"
check_eq "kernel extracted from the tarball" "kernel v1" "$(cat "$T/k.out")"
curl -sf "$URL/boot/images/os/r2/initrd" >"$T/i.out"
check_eq "initrd extracted from the raw image" "initrd v2" "$(cat "$T/i.out")"

bw -q node create n1 --mac $MAC --os-disk /dev/vda --data-disks /dev/vdb

# reimage ARGS...: asks bootwaved for a reimage, then writes the kernel
# command line of the boot script it serves into $T/cmdline.
reimage() {
	bw_rc 0 -o json node reimage n1 "$@"
	TASK=$(jq -r .id <<<"$OUT")
	boot_cmdline
}
boot_cmdline() {
	curl -sS "$URL/boot/52-54-00-ab-00-01.ipxe" >"$T/script"
	grep -o 'bootwave\.[a-z]*=[^ ]*' "$T/script" | tr '\n' ' ' >"$T/cmdline"
}
# agent [ARGS...]: runs the agent like the ramdisk does; $ARC its exit code, $ALOG its log.
agent() {
	ARC=0
	"$AGENT" --cmdline "$T/cmdline" --devroot "$T" --no-reboot --retry 5 "$@" reimage >"$T/agent.log" 2>&1 || ARC=$?
	ALOG=$(cat "$T/agent.log")
}
task_json() { bw -o json node tasks n1 | jq ".[] | select(.id == $TASK)"; }
node_json() { bw -o json node show n1; }
# slot_mount SLOT: mounts a slot of vda read-only on $T/mnt (a loop device with offset).
slot_mount() {
	local r
	r=$(part_range "$T/dev/vda" "bw-os-$1")
	mount -o ro,loop,offset=${r% *},sizelimit=${r#* } -t ext4 "$T/dev/vda" "$T/mnt"
}
check_tree() { # check_tree WHAT SLOT TREE
	slot_mount "$2"
	check_eq "$1: files" "" "$(diff -r --no-dereference "$3" "$T/mnt" 2>&1 | grep -v lost+found || true)"
	check_eq "$1: setuid bit" "4755" "$(stat -c %a "$T/mnt/usr/bin/payload")"
	check_eq "$1: hard link" "$(stat -c %i "$T/mnt/usr/bin/payload")" "$(stat -c %i "$T/mnt/var/lib/hardlink")"
	check_eq "$1: absolute symlink" "/usr/bin/payload" "$(readlink "$T/mnt/bin/payload")"
	umount "$T/mnt"
}
# heartbeat STATE-COMMAND: one heartbeat of the installed OS with this boot's token.
heartbeat() {
	boot_cmdline
	"$AGENT" --cmdline "$T/cmdline" --probe "$1" --grace 0 --once heartbeat >"$T/hb.log" 2>&1 || true
}

# ---- v1 tarball to slot A, v2 tarball to slot B ----
reimage --image os --version t1
check_contains "boot script loads the agent with a token" "bootwave.token=bwa_" "$(cat "$T/cmdline")"
agent
check_eq "t1 agent exit" "0" "$ARC"
check_contains "t1 written to slot a" "done: os@t1 in slot a" "$ALOG"
check_eq "t1 task succeeded" "succeeded" "$(task_json | jq -r .state)"
check_eq "t1 task sha256" "$(sha256sum <"$T/v1.tar.zst" | cut -d' ' -f1)" "$(task_json | jq -r .sha256)"
check_eq "node waits for health" "waiting_health a" "$(node_json | jq -r '"\(.state) \(.pending_slot)"')"
check_tree "slot a (t1)" a "$T/v1"
check_data "after t1"
SLOT_A=$(part_sum "$T/dev/vda" bw-os-a)
boot_cmdline
check_contains "next boot: the new slot, with a heartbeat token" "root=PARTLABEL=bw-os-a" "$(cat "$T/script")"
check_contains "heartbeat token on the command line" "bootwave.hbtoken=bwa_" "$(cat "$T/cmdline")"
heartbeat false
check_eq "Unhealthy does not commit" "waiting_health Unhealthy none" "$(node_json | jq -r '"\(.state) \(.health) \(.active_slot)"')"
heartbeat true
check_eq "Healthy commits slot a" "active Healthy a t1" \
	"$(node_json | jq -r '"\(.state) \(.health) \(.active_slot) \(.installed_version)"')"

reimage --image os --version t2
check_eq "the next task targets the other slot" "b" "$(task_json | jq -r .slot)"
agent
check_eq "t2 agent exit" "0" "$ARC"
check_tree "slot b (t2)" b "$T/v2"
check_eq "slot a untouched while b was written" "$SLOT_A" "$(part_sum "$T/dev/vda" bw-os-a)"
check_data "after t2"
heartbeat true
check_eq "slot b committed" "b t2" "$(node_json | jq -r '"\(.active_slot) \(.installed_version)"')"
check_eq "a used token is dead" "401" "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $(grep -o 'bwa_[0-9a-f]*' <<<"$ALOG$(cat "$T/cmdline")" | head -1)" "$URL/api/v1/agent/task")"

# ---- raw images: r1 (zstd) to slot a, r2 (gzip) to slot b ----
reimage --image os --version r1
check_eq "r1 to slot a" "a" "$(task_json | jq -r .slot)"
agent
check_eq "r1 agent exit" "0" "$ARC"
r=$(part_range "$T/dev/vda" bw-os-a)
check_eq "slot a holds the raw image" "$(sha256sum <"$T/v1.img" | cut -d' ' -f1)" \
	"$(range_sum "$T/dev/vda" ${r% *} "$(stat -c %s "$T/v1.img")")"
check_contains "zero blocks skipped" "zero bytes skipped" "$ALOG"
check_data "after r1"
heartbeat true
reimage --image os --version r2
agent
r=$(part_range "$T/dev/vda" bw-os-b)
check_eq "slot b holds r2" "$(sha256sum <"$T/v2.img" | cut -d' ' -f1)" "$(range_sum "$T/dev/vda" ${r% *} "$(stat -c %s "$T/v2.img")")"
check_data "after r2"
heartbeat true
check_eq "r2 committed on b" "active b r2" "$(node_json | jq -r '"\(.state) \(.active_slot) \(.installed_version)"')"

# ---- bad inputs: the agent stops, reports why, the slot is not committed ----
# expect_failure WHAT REASON: the agent failed with REASON, the task too, the
# node still boots its committed slot, and the data is unchanged.
expect_failure() {
	check_eq "$1: agent exit" "1" "$ARC"
	check_contains "$1: agent says why" "$2" "$ALOG"
	check_eq "$1: task failed" "failed" "$(task_json | jq -r .state)"
	check_contains "$1: task reason" "$2" "$(task_json | jq -r .reason)"
	check_eq "$1: nothing pending, b still committed" "failed none b" \
		"$(node_json | jq -r '"\(.state) \(.pending_slot) \(.active_slot)"')"
	check_data "$1"
	check_eq "$1: committed slot b untouched" "$SLOT_B" "$(part_sum "$T/dev/vda" bw-os-b)"
	boot_cmdline
	check_contains "$1: next boot is the committed slot" "root=PARTLABEL=bw-os-b" "$(cat "$T/script")"
}
SLOT_B=$(part_sum "$T/dev/vda" bw-os-b)

# A checksum mismatch: the stored artifact changed after publishing (same size).
ext4_image "$T/v1" "$T/bad.img" 16M
bw_rc 0 image publish os bad-sum "$T/bad.img"
printf 'X' | dd of="$STATE/images/os/bad-sum/artifact.img" bs=1 seek=5000000 conv=notrunc status=none
reimage --image os --version bad-sum
agent
expect_failure "checksum mismatch" "sha256 mismatch"
check_contains "slot a invalidated" "slot a invalidated" "$ALOG"
check_eq "slot a no longer holds a filesystem" "" "$(blkid -p -o value -s TYPE -O "$(part_range "$T/dev/vda" bw-os-a | cut -d' ' -f1)" "$T/dev/vda" 2>/dev/null || true)"

# A truncated download: the stored artifact lost its tail.
bw_rc 0 image publish os bad-trunc "$T/v1.img.zst"
truncate -s -3000 "$STATE/images/os/bad-trunc/artifact.img.zst"
reimage --image os --version bad-trunc
agent
expect_failure "truncated download" "truncated"

# Unsafe tarballs: absolute paths, "..", a symlink leading out and a file
# written through it, a device node, and a tarball that would not fit.
mkdir -p "$T/evil/etc" "$T/evil/boot" "$T/evil/dev"
cp "$T/v1/boot/"* "$T/evil/boot/"
echo pwned >"$T/evil/etc/passwd"
tar -C "$T/evil" -cf "$T/abs.tar" boot --transform 's,^boot/initrd,/tmp/bootwave-evil,' -P
tar -C "$T/evil" -cf "$T/dotdot.tar" boot etc/passwd --transform 's,^etc/passwd,../../tmp/bootwave-evil,' -P
ln -s ../../../../.. "$T/evil/up"
tar -C "$T/evil" -cf "$T/symlink.tar" boot up etc/passwd --transform 's,^etc/passwd,up/tmp/bootwave-evil,'
rm "$T/evil/up"
mknod "$T/evil/dev/sda" b 8 0
tar -C "$T/evil" -cf "$T/device.tar" boot dev
rm "$T/evil/dev/sda"
truncate -s 100M "$T/evil/big"
tar -C "$T/evil" --zstd -cf "$T/bomb.tar.zst" boot big
rm "$T/evil/big"
for bad in abs:absolute dotdot:.. symlink:symlink device:device bomb:"do not fit slot"; do
	name=${bad%%:*} why=${bad#*:}
	f=$T/$name.tar
	[ -e "$f" ] || f=$T/$name.tar.zst
	bw_rc 0 image publish os "bad-$name" "$f"
	reimage --image os --version "bad-$name"
	agent
	expect_failure "tarball ($name)" "$why"
	check_eq "tarball ($name): nothing written outside" "" "$(ls -d /tmp/bootwave-evil* 2>/dev/null || true)"
done

# A raw image larger than the slot, and a decompression bomb at import.
truncate -s 60M "$T/huge.img"
mke2fs -q -F -t ext4 -d "$T/v1" "$T/huge.img"
zstd -q -f "$T/huge.img" -o "$T/huge.img.zst"
bw_rc 0 image publish os bad-huge "$T/huge.img.zst"
reimage --image os --version bad-huge
agent
expect_failure "raw image larger than the slot" "larger than slot"
truncate -s 3500M "$T/bomb.img"
mke2fs -q -F -t ext4 -d "$T/v1" "$T/bomb.img"
zstd -q -f "$T/bomb.img" -o "$T/bomb.img.zst"
rm -f "$T/bomb.img" "$T/huge.img"
bw_rc 6 image publish os bad-rawbomb "$T/bomb.img.zst"
check_contains "import refuses a decompression bomb" "decompresses beyond" "$ERR"

# A signature required but missing, then one made by a key no longer trusted.
bw -q pool create signed --image os --image-version r2
bw -q node set n1 --pool signed
reimage --image os --version r1
bw -q pool set signed --require-signed true
agent
expect_failure "signature required, none" "no signature"
check_not_contains "no signature: refused before writing" "writing" "$ALOG"
sig_msg() { # sig_msg VERSION FILE: what a signature covers (manifest.h)
	printf 'bootwave-image-signature-v1\nos\n%s\nraw\nzstd\n%s\n%s\n' "$1" "$(stat -c %s "$2")" "$(sha256sum <"$2" | cut -d' ' -f1)"
}
sig_msg s1 "$T/v1.img.zst" >"$T/s1.msg"
openssl pkeyutl -sign -inkey "$T/k1.key" -rawin -in "$T/s1.msg" -out "$T/s1.sig"
bw_rc 0 -o json image publish os s1 "$T/v1.img.zst" --signature "$(od -An -tx1 -v "$T/s1.sig" | tr -d ' \n')"
check_eq "signed version records its key" "$(openssl pkey -pubin -in "$T/keys/k1.pem" -outform DER | tail -c 32 | sha256sum | cut -c1-16)" \
	"$(jq -r .signing_key <<<"$OUT")"
bw_rc 6 image publish os s1-bad "$T/v1.img.zst" --signature "$(od -An -tx1 -v "$T/s1.sig" | tr -d ' \n')"
check_contains "a signature for another version is refused" "does not verify" "$ERR"
stop_daemon
mv "$T/keys/k1.pem" "$T/k1.pem"
cp "$T/k2.pem" "$T/keys/"
start_daemon
reimage --image os --version s1
agent
expect_failure "signature by an untrusted key" "does not verify"
stop_daemon
cp "$T/k1.pem" "$T/keys/"
start_daemon
reimage --image os --version s1
agent
check_eq "signed s1 with its key trusted again" "0" "$ARC"
check_contains "signature checked by the agent" "signature of os@s1 verified" "$ALOG"
heartbeat true
bw -q pool set signed --require-signed false
SLOT_B=$(part_sum "$T/dev/vda" bw-os-b)

# A disk without the expected layout is not touched (and not blank).
cp "$T/dev/vda" "$T/vda.good"
sgdisk -Z "$T/dev/vda" >/dev/null
sgdisk -n1:1M:+100M -c1:linux-root -n2:0:0 -c2:home "$T/dev/vda" >/dev/null
FOREIGN=$(disk_sum "$T/dev/vda")
reimage --image os --version r1
agent
check_eq "foreign layout: agent exit" "1" "$ARC"
check_contains "foreign layout: reason" "no bootwave layout" "$ALOG"
check_eq "foreign layout: disk untouched" "$FOREIGN" "$(disk_sum "$T/dev/vda")"
check_eq "data disk untouched" "$DISK2_SUM" "$(disk_sum "$T/dev/vdb")"
# ... unless an admin asks for a wipe (operators may not).
TOKEN=$(bw -o json token create op1 --role operator | jq -r .token)
api POST /api/v1/nodes/n1/reimage -d '{"image":"os","version":"r1","wipe":true}'
check_eq "wipe needs an admin" "403" "$STATUS"
unset TOKEN
reimage --image os --version r1 --wipe
agent
check_eq "wipe: agent exit" "0" "$ARC"
check_eq "wipe: the layout was made" "bw-os-a bw-os-b bw-data" "$(sgdisk -p "$T/dev/vda" | awk '$7 ~ /^bw-/ { print $7 }' | xargs)"
check_eq "wipe: data disk untouched" "$DISK2_SUM" "$(disk_sum "$T/dev/vdb")"
heartbeat true

# First provisioning of a blank disk: the layout is made, data disks untouched.
rm -f "$T/dev/vda"
truncate -s 160M "$T/dev/vda"
bw -q node set n1 --pool signed
reimage --image os --version t1
agent
check_eq "blank disk: agent exit" "0" "$ARC"
check_contains "blank disk: layout made" "creating the layout" "$ALOG"
check_eq "blank disk: sgdisk sees no problem" "No problems found." "$(sgdisk -v "$T/dev/vda" | grep -o 'No problems found.')"
check_eq "blank disk: data disk untouched" "$DISK2_SUM" "$(disk_sum "$T/dev/vdb")"
heartbeat true

# SIGKILL in the middle of a write: the data is unchanged, and a new boot
# (a new token) writes the slot completely.
new_disks
head -c 30000000 /dev/urandom >"$T/v1/usr/bin/big"
tar -C "$T/v1" -cf "$T/slow.tar" .
rm "$T/v1/usr/bin/big"
bw_rc 0 image publish os slow "$T/slow.tar"
for kill_at in 1 6; do
	reimage --image os --version slow
	"$AGENT" --cmdline "$T/cmdline" --devroot "$T" --no-reboot reimage >"$T/agent.log" 2>&1 &
	apid=$!
	# Kill once the agent is writing (30 MB through ext4 on a loop device takes a moment).
	for _ in $(seq 200); do grep -q "extracting" "$T/agent.log" && break; sleep 0.02; done
	sleep "0.0$kill_at"
	kill -9 $apid
	wait $apid 2>/dev/null || true
	check_contains "killed while writing ($kill_at)" "extracting" "$(cat "$T/agent.log")"
	# What the killed agent held (a machine would have lost it with the power).
	awk '$2 ~ /^\/tmp\/bootwave-slot/ { print $2 }' /proc/mounts | xargs -r umount
	losetup -j "$T/dev/vda" | cut -d: -f1 | xargs -r -n1 losetup -d
	check_data "SIGKILL during the write ($kill_at)"
done
reimage --image os --version slow
agent
check_eq "after the kills a new boot writes the slot" "0" "$ARC"
check_data "after the rewrite"

# A server that stalls in the middle of a download. The image is large
# (512 MiB, uncompressed) so that most of it is still unsent when the agent
# is frozen right after it starts writing; bootwaved is then frozen too, and
# the agent thawed: it reads what the sockets still hold, then nothing. It
# must give up after stall_timeout (5 s here), say why, invalidate what it
# wrote, and tell the server once it answers again.
truncate -s 1400M "$T/dev/vdd"
sgdisk -n1:1M:+600M -c1:bw-os-a -n2:0:+600M -c2:bw-os-b -n3:0:0 -c3:bw-data "$T/dev/vdd" >/dev/null
r=$(part_range "$T/dev/vdd" bw-data)
head -c $((${r#* })) /dev/urandom | dd of="$T/dev/vdd" bs=1M seek=$((${r% *})) oflag=seek_bytes conv=notrunc status=none
cp "$T/dev/vdb" "$T/dev/vde"
STALL_DATA=$(part_sum "$T/dev/vdd" bw-data) STALL_DISK=$(disk_sum "$T/dev/vde")
mkdir -p "$T/stall"
cp -a "$T/v1/." "$T/stall/"
head -c 400M /dev/urandom >"$T/stall/blob"
ext4_image "$T/stall" "$T/stall.img" 512M
bw_rc 0 image publish os stall "$T/stall.img"
bw -q node create n3 --mac 52:54:00:ab:00:03 --os-disk /dev/vdd --data-disks /dev/vde
bw_rc 0 -o json node reimage n3 --image os --version stall
TASK=$(jq -r .id <<<"$OUT")
curl -sS "$URL/boot/52-54-00-ab-00-03.ipxe" | grep -o 'bootwave\.[a-z]*=[^ ]*' | tr '\n' ' ' >"$T/cmdline"
"$AGENT" --cmdline "$T/cmdline" --devroot "$T" --no-reboot reimage >"$T/agent.log" 2>&1 &
apid=$!
# Freeze it once it has written 16 MiB to the slot (wchar; the image is
# mostly random, so few blocks are skipped as zero): the log line saying
# which slot it writes comes before the first byte of the body, and freezing
# there can catch it with nothing received.
for _ in $(seq 2000); do
	rd=$(awk '/^wchar/ { print $2 }' /proc/$apid/io 2>/dev/null || echo 0)
	[ "${rd:-0}" -gt $((16 << 20)) ] && break
	sleep 0.005
done
kill -STOP $apid
sleep 0.5
kill -STOP "$DAEMON_PID"
t_stall=$(date +%s)
kill -CONT $apid
for _ in $(seq 400); do grep -q "FAILED at" "$T/agent.log" && break; sleep 0.1; done
gave_up=$(($(date +%s) - t_stall))
kill -CONT "$DAEMON_PID"
ARC=0
wait $apid || ARC=$?
ALOG=$(cat "$T/agent.log")
echo "   stalled server: the agent gave up after $gave_up s (stall_timeout 5 s)"
check_eq "stall: agent exit" "1" "$ARC"
check_contains "stall: the agent says why" "download stalled after" "$ALOG"
check_eq "stall: gave up within stall_timeout and one report timeout" "yes" "$([ "$gave_up" -le 15 ] && echo yes || echo "no: $gave_up s")"
check_contains "stall: the slot was invalidated" "slot a invalidated" "$ALOG"
TASKJ=$(bw -o json node tasks n3 | jq ".[] | select(.id == $TASK)")
check_eq "stall: the task failed" "failed" "$(jq -r .state <<<"$TASKJ")"
check_contains "stall: the server knows why" "download stalled after" "$(jq -r .reason <<<"$TASKJ")"
check_eq "stall: the stall was mid-download" "yes" "$(jq -r .reason <<<"$TASKJ" |
	sed -n 's/.*stalled after \([0-9]*\) of \([0-9]*\) bytes.*/\1 \2/p' | awk '{ print ($1 > 0 && $1 < $2) ? "yes" : "no: " $0 }')"
check_eq "stall: nothing to boot from slot a" "none" "$(bw -o json node show n3 | jq -r .pending_slot)"
check_eq "stall: data partition unchanged" "$STALL_DATA" "$(part_sum "$T/dev/vdd" bw-data)"
check_eq "stall: data disk unchanged" "$STALL_DISK" "$(disk_sum "$T/dev/vde")"
rm -f "$T/stall.img" "$T/dev/vdd" "$T/dev/vde"

# Memory: a 2 GiB raw image (64 MiB of random data in it) written with a
# bounded peak RSS, whatever the image size (the issue's bound: 64 MiB).
truncate -s 5G "$T/dev/vdc"
sgdisk -n1:1M:+2200M -c1:bw-os-a -n2:0:+2200M -c2:bw-os-b "$T/dev/vdc" >/dev/null
mkdir -p "$T/big/boot"
cp "$T/v1/boot/"* "$T/big/boot/"
for i in 1 2 3 4; do head -c 16M /dev/urandom >"$T/big/blob$i"; done
truncate -s 2G "$T/big.img"
mke2fs -q -F -t ext4 -d "$T/big" "$T/big.img"
zstd -q -f -T0 "$T/big.img" -o "$T/big.img.zst"
bw_rc 0 image publish os big "$T/big.img.zst"
bw -q node create n2 --mac 52:54:00:ab:00:02 --os-disk /dev/vdc
bw_rc 0 node reimage n2 --image os --version big
curl -sS "$URL/boot/52-54-00-ab-00-02.ipxe" | grep -o 'bootwave\.[a-z]*=[^ ]*' | tr '\n' ' ' >"$T/cmdline"
agent
check_eq "2 GiB image written" "0" "$ARC"
r=$(part_range "$T/dev/vdc" bw-os-a)
check_eq "2 GiB slot holds the image" "$(sha256sum <"$T/big.img" | cut -d' ' -f1)" "$(range_sum "$T/dev/vdc" ${r% *} $((2 << 30)))"
rss=$(sed -n 's/.*peak RSS \([0-9]*\) KiB.*/\1/p' <<<"$ALOG")
echo "   agent peak RSS writing a 2 GiB raw image: $((rss / 1024)) MiB ($rss KiB)"
# (AddressSanitizer's shadow memory and quarantine make the asan build's RSS meaningless.)
if [[ "$BW_BIN" != */asan/* ]]; then
	check_eq "peak RSS under 64 MiB" "yes" "$([ "${rss:-999999}" -lt 65536 ] && echo yes || echo "no: $rss KiB")"
fi

stop_daemon
finish
