#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# One machine reimaged end to end under QEMU, with nothing but bootwaved on
# the wire: SeaBIOS + iPXE boot from the network, the reimage ramdisk's
# bootwave-agent writes the slot and reboots, iPXE then boots the new slot,
# and the test OS's heartbeat agent reports Healthy, which commits it.
#   1. v1 (tarball) on a blank OS disk: the agent creates the layout
#      (bw-os-a, bw-os-b, bw-data) and fills slot a.
#   2. v2 (raw image) into slot b; the data partition and the data disk
#      keep every byte.
#   3. "broken" (boots, never healthy) into slot a: reported Unhealthy, not
#      committed, slot b stays the active one.
#   4. v1 again into slot a, and a power cut while the agent writes it (the
#      QEMU process killed, then started again on the same disks): the open
#      task runs again at the next network boot and v1 is committed; slot b,
#      the data partition and the data disk keep every byte.
# After 1 and 2 the extension of the node's pool runs over SSH in the new OS
# (its dropbear, the host key its agent reported).
# Reboots between steps go through QEMU's monitor (system_reset), as a BMC
# would do; the power cut of 4 kills QEMU outright. Prints how long each
# phase took.
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" -eq 0 ] || { echo "test_reimage needs root for network namespaces" >&2; exit 1; }

VARIANT_DIR=$(cd "$BW_BIN/.." && pwd)
BUILD_DIR=$(cd "$VARIANT_DIR/.." && pwd)
KERNEL=$BUILD_DIR/rootfs/cache/vmlinuz
INITRD=$VARIANT_DIR/rootfs/initrd-agent.gz
OS=$BUILD_DIR/rootfs/os
for f in "$KERNEL" "$INITRD" "$OS/os-v1.tar.zst" "$OS/os-v2.img.zst" "$OS/os-broken.tar.gz"; do
	[ -e "$f" ] || { echo "missing $f (make integration-* builds it)" >&2; exit 1; }
done
PATH=$PATH:/usr/sbin:/sbin

NET=10.77.9
MAC=52:54:00:09:00:01
S=bwr$RUN_ID
boot_net "$S" $NET 1
cat >>"$CONF" <<EOF
[boot]
retry = 3
[agent]
slot_size = 192M
stall_timeout = 30
EOF
start_daemon

# The disks: a blank OS disk, and a data disk holding files.
truncate -s 512M "$T/os.raw"
mkdir -p "$T/data/srv"
for i in 1 2 3; do head -c $((i * 300000)) /dev/urandom >"$T/data/srv/file$i"; done
ext4_image "$T/data" "$T/data.raw" 64M
data_disk_sum() { sha256sum <"$T/data.raw" | cut -d' ' -f1; }
DATA_DISK_SUM=$(data_disk_sum)

bw_rc 0 node create n1 --mac $MAC --os-disk /dev/vda --data-disks /dev/vdb
# An extension of the node's pool: after every reimage it runs over SSH in
# the fresh OS (the test OS's dropbear, whose host key its agent reports).
mkdir -p "$T/ext"
cat >"$T/ext/run" <<'EOS'
#!/bin/sh
echo "hello from $(cat /etc/bootwave/version) on $(uname -r) as uid $(id -u) in $(pwd), settings $(cat settings.json)"
echo "$BW_VERSION" >/var/lib/bootwave/hello.stamp
EOS
chmod 755 "$T/ext/run"
tar -C "$T/ext" -czf "$T/hello.tar.gz" .
bw_rc 0 extension create hello
bw_rc 0 extension upload hello 1.0 "$T/hello.tar.gz"
bw_rc 0 image create os
bw_rc 0 image publish os v1 "$OS/os-v1.tar.zst"
bw_rc 0 image publish os v2 "$OS/os-v2.img.zst"
# (Its probe counts as Initializing for 20 s, not the default 120 s.)
bw_rc 0 image publish os broken "$OS/os-broken.tar.gz" --cmdline bootwave.grace=20
bw_rc 0 pool create p1 --image os --image-version v1 --auto-upgrade false
bw_rc 0 pool extension add p1 hello --version 1.0 --settings '{"who": "test_reimage"}'
bw_rc 0 node set n1 --pool p1

# The machine boots from the network, always; bootwaved picks what it boots.
MON_PORT=4444
monitor() { # monitor COMMAND: one command to QEMU's monitor, as a BMC would send
	ip netns exec "$S" bash -c "exec 3<>/dev/tcp/127.0.0.1/$MON_PORT && echo '$1' >&3 && sleep 0.5" 2>/dev/null
}
# power_on [QEMU ARG...]: the machine with its two disks, as $VM (the QEMU
# process's own id in $T/qemu.pid); its console goes to $T/console.log.
power_on() {
	rm -f "$T/qemu.pid"
	ip netns exec "$S" timeout 1500 qemu-system-x86_64 -machine pc,accel=tcg -m 512 -display none \
		-monitor "tcp:127.0.0.1:$MON_PORT,server,nowait" -serial "file:$T/console.log" -boot order=n \
		-drive "file=$T/os.raw,format=raw,if=virtio" -drive "file=$T/data.raw,format=raw,if=virtio" \
		-netdev "tap,id=n0,ifname=tap1,script=no,downscript=no" \
		-device "virtio-net-pci,netdev=n0,mac=$MAC" -pidfile "$T/qemu.pid" "$@" >>"$T/qemu.out" 2>&1 &
	VM=$!
	for _ in $(seq 50); do monitor info >/dev/null && break; sleep 0.1; done
}
power_on -S

node_field() { bw -o json node show n1 | jq -r ".$1"; }
events_json() { bw -o json node events n1; }
# wait_for (lib.sh) stops when the VM died and then shows its console.
wait_alive() { kill -0 "$VM" 2>/dev/null; }
wait_failed() { tail -n 30 "$T/console.log" | tr -d '\r' | sed 's/^/     console: /' >&2; }
installed_is() { [ "$(node_field installed_version)" = "$1" ] && [ "$(node_field state)" = active ]; }
health_is() { [ "$(node_field health)" = "$1" ]; }
# ext_ran N: the extension succeeded N times; ext_output: what its last run printed.
ext_ran() { [ "$(bw -o json node extensions n1 | jq '[.[] | select(.state == "succeeded")] | length')" -ge "$1" ]; }
ext_output() { bw -o json node extension-output "$(bw -o json node extensions n1 | jq -r '.[-1].id')" | jq -r .stdout; }

# phases TASK: how long each phase of the reimage took, from the node's events.
phases() {
	events_json | jq -r --argjson since "$1" '
		def t: .ts | sub("\\.[0-9]+"; "") | strptime("%Y-%m-%dT%H:%M:%SZ") | mktime;
		[.[] | select(.id > $since)] | sort_by(.id) as $e |
		def first(k; m): [$e[] | select(.kind == k and (.message | test(m)))][0];
		first("reimage"; ".") as $r | first("boot"; "^reimage") as $a | first("agent-hello"; ".") as $b |
		first("reimage-written"; ".") as $c | first("boot"; "^active") as $d |
		[first("committed"; "."), first("health"; "-> Unhealthy")] | map(select(. != null))[0] as $f |
		"firmware+DHCP \(($a | t) - ($r | t)) s, iPXE+ramdisk \(($b | t) - ($a | t)) s, download+write \(($c | t) - ($b | t)) s, " +
		"reboot+iPXE \(($d | t) - ($c | t)) s, OS boot+health \(if $f then (($f | t) - ($d | t) | tostring) else "-" end) s"' 2>/dev/null ||
		echo "(no phase times: events incomplete)"
}
last_event_id() { events_json | jq '[.[].id] | max // 0'; }
part_range() { sgdisk -p "$T/os.raw" | awk -v l="$1" '$7 == l { print $2 * 512, ($3 - $2 + 1) * 512 }'; }
part_sum() { # part_sum LABEL: sha256 of that partition of the OS disk
	local r
	r=$(part_range "$1")
	[ -n "$r" ] || { echo none; return; }
	dd if="$T/os.raw" bs=1M skip="${r% *}" count="${r#* }" iflag=skip_bytes,count_bytes 2>/dev/null | sha256sum | cut -d' ' -f1
}
data_part_sum() { part_sum bw-data; }

# 1. First provisioning: v1 from a tarball on a blank disk.
since=$(last_event_id)
bw_rc 0 node reimage n1 --image os --version v1
monitor cont
t0=$(date +%s)
wait_for "v1 installed and healthy" 600 installed_is v1 &&
	echo "   v1 on a blank disk: committed after $WAITED s ($(phases "$since"))"
check_eq "v1: active slot" "a" "$(node_field active_slot)"
check_eq "v1: health" "Healthy" "$(node_field health)"
check_contains "v1: the OS came up" "bootwave-os: v1 up" "$(tr -d '\r' <"$T/console.log")"
check_contains "v1: the agent created the layout" "bw-os-a" "$(sgdisk -p "$T/os.raw")"
check_contains "v1: with a data partition" "bw-data" "$(sgdisk -p "$T/os.raw")"
check_eq "v1: data disk unchanged" "$DATA_DISK_SUM" "$(data_disk_sum)"
check_contains "v1: the agent printed its peak memory" "peak RSS" "$(tr -d '\r' <"$T/console.log")"
wait_for "v1: the pool's extension ran over SSH" 180 ext_ran 1 && echo "   v1: extension done $WAITED s after the commit"
check_contains "v1: the extension ran in the new OS, as root, with its settings" \
	'hello from v1 on 6.1.0' "$(ext_output)"
check_contains "v1: ... as root in its directory" 'as uid 0 in /var/lib/bootwave/extensions/hello, settings {"who":"test_reimage"}' "$(ext_output)"
check_eq "v1: the host key its agent reported is the one pinned" "ssh-ed25519" "$(node_field ssh_host_key | cut -d' ' -f1)"

# The data partition now gets data of its own, written from the outside
# (the test OS never mounts it).
r=$(part_range bw-data)
head -c "${r#* }" /dev/urandom | dd of="$T/os.raw" bs=1M seek="${r% *}" oflag=seek_bytes conv=notrunc 2>/dev/null
DATA_PART_SUM=$(data_part_sum)

# 2. v2 from a raw image into slot b.
since=$(last_event_id)
bw_rc 0 node reimage n1 --version v2
monitor system_reset
wait_for "v2 installed and healthy" 600 installed_is v2 &&
	echo "   v2 (raw image): committed after $WAITED s ($(phases "$since"))"
check_eq "v2: active slot" "b" "$(node_field active_slot)"
check_contains "v2: the OS came up" "bootwave-os: v2 up" "$(tr -d '\r' <"$T/console.log")"
check_eq "v2: data partition unchanged" "$DATA_PART_SUM" "$(data_part_sum)"
check_eq "v2: data disk unchanged" "$DATA_DISK_SUM" "$(data_disk_sum)"
wait_for "v2: the extension ran again in the new OS" 180 ext_ran 2
check_contains "v2: ... in v2" "hello from v2" "$(ext_output)"

# 3. A version that boots but never gets healthy: not committed.
since=$(last_event_id)
bw_rc 0 node reimage n1 --version broken
monitor system_reset
wait_for "broken: reported Unhealthy" 600 health_is Unhealthy &&
	echo "   broken: Unhealthy after $WAITED s ($(phases "$since"))"
check_contains "broken: the OS came up" "bootwave-os: broken up" "$(tr -d '\r' <"$T/console.log")"
check_eq "broken: not committed (state)" "waiting_health" "$(node_field state)"
check_eq "broken: slot b stays active" "b" "$(node_field active_slot)"
check_eq "broken: v2 stays installed" "v2" "$(node_field installed_version)"
check_eq "broken: pending in slot a" "a broken" "$(node_field pending_slot) $(node_field pending_version)"
check_not_contains "broken: no commit" "version broken" "$(events_json | jq -r '.[] | select(.kind == "committed") | .message')"

# 4. The power cut mid-write: v1 again, into slot a (where "broken" waits),
# and the machine loses its power while the agent writes: the QEMU process
# is killed (SIGKILL, the guest shuts nothing down), then started again with
# the same disks. The task is still open, so the machine's next network
# boot gets the reimage script again and the agent writes the slot over
# from the start; slot b (v2, the committed one) and the data never change.
SLOT_B_SUM=$(part_sum bw-os-b)
since=$(last_event_id)
bw_rc 0 node reimage n1 --version v1
TASK=$(bw -o json node tasks n1 | jq 'max_by(.id).id')
task_field() { bw -o json node tasks n1 | jq -r ".[] | select(.id == $TASK) | .$1"; }
# (a tarball: the agent makes the file system, then extracts what it downloads)
writing() { [ "$(bw -o json node tasks n1 | jq ".[] | select(.id == $TASK and .state == \"running\" and
	(.stage == \"writing\" or .stage == \"extracting\") and .bytes_done > 0) | .id")" = "$TASK" ]; }
monitor system_reset
WAIT_EVERY=0.2 wait_for "power cut: the agent writing v1" 600 writing
CUT_AT=$(task_field bytes_done)
kill -KILL "$(cat "$T/qemu.pid")"
wait "$VM" 2>/dev/null || true
echo "   power cut: writing $CUT_AT of $(task_field bytes_total) bytes after $WAITED s, QEMU killed"
check_eq "power cut: the task is still running (no result came)" "running" "$(task_field state)"
check_eq "power cut: data partition unchanged" "$DATA_PART_SUM" "$(data_part_sum)"
check_eq "power cut: data disk unchanged" "$DATA_DISK_SUM" "$(data_disk_sum)"
check_eq "power cut: slot b (v2) unchanged" "$SLOT_B_SUM" "$(part_sum bw-os-b)"
check_eq "power cut: v2 in slot b is still the committed one" "b v2" "$(node_field active_slot) $(node_field installed_version)"
mv "$T/console.log" "$T/console-cut.log"
power_on
wait_for "power cut: v1 installed and healthy after the power came back" 600 installed_is v1 &&
	echo "   power cut: v1 committed $WAITED s after the power came back"
check_eq "power cut: the same task succeeded" "succeeded" "$(task_field state)"
check_eq "power cut: no other task" "$TASK" "$(bw -o json node tasks n1 | jq 'max_by(.id).id')"
check_eq "power cut: the reimage script was served again after the cut" "2" \
	"$(events_json | jq --argjson since "$since" '[.[] | select(.id > $since and .kind == "boot" and (.message | test("^reimage")))] | length')"
check_contains "power cut: the history says the task started over, and where it was cut" \
	"task $TASK: the machine booted again while its agent was at" \
	"$(events_json | jq -r --argjson since "$since" '.[] | select(.id > $since and .kind == "reimage-restarted") | .message')"
check_eq "power cut: v1 in slot a is the active one" "a" "$(node_field active_slot)"
check_contains "power cut: the OS came up" "bootwave-os: v1 up" "$(tr -d '\r' <"$T/console.log")"
check_eq "power cut: data partition unchanged after the reimage" "$DATA_PART_SUM" "$(data_part_sum)"

monitor quit || true
wait "$VM" 2>/dev/null || true
check_eq "at the end: data partition unchanged" "$DATA_PART_SUM" "$(data_part_sum)"
check_eq "at the end: data disk unchanged" "$DATA_DISK_SUM" "$(data_disk_sum)"
check_eq "at the end: slot b (v2) unchanged" "$SLOT_B_SUM" "$(part_sum bw-os-b)"
echo "   whole test: $(($(date +%s) - t0)) s of QEMU"
stop_daemon
finish
