#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The IPMI driver (hw/ipmi.c, through tests/tools/hwctl) against ipmi_sim
# (OpenIPMI) controlling a real QEMU process, as in VIRTUAL-RACK.md: power
# on starts the machine, power off stops it, status follows it; the boot
# override reaches the BMC and decides how the machine boots; the event
# log's new and critical entries; wrong password, a cipher suite the BMC
# does not offer, nothing listening, and the BMC killed in the
# middle of a session: a clear error naming the BMC and the step, in
# bounded time. Only loopback.
. "$(dirname "$0")/lib.sh"
PATH=$PATH:/usr/sbin:/sbin
HWCTL=$BW_BIN/../tests/hwctl
for t in ipmi_sim ipmitool qemu-system-x86_64; do
	command -v $t >/dev/null || { echo "test_ipmi needs $t (scripts/setup-deps rack)" >&2; exit 1; }
done

LAN=$((30000 + $$ % 15000 * 2))
B=$T/bmc
# The machine: no disks, just firmware; the BMC's chassis_control program
# starts and stops it (lib.sh ipmi_bmc).
ipmi_bmc "$B" "$LAN" s3cret-pw -machine pc,accel=tcg -m 64 -display none -nodefaults
vm_pid() { bmc_vm_pid "$B"; }
vm_boot_order() { tr '\0' ' ' <"/proc/$(vm_pid)/cmdline" | grep -o 'order=[a-z]*'; }
stop_bmc() { kill -9 "$BMC_PID" 2>/dev/null || true; wait "$BMC_PID" 2>/dev/null || true; }

# hw ARGS...: runs hwctl against the simulator; $OUT, $ERR, $RC.
hw() {
	RC=0
	OUT=$(timeout 60 "$HWCTL" -d ipmi -H 127.0.0.1 -p "$LAN" -u admin -P s3cret-pw "$@" 2>"$T/err") || RC=$?
	ERR=$(cat "$T/err")
}
# wait_new_vm PID: until a QEMU process other than PID runs.
wait_new_vm() {
	for _ in $(seq 100); do
		[ -n "$(vm_pid)" ] && [ "$(vm_pid)" != "$1" ] && return 0
		sleep 0.2
	done
	return 1
}

hw power status
check_eq "off at first" "power: off" "$OUT"
check_eq "no machine process yet" "" "$(vm_pid)"

hw power on
check_eq "power on: ok" "ok" "$OUT"
bmc_wait_vm "$B" yes
check_eq "power on started the QEMU process" "yes" "$([ -n "$(vm_pid)" ] && echo yes || echo no)"
hw power status
check_eq "status follows: on" "power: on" "$OUT"
# The boot override reaches the BMC (its chassis_control program is told,
# the BMC's view) and decides how the machine boots next.
hw bootdev pxe once legacy
check_eq "boot override pxe: ok" "0 ok" "$RC $OUT"
check_eq "the BMC was told: pxe" "set boot pxe" "$(grep 'set boot' "$B/calls" | tail -1)"
pid0=$(vm_pid)
hw power cycle
wait_new_vm "$pid0"
check_eq "the machine now boots from the network" "order=n" "$(vm_boot_order)"
hw bootdev disk persistent uefi
check_eq "boot override disk: ok" "0 ok" "$RC $OUT"
check_eq "the BMC was told: disk (ipmi_sim: default)" "set boot default" "$(grep 'set boot' "$B/calls" | tail -1)"
# (A hard reset is not tested here: ipmi_sim 2.0.33 never answers Chassis
# Control "hard reset" when a chassis_control program is set, and acts on
# every retransmission; test_redfish tests ForceRestart.)
pid0=$(vm_pid)
hw power cycle
wait_new_vm "$pid0"
check_eq "cycle: the machine boots from disk" "order=c" "$(vm_boot_order)"
# (ipmi_sim keeps only the device of an override, reported with the valid
# bit clear, so reading it back says none; test_redfish reads overrides back.)
hw getboot
check_eq "read back from ipmi_sim" "boot: none once legacy" "$OUT"

pid1=$(vm_pid)
hw power status
check_eq "after the cycle: on" "power: on" "$OUT"

hw power off
check_eq "power off: ok" "ok" "$OUT"
bmc_wait_vm "$B" no
check_eq "power off stopped the QEMU process" "" "$(vm_pid)"
hw power status
check_eq "status follows: off" "power: off" "$OUT"
hw power cycle
check_eq "cycle of a machine that is off powers it on" "ok" "$OUT"
bmc_wait_vm "$B" yes
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
finish
