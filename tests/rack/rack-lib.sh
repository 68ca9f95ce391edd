# SPDX-License-Identifier: Apache-2.0
# The virtual rack (issue 8, /work/shared/VIRTUAL-RACK.md): one network
# namespace with a bridge, bootwaved on it as the only DHCP, TFTP and HTTP
# server, and N QEMU nodes (SeaBIOS, one of them UEFI with OVMF), each with a
# blank OS disk and a data disk, each behind its own ipmi_sim BMC (in the
# namespace) that starts and stops its QEMU process. Built on
# tests/integration/lib.sh: its cleanup trap removes the namespace with
# everything started in it, the BMCs and their machines, also when a step
# fails or the run is interrupted. Sourced by tests/rack/rack-test.
. "$(dirname "${BASH_SOURCE[0]}")/../integration/lib.sh"
[ "$(id -u)" -eq 0 ] || { echo "the virtual rack needs root (network namespaces)" >&2; exit 1; }
PATH=$PATH:/usr/sbin:/sbin
# Ctrl-C or a kill: exit, so that lib.sh's EXIT trap cleans up.
trap 'echo "   interrupted" >&2; FAILS=$((FAILS + 1)); exit 130' INT TERM HUP

VARIANT_DIR=$(cd "$BW_BIN/.." && pwd)
BUILD_DIR=$(cd "$VARIANT_DIR/.." && pwd)
KERNEL=$BUILD_DIR/rootfs/cache/vmlinuz
INITRD=$VARIANT_DIR/rootfs/initrd-agent.gz
OS=$BUILD_DIR/rootfs/os
OVMF_CODE=/usr/share/OVMF/OVMF_CODE.fd
OVMF_VARS=/usr/share/OVMF/OVMF_VARS.fd
for f in "$KERNEL" "$INITRD" "$OS/os-v1.tar.zst" "$OS/os-v2.img.zst" "$OS/os-broken.tar.gz" "$OVMF_CODE"; do
	[ -e "$f" ] || { echo "missing $f (make rack builds it)" >&2; exit 1; }
done
for t in qemu-system-x86_64 ipmi_sim ipmitool sgdisk jq; do
	command -v $t >/dev/null || { echo "the virtual rack needs $t (scripts/setup-deps rack)" >&2; exit 1; }
done

RACK_NET=10.77.20
RACK_NS=bwk$RUN_ID
RACK_N=0
RACK_UEFI=0    # the index of the UEFI node (0: none)
BMC_PW=rack-secret
T0=$(date +%s)

node_name() { echo "node$1"; }
node_mac() { printf '52:54:00:20:00:%02x' "$1"; }
node_dir() { echo "$T/node$1"; }
bmc_port() { echo $((9003 + 10 * $1)); } # 9013, 9023, ...; its QEMU monitor is +1

# node_disks I: a blank OS disk and a data disk holding files (ext4).
node_disks() {
	local d i
	d=$(node_dir "$1")
	mkdir -p "$d/files/srv"
	truncate -s 512M "$d/os.raw"
	for i in 1 2 3; do head -c $((i * 200000)) /dev/urandom >"$d/files/srv/file$i"; done
	ext4_image "$d/files" "$d/data.raw" 32M
}

# node_qemu_args I: the machine behind BMC I (boot order comes from the BMC).
node_qemu_args() {
	local d nic
	d=$(node_dir "$1")
	nic="virtio-net-pci,netdev=n0,mac=$(node_mac "$1")"
	echo "-machine pc,accel=tcg -m 512 -display none"
	echo "-chardev file,id=con0,path=$d/console.log,append=on -serial chardev:con0"
	echo "-drive file=$d/os.raw,format=raw,if=virtio -drive file=$d/data.raw,format=raw,if=virtio"
	echo "-netdev tap,id=n0,ifname=tap$1,script=no,downscript=no"
	if [ "$1" -eq "$RACK_UEFI" ]; then
		# OVMF with its own virtio driver (no iPXE ROM on the NIC): PXE loads
		# snponly.efi by TFTP; the NIC first in the boot order.
		echo "-device $nic,romfile=,bootindex=0"
		echo "-drive if=pflash,format=raw,readonly=on,file=$OVMF_CODE -drive if=pflash,format=raw,file=$d/vars.fd"
	else
		echo "-device $nic"
	fi
}

# node_bmc I: the ipmi_sim BMC of node I, in the rack's namespace.
node_bmc() {
	local d
	d=$(node_dir "$1")
	[ "$1" -eq "$RACK_UEFI" ] && cp "$OVMF_VARS" "$d/vars.fd"
	BMC_NSX=("${NSX[@]}")
	BMC_BOOT_ORDER=n
	# shellcheck disable=SC2046
	ipmi_bmc "$d/bmc" "$(bmc_port "$1")" "$BMC_PW" $(node_qemu_args "$1")
}

# rack_tls_conf: a CA and a certificate for the bridge's address (openssl),
# the API on HTTPS, and plain HTTP for booting machines on a port of its own:
# the agents then call the API over HTTPS with the CA from their ca.cpio.
rack_tls_conf() {
	local p=$T/pki
	mkdir -p "$p"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=rack-ca \
		-keyout "$p/ca.key" -out "$p/ca.pem" 2>/dev/null
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=bootwaved \
		-keyout "$p/server.key" -out "$p/server.csr" 2>/dev/null
	printf 'subjectAltName=IP:%s.1\n' "$RACK_NET" >"$p/san.ext"
	openssl x509 -req -in "$p/server.csr" -CA "$p/ca.pem" -CAkey "$p/ca.key" -CAcreateserial -days 2 \
		-extfile "$p/san.ext" -out "$p/server.pem" 2>/dev/null
	chmod 600 "$p"/*.key
	cat >>"$CONF" <<EOF
[api]
tls_cert = $p/server.pem
tls_key = $p/server.key
tls_ca = $p/ca.pem
[boot]
http_listen = 0.0.0.0:0
EOF
}

# rack_up N UEFI: the namespace, bootwaved, N nodes' disks and BMCs (all off);
# node UEFI (0: none) boots OVMF.
# RACK_TLS=1: the API over TLS (rack_tls_conf).
rack_up() {
	local i
	RACK_N=$1
	RACK_UEFI=$2
	boot_net "$RACK_NS" "$RACK_NET" "$RACK_N"
	cat >>"$CONF" <<EOF
[boot]
retry = 3
[agent]
slot_size = 192M
stall_timeout = 30
heartbeat_interval = 5
[orch]
interval = 1
reimage_timeout = 900
EOF
	[ "${RACK_TLS:-0}" = 1 ] && rack_tls_conf
	start_daemon
	if [ "${RACK_TLS:-0}" = 1 ]; then
		# The CLI over HTTPS to the bridge's address (the certificate's), trusting the test CA only.
		URL="https://$RACK_NET.1:${URL##*:}"
		# (curl, through lib.sh's api helper, trusts it through CURL_CA_BUNDLE)
		export BOOTWAVE_URL=$URL BOOTWAVE_CA=$T/pki/ca.pem CURL_CA_BUNDLE=$T/pki/ca.pem
	fi
	for i in $(seq "$RACK_N"); do
		node_disks "$i"
		node_bmc "$i" || { fail "BMC of node $i did not start"; exit 1; }
	done
}

# rack_enroll POOL: sites, two zones, three racks (a fault domain each, a
# pair of nodes per rack), the nodes with their BMC and three update domains,
# through the CLI.
RACK_OF=(- r1 r1 r2 r2 r3 r3 r4 r4)
UD_OF=(- 0 1 0 1 2 2 0 1)
rack_enroll() {
	local i
	bw_rc 0 site create lab
	bw_rc 0 zone create z1 --site lab
	bw_rc 0 zone create z2 --site lab
	bw_rc 0 rack create r1 --zone z1 --fault-domain 0
	bw_rc 0 rack create r2 --zone z1 --fault-domain 1
	bw_rc 0 rack create r3 --zone z2 --fault-domain 2
	[ "$RACK_N" -gt 6 ] && bw_rc 0 rack create r4 --zone z2 --fault-domain 3
	for i in $(seq "$RACK_N"); do
		OUT=$(echo "$BMC_PW" | bw node create "$(node_name "$i")" --mac "$(node_mac "$i")" --rack "${RACK_OF[$i]}" \
			--pool "$1" --update-domain "${UD_OF[$i]}" --bmc-driver ipmi --bmc-address 127.0.0.1 \
			--bmc-port "$(bmc_port "$i")" --bmc-username admin --bmc-password-file - \
			--os-disk /dev/vda --data-disks /dev/vdb 2>&1) && ok || fail "enroll node $i: $OUT"
	done
}

node_field() { bw -o json node show "$(node_name "$1")" | jq -r "$2"; } # node_field I JQ-FILTER
node_events() { bw -o json node events "$(node_name "$1")"; }
last_event_id() { node_events "$1" | jq '[.[].id] | max // 0'; }

# data_disk_sum I / data_part_sum I: sha256 of node I's data disk, and of the
# bw-data partition of its OS disk (none before the layout exists).
data_disk_sum() { sha256sum <"$(node_dir "$1")/data.raw" | cut -d' ' -f1; }
data_part_range() { sgdisk -p "$(node_dir "$1")/os.raw" 2>/dev/null | awk '$7 == "bw-data" { print $2 * 512, ($3 - $2 + 1) * 512 }'; }
data_part_sum() {
	local r
	r=$(data_part_range "$1")
	[ -n "$r" ] || { echo none; return; }
	dd if="$(node_dir "$1")/os.raw" bs=1M skip="${r% *}" count="${r#* }" iflag=skip_bytes,count_bytes 2>/dev/null |
		sha256sum | cut -d' ' -f1
}
# fill_data_part I: data of its own in the data partition, written from the
# outside (the test OS never mounts it).
fill_data_part() {
	local r
	r=$(data_part_range "$1")
	[ -n "$r" ] || { fail "node $1: no bw-data partition"; return; }
	head -c "${r#* }" /dev/urandom | dd of="$(node_dir "$1")/os.raw" bs=1M seek="${r% *}" oflag=seek_bytes conv=notrunc 2>/dev/null
}
# record_sums / check_sums WHEN: every node's data partition and data disk as recorded.
record_sums() {
	local i
	for i in $(seq "$RACK_N"); do
		data_part_sum "$i" >"$(node_dir "$i")/part.sum"
		data_disk_sum "$i" >"$(node_dir "$i")/disk.sum"
	done
}
check_sums() {
	local i
	for i in $(seq "$RACK_N"); do
		check_eq "$1: node$i data partition unchanged" "$(cat "$(node_dir "$i")/part.sum")" "$(data_part_sum "$i")"
		check_eq "$1: node$i data disk unchanged" "$(cat "$(node_dir "$i")/disk.sum")" "$(data_disk_sum "$i")"
	done
}

WAIT_EVERY=3 # wait_for (lib.sh): the rack is slow, poll it gently

# phases I SINCE: how long node I spent in each phase of its last reimage
# after event SINCE, from its events: firmware+DHCP (power cycle to the
# agent's boot script), iPXE+ramdisk (to the agent's hello), download+write,
# reboot+iPXE (to the installed OS's boot script), OS boot+health (to the
# commit or Unhealthy), extensions (to the last extension event).
phases() {
	node_events "$1" | jq -r --argjson since "$2" '
		def t: .ts | sub("\\.[0-9]+"; "") | strptime("%Y-%m-%dT%H:%M:%SZ") | mktime;
		def d(a; b): if a != null and b != null then ((b | t) - (a | t) | tostring) else "-" end;
		[.[] | select(.id > $since)] | sort_by(.id) as $e |
		def first(k; m): [$e[] | select(.kind == k and (.message | test(m)))][0];
		def last(k): [$e[] | select(.kind == k)][-1];
		$e[0] as $r | first("boot"; "^reimage") as $a | first("agent-hello"; ".") as $b |
		first("reimage-written"; ".") as $c | first("boot"; "^active") as $d |
		([first("committed"; "."), first("health"; "-> Unhealthy")] | map(select(. != null))[0]) as $f |
		last("extension") as $x |
		"firmware+DHCP \(d($r; $a)) s, iPXE+ramdisk \(d($a; $b)) s, download+write \(d($b; $c)) s, " +
		"reboot+iPXE \(d($c; $d)) s, OS boot+health \(d($d; $f)) s, extensions \(if $x != null and $f != null and ($x.id > $f.id) then d($f; $x) else "-" end) s, " +
		"total \(d($r; (if $x != null and $f != null and ($x.id > $f.id) then $x else $f end)))s"' 2>/dev/null ||
		echo "(no phase times: events incomplete)"
}
# print_phases STEP: every node's phases since its mark (mark_events).
mark_events() {
	local i
	for i in $(seq "$RACK_N"); do last_event_id "$i" >"$(node_dir "$i")/mark"; done
}
print_phases() {
	local i
	for i in $(seq "$RACK_N"); do
		echo "   $1 node$i$([ "$i" -eq "$RACK_UEFI" ] && echo ' (UEFI)'): $(phases "$i" "$(cat "$(node_dir "$i")/mark")")"
	done
}

# console_tail I: the end of node I's serial console (for failures).
console_tail() { tail -n "${2:-15}" "$(node_dir "$1")/console.log" 2>/dev/null | tr -d '\r' | sed "s/^/     node$1 console: /" >&2; }

rack_elapsed() { echo $(($(date +%s) - T0)); }
