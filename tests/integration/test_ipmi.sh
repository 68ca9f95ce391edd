#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The IPMI driver (hw/ipmi.c, through tests/tools/hwctl) against ipmi_sim
# (OpenIPMI) controlling a real QEMU process, as in VIRTUAL-RACK.md: power
# on starts the machine, power off stops it, status follows it; a refused
# boot override is reported clearly; the event log's new and critical entries; wrong password, a cipher
# suite the BMC does not offer, nothing listening, and the BMC killed in the
# middle of a session: a clear error naming the BMC and the step, in
# bounded time. Only loopback.
. "$(dirname "$0")/lib.sh"
PATH=$PATH:/usr/sbin:/sbin
HWCTL=$BW_BIN/../tests/hwctl
for t in ipmi_sim ipmitool qemu-system-x86_64; do
	command -v $t >/dev/null || { echo "test_ipmi needs $t (scripts/setup-deps rack)" >&2; exit 1; }
done

LAN=$((30000 + $$ % 15000 * 2)) KCS=$((LAN + 1))
mkdir -p "$T/bmc"
# The machine: no disks, just firmware and the BMC's KCS interface. Its
# command line carries a marker so the test can find the process.
cat >"$T/vm.sh" <<EOF
#!/bin/sh
exec qemu-system-x86_64 -name bwipmi$LAN -machine pc,accel=tcg -m 64 -display none -nodefaults \\
	-chardev socket,id=ipmi0,host=127.0.0.1,port=$KCS,reconnect=1 \\
	-device ipmi-bmc-extern,id=bmc0,chardev=ipmi0 -device isa-ipmi-kcs,bmc=bmc0 >>"$T/vm.log" 2>&1
EOF
chmod +x "$T/vm.sh"
cat >"$T/lan.conf" <<EOF
name "node1"
set_working_mc 0x20
  startlan 1
    addr 127.0.0.1 $LAN
    priv_limit admin
    allowed_auths_admin md5 straight
    guid a123456789abcdefa123456789abcdef
  endlan
  serial kcs 127.0.0.1 $KCS codec VM ipmb 0x20
  startcmd "$T/vm.sh"
  startnow false
  poweroff_wait 5
  kill_wait 5
  user 2 true "admin" "s3cret-pw" admin 10 md5 straight
EOF
cat >"$T/node.emu" <<'EOF'
mc_setbmc 0x20
mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr
sel_enable 0x20 1000 0x0a
mc_enable 0x20
EOF
SIM=
start_bmc() {
	ipmi_sim -c "$T/lan.conf" -f "$T/node.emu" -s "$T/bmc" -n >>"$T/sim.log" 2>&1 &
	SIM=$!
	for _ in $(seq 50); do
		ipmitool -I lanplus -H 127.0.0.1 -p $LAN -U admin -P s3cret-pw mc info >/dev/null 2>&1 && return
		sleep 0.2
	done
	echo "ipmi_sim did not answer" >&2
	exit 1
}
stop_bmc() { [ -z "$SIM" ] || { kill -9 "$SIM" 2>/dev/null; wait "$SIM" 2>/dev/null || true; SIM=; }; }
vm_pid() { pgrep -f "^qemu-system-x86_64 -name bwipmi$LAN " || true; }
trap 'stop_bmc; pkill -f "bwipmi$LAN" 2>/dev/null || true; cleanup' EXIT

# hw ARGS...: runs hwctl against the simulator; $OUT, $ERR, $RC.
hw() {
	RC=0
	OUT=$(timeout 60 "$HWCTL" -d ipmi -H 127.0.0.1 -p "$LAN" -u admin -P s3cret-pw "$@" 2>"$T/err") || RC=$?
	ERR=$(cat "$T/err")
}
# wait_vm yes|no: until the QEMU process exists (or not); ipmi_sim waits
# poweroff_wait seconds for a graceful stop before it kills.
wait_vm() {
	for _ in $(seq 100); do
		if [ "$1" = yes ] && [ -n "$(vm_pid)" ]; then return 0; fi
		if [ "$1" = no ] && [ -z "$(vm_pid)" ]; then return 0; fi
		sleep 0.2
	done
	return 1
}

start_bmc
hw power status
check_eq "off at first" "power: off" "$OUT"
check_eq "no machine process yet" "" "$(vm_pid)"

hw power on
check_eq "power on: ok" "ok" "$OUT"
wait_vm yes
check_eq "power on started the QEMU process" "yes" "$([ -n "$(vm_pid)" ] && echo yes || echo no)"
hw power status
check_eq "status follows: on" "power: on" "$OUT"
# The boot override: ipmi_sim hands boot options to a chassis_control
# program only, and this BMC has none (power goes to its startcmd), so it
# refuses them; the driver must say so clearly, naming the step and BMC.
# (Positive override tests: tests/integration/test_redfish.sh.)
hw bootdev pxe once legacy
check_eq "boot override refused: exit 1" "1" "$RC"
check_contains "boot override refused: step and BMC named" "set boot device: BMC 127.0.0.1:$LAN:" "$ERR"

pid1=$(vm_pid)
hw power reset , power status
check_eq "reset: still on" "ok
power: on" "$OUT"

hw power off
check_eq "power off: ok" "ok" "$OUT"
wait_vm no
check_eq "power off stopped the QEMU process" "" "$(vm_pid)"
hw power status
check_eq "status follows: off" "power: off" "$OUT"
hw power cycle
check_eq "cycle of a machine that is off powers it on" "ok" "$OUT"
wait_vm yes
check_eq "a new QEMU process" "yes" "$([ -n "$(vm_pid)" ] && [ "$(vm_pid)" != "$pid1" ] && echo yes || echo no)"

# The event log: entries added after the marker are new; critical ones
# (a temperature past its upper critical threshold) are named.
hw health
check_contains "health: OK with an empty log" "health: OK power=on" "$OUT"
marker=$(sed -n 's/.*sel_marker=\([0-9]*\).*/\1/p' <<<"$OUT")
ipmitool -I lanplus -H 127.0.0.1 -p $LAN -U admin -P s3cret-pw raw 0x0a 0x44 0 0 2 0 0 0 0 0x20 0 4 1 0x30 1 0x59 0x5a 0x55 >/dev/null 2>&1
hw health "$marker"
check_contains "a new critical SEL entry" "health: Critical power=on" "$OUT"
check_contains "counted" "sel_new=1 sel_critical=1" "$OUT"
check_contains "described" "Upper Critical" "$OUT"
marker=$(sed -n 's/.*sel_marker=\([0-9]*\).*/\1/p' <<<"$OUT")
hw health "$marker"
check_contains "nothing new after the marker" "health: OK power=on chassis=[] sel_marker=$marker sel_new=0" "$OUT"

# Bad input.
RC=0
OUT=$(timeout 60 "$HWCTL" -d ipmi -H 127.0.0.1 -p "$LAN" -u admin -P wrong power status 2>&1) || RC=$?
check_eq "wrong password: exit 1" "1" "$RC"
check_contains "wrong password: named" "login: BMC 127.0.0.1:$LAN refused the credentials of user admin" "$OUT"
check_contains "wrong password: EACCES" "EACCES" "$OUT"
hw -c 17 power status
check_contains "cipher suite 17 not offered by ipmi_sim: said so" "did not open a session with cipher suite 17" "$ERR"
hw -c 5 power status
check_contains "cipher suite outside 3 and 17 refused" "cipher suite 5: bootwave uses 3 or 17" "$ERR"
start=$(date +%s)
RC=0
OUT=$(timeout 60 "$HWCTL" -d ipmi -H 127.0.0.1 -p $((LAN + 2)) -u admin -P x -t 2000 power status 2>&1) || RC=$?
check_contains "nothing listening: named" "login: BMC 127.0.0.1:$((LAN + 2)): no answer within 2000 ms" "$OUT"
check_eq "nothing listening: bounded" "yes" "$([ $(($(date +%s) - start)) -le 5 ] && echo yes || echo no)"

# The BMC killed in the middle of a session.
"$HWCTL" -d ipmi -H 127.0.0.1 -p "$LAN" -u admin -P s3cret-pw -t 2000 power status , sleep 2000 , power status \
	>"$T/mid.out" 2>"$T/mid.err" &
hp=$!
sleep 1
stop_bmc
start=$(date +%s)
rc=0
wait $hp || rc=$?
check_eq "killed mid-session: first answer came" "power: on" "$(head -1 "$T/mid.out")"
check_eq "killed mid-session: exit 1" "1" "$rc"
check_contains "killed mid-session: step and BMC named" "power status: BMC 127.0.0.1:$LAN" "$(cat "$T/mid.err")"
check_contains "killed mid-session: a timeout" "ETIMEDOUT" "$(cat "$T/mid.err")"
check_eq "killed mid-session: bounded" "yes" "$([ $(($(date +%s) - start)) -le 6 ] && echo yes || echo no)"
check_not_contains "the password is never printed" "s3cret-pw" "$(cat "$T/err" "$T/mid.err" "$T/mid.out")"
pkill -f "bwipmi$LAN" 2>/dev/null || true
finish
