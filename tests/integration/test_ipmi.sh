#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The IPMI driver (hw/ipmi.c, through tests/tools/hwctl) against ipmi_sim
# (OpenIPMI) controlling a real QEMU process, as in VIRTUAL-RACK.md: power
# on starts the machine, power off stops it, status follows it; the boot
# override reaches the BMC and decides how the machine boots; the event
# log's new and critical entries; sensors past a critical threshold, as
# the BMC's SDR repository lists them; wrong password, a cipher suite the BMC
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
B_PID=$BMC_PID
vm_pid() { bmc_vm_pid "$B"; }
vm_boot_order() { tr '\0' ' ' <"/proc/$(vm_pid)/cmdline" | grep -o 'order=[a-z]*'; }
stop_bmc() { kill -9 "$B_PID" 2>/dev/null || true; wait "$B_PID" 2>/dev/null || true; }

# hw ARGS...: runs hwctl against the simulator (HWPORT: another one); $OUT, $ERR, $RC.
hw() {
	RC=0
	OUT=$(timeout 60 "$HWCTL" -d ipmi -H 127.0.0.1 -p "${HWPORT:-$LAN}" -u admin -P s3cret-pw "$@" 2>"$T/err") || RC=$?
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
check_contains "no SDRs (ipmi_sim's default): no sensors, no error" "sensors_crossed=0 sensors=[]" "$OUT"
marker=$(sed -n 's/.*sel_marker=\([0-9]*\).*/\1/p' <<<"$OUT")
ipmitool -I lanplus -C 3 -H 127.0.0.1 -p $LAN -U admin -P s3cret-pw raw 0x0a 0x44 0 0 2 0 0 0 0 0x20 0 4 1 0x30 1 0x59 0x5a 0x55 >/dev/null 2>&1
hw health "$marker"
check_contains "a new critical SEL entry" "health: Critical power=on" "$OUT"
check_contains "counted" "sel_new=1 sel_critical=1" "$OUT"
check_contains "described" "Upper Critical" "$OUT"
marker=$(sed -n 's/.*sel_marker=\([0-9]*\).*/\1/p' <<<"$OUT")
hw health "$marker"
check_contains "nothing new after the marker" "health: OK power=on chassis=[] sel_marker=$marker sel_new=0" "$OUT"

# Sensors: a second BMC (up until cleanup) whose SDR repository lists
# threshold sensors, their readings set at runtime through the emulator
# console (events not generated: the SEL stays empty, the sensors alone
# make health Critical).
#   1 "CPU Temp": a Full Sensor Record (IPMI 2.0 43.1), degrees C, linear
#     1:1, upper non-critical 80, critical 90, non-recoverable 100; at 40.
#   2 "Inlet Temp": a Compact Sensor Record (43.2), lower non-critical 10,
#     critical 5; at 20.
#   3 "CPU2 Temp": a full record with no sensor behind it (an empty
#     socket; ipmi_sim refuses the reading): skipped.
#   4 "PSU Temp": a sensor at 95, past its upper critical 80, whose record
#     is added to the repository later, in the middle of a session.
# (Emulator commands read numbers as hexadecimal: hx writes them so.)
hx() { printf '0x%02x' "$1"; }
# sdr_id NAME: an ID string: type/length (8-bit ASCII) and bytes.
sdr_id() {
	local i out
	out=$(hx $((0xc0 + ${#1})))
	for ((i = 0; i < ${#1}; i++)); do out+=" $(hx "'${1:i:1}")"; done
	echo "$out"
}
# full_sdr NUMBER ENTITY INSTANCE NAME UNR UC UNC: the emulator command
# adding a Full Sensor Record of a temperature the BMC (20h, LUN 0) owns.
full_sdr() {
	local body
	# key: owner, LUN, number; entity, instance; init 67h (scanning,
	# events); capabilities 44h (auto re-arm, thresholds readable); type
	# 01h (temperature), reading type 01h (threshold)
	body="0x20 0 $(hx "$1") $(hx "$2") $(hx "$3") 0x67 0x44 0x01 0x01"
	# assertions 0a80h (upper non-critical, critical, non-recoverable going
	# high) / deassertions, upper thresholds compared 7a80h; readable
	# thresholds 38h (the upper three), none settable
	body+=" 0x80 0x0a 0x80 0x7a 0x38 0"
	# units: unsigned, degrees C (01h); linear, M=1, B=0, no exponents;
	# nominal reading given (01h): 40; normal max, min; sensor range 255-0
	body+=" 0 0x01 0 0 0x01 0 0 0 0 0 0x01 0x28 0 0 0xff 0"
	# thresholds UNR, UC, UNC, LNR, LC, LNC; hysteresis +/-; reserved x2; OEM
	body+=" $(hx "$5") $(hx "$6") $(hx "$7") 0 0 0 0 0 0 0 0 $(sdr_id "$4")"
	echo "main_sdr_add 0x20 0 0 0x51 0x01 $(hx "$(wc -w <<<"$body")") $body"
}
# set_temp SENSOR DEGREES: a new reading, no event.
set_temp() { bmc_console "$S" "sensor_set_value 0x20 0 $1 $(hx "$2") 0"; }
S=$T/sensors SLAN=$((LAN + 3))
# A Compact Sensor Record: key; entity 37h (air inlet), instance; init,
# capabilities, type, reading type as above; assertions 0005h (lower
# non-critical, critical going low) / lower thresholds compared 3000h;
# deassertions 0005h; readable thresholds 03h; units degrees C; no record
# sharing; no hysteresis; reserved x3; OEM; ID string.
inlet="0x20 0 2 0x37 1 0x67 0x44 0x01 0x01 0x05 0x30 0x05 0 0x03 0 0 0x01 0 0x01 0 0 0 0 0 0 0 $(sdr_id "Inlet Temp")"
events="enable scanning per-state 000101010000000 000101010000000 000101010000000 000101010000000"
BMC_CONSOLE=$SLAN BMC_EMU_EXTRA="sensor_add 0x20 0 1 0x01 0x01
sensor_set_threshold 0x20 0 1 readable 111000 $(hx 100) $(hx 90) $(hx 80) 0 0 0
sensor_set_event_support 0x20 0 1 $events
sensor_set_value 0x20 0 1 $(hx 40) 0
$(full_sdr 1 0x03 1 "CPU Temp" 100 90 80)
sensor_add 0x20 0 2 0x01 0x01
sensor_set_threshold 0x20 0 2 readable 000011 0 0 0 0 $(hx 5) $(hx 10)
sensor_set_event_support 0x20 0 2 enable scanning per-state 000000000000101 000000000000101 000000000000101 000000000000101
sensor_set_value 0x20 0 2 $(hx 20) 0
main_sdr_add 0x20 0 0 0x51 0x02 $(hx "$(wc -w <<<"$inlet")") $inlet
$(full_sdr 3 0x03 2 "CPU2 Temp" 100 90 80)
sensor_add 0x20 0 4 0x01 0x01
sensor_set_threshold 0x20 0 4 readable 111000 $(hx 100) $(hx 80) $(hx 70) 0 0 0
sensor_set_event_support 0x20 0 4 $events
sensor_set_value 0x20 0 4 $(hx 95) 0" ipmi_bmc "$S" "$SLAN" s3cret-pw
# ipmitool reads the records as the IPMI spec says they are.
sdr=$(ipmitool -I lanplus -C 3 -H 127.0.0.1 -p "$SLAN" -U admin -P s3cret-pw sdr list full 2>/dev/null | tr -s ' ')
check_contains "ipmitool reads the full record back" "CPU Temp | 40 degrees C | ok" "$sdr"
sdr=$(ipmitool -I lanplus -C 3 -H 127.0.0.1 -p "$SLAN" -U admin -P s3cret-pw sensor list 2>/dev/null | tr -s ' ')
check_contains "ipmitool: CPU Temp thresholds" "CPU Temp | 40.000 | degrees C | ok | na | na | na | 80.000 | 90.000 | 100.000" "$sdr"
check_contains "ipmitool: the compact record" "Inlet Temp | 0x14 |" "$sdr"
HWPORT=$SLAN hw health
check_eq "sensors all normal: OK, none crossed, the unreadable one skipped" \
	"0 health: OK power=off chassis=[] sel_marker=0 sel_new=0 sel_critical=0 sel_last=[] sensors_crossed=0 sensors=[]" "$RC $OUT"
set_temp 1 95
HWPORT=$SLAN hw health
check_contains "CPU Temp at 95: Critical" "health: Critical power=off" "$OUT"
check_contains "from the sensor alone (the SEL is empty)" "sel_new=0 sel_critical=0" "$OUT"
check_contains "CPU Temp past its upper critical threshold, named" "sensors_crossed=1 sensors=[CPU Temp (upper critical)]" "$OUT"
set_temp 1 101
set_temp 2 3
HWPORT=$SLAN hw health
check_contains "non-recoverable, and a compact record's sensor below its lower critical" \
	"sensors_crossed=2 sensors=[CPU Temp (upper non-recoverable), Inlet Temp (lower critical)]" "$OUT"
set_temp 1 40
set_temp 2 20
# The driver reads the SDR list once per session and again only when the
# repository changes: polls in a row agree, and a record added between two
# polls of one session is seen by the second.
HWPORT=$SLAN hw health , sleep 500 , health
check_eq "back to normal, twice in a session" "2 0" "$(grep -c 'health: OK .* sensors_crossed=0 sensors=\[\]$' <<<"$OUT") $RC"
"$HWCTL" -d ipmi -H 127.0.0.1 -p "$SLAN" -u admin -P s3cret-pw health , sleep 1500 , health >"$T/sdr.out" 2>&1 &
hp=$!
for _ in $(seq 50); do [ -s "$T/sdr.out" ] && break; sleep 0.1; done
bmc_console "$S" "$(full_sdr 4 0x0a 1 "PSU Temp" 100 80 70)"
wait $hp
check_contains "before the record: nothing crossed" "sensors_crossed=0 sensors=[]" "$(head -1 "$T/sdr.out")"
check_contains "the repository changed: read again in the same session" \
	"sensors_crossed=1 sensors=[PSU Temp (upper critical)]" "$(sed -n 2p "$T/sdr.out")"

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
