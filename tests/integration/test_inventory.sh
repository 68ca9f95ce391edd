#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Inventory end to end through the CLI and curl: sites, zones, racks, nodes
# and pools created, listed, filtered, paginated, changed and deleted, and
# everything still there after a restart.
. "$(dirname "$0")/lib.sh"
start_daemon

bw_rc 0 site create ams1 --description "Amsterdam 1"
bw_rc 0 site create ams2 --paired-with ams1
check_eq "pairing" "ams1" "$(bw -o json site show ams2 | jq -r .paired_with)"
bw_rc 0 zone create ams1-z1 --site ams1
bw_rc 0 zone create ams1-z2 --site ams1
bw_rc 0 rack create r1 --zone ams1-z1 --fault-domain 1
bw_rc 0 rack create r2 --zone ams1-z2 --fault-domain 2
bw_rc 0 image create os --description "test OS"
os_tree "$T/tree"
ext4_image "$T/tree" "$T/os.img" 2M
bw_rc 0 image publish os 1.0 "$T/os.img"
bw_rc 0 pool create web --image os --auto-upgrade true --max-batch-percent 50
check_eq "pool defaults" "latest 20 20 300 true false" \
	"$(bw -o json pool show web | jq -r '[.image_version, .max_unhealthy_percent, .max_unhealthy_upgraded_percent, .health_timeout, .auto_rollback, .cross_zone] | join(" ")')"
check_eq "pool max_per_fault_domain defaults to none" "null" "$(bw -o json pool show web | jq -c .max_per_fault_domain)"

# Five nodes over two zones, three update domains, a fault domain per rack.
for i in 1 2 3 4 5; do
	rack=r$(((i + 1) / 3 + 1))
	[ $i -le 2 ] && rack=r1
	[ $i -gt 2 ] && rack=r2
	bw_rc 0 node create node$i --mac "52:54:00:AA:00:0$i" --rack $rack --pool web --update-domain $((i % 3)) \
		--bmc-driver ipmi --bmc-address 127.0.0.1 --bmc-port 90${i}3 --bmc-username admin \
		--bmc-password-file <(echo "pw-$i") --data-disks /dev/vdb
done
check_eq "MAC stored lowercase" "52:54:00:aa:00:03" "$(bw -o json node show node3 | jq -r .mac)"
check_eq "zone taken from the rack" "ams1-z2" "$(bw -o json node show node3 | jq -r .zone)"
check_eq "fault domain taken from the rack" "2" "$(bw -o json node show node4 | jq -r .fault_domain)"
check_eq "node found by MAC" "node2" "$(bw -o json node show 52-54-00-aa-00-02 | jq -r .name)"

bw_rc 0 node list
check_eq "table lists every node" "6" "$(wc -l <<<"$OUT")"
check_contains "table header" "UPDATE DOMAIN" "$OUT"
check_eq "filter by zone" "node3 node4 node5" "$(bw -o json node list --zone ams1-z2 | jq -r '[.[].name] | join(" ")')"
check_eq "filter by update domain" "node3" "$(bw -o json node list --update-domain 0 | jq -r '[.[].name] | join(" ")')"
check_eq "filter by two fields" "node4" "$(bw -o json node list --zone ams1-z2 --update-domain 1 | jq -r '[.[].name] | join(" ")')"
api_expect 422 invalid_reference GET "/api/v1/nodes?zone=nowhere"
api_expect 400 unknown_parameter GET "/api/v1/nodes?colour=red"

# Keyset pagination: pages of two, "next" until null.
api GET "/api/v1/nodes?limit=2"
check_eq "page 1" "node1 node2" "$(jq -r '[.items[].name] | join(" ")' <<<"$BODY")"
next=$(jq -r .next <<<"$BODY")
api GET "/api/v1/nodes?limit=2&after=$next"
check_eq "page 2" "node3 node4" "$(jq -r '[.items[].name] | join(" ")' <<<"$BODY")"
next=$(jq -r .next <<<"$BODY")
api GET "/api/v1/nodes?limit=2&after=$next"
check_eq "page 3" "node5 null" "$(jq -r '[.items[].name] | join(" ")' <<<"$BODY") $(jq -r .next <<<"$BODY")"
api_expect 400 invalid_parameter GET "/api/v1/nodes?limit=0"
api_expect 400 invalid_parameter GET "/api/v1/nodes?limit=100000"
check_eq "CLI --limit gives one page" "2" "$(bw -o json node list --limit 2 | jq length)"
bw_rc 2 node list --limit none
check_contains "node changes logged with the node as context" "node=node2 node node2 created by token admin" "$(cat "$T/daemon.log")"

# Changes: PATCH only what is given.
bw_rc 0 node set node1 --update-domain 7 --os-disk /dev/vda
check_eq "set changes the field" "7 /dev/vda ipmi" "$(bw -o json node show node1 | jq -r '"\(.update_domain) \(.os_disk) \(.bmc_driver)"')"
bw_rc 0 node set node1 --pool ''
check_eq "pool cleared" "null" "$(bw -o json node show node1 | jq -c .pool)"
bw_rc 0 pool set web --max-per-fault-domain 1 --health-timeout 120
check_eq "pool policy changed" "1 120" "$(bw -o json pool show web | jq -r '"\(.max_per_fault_domain) \(.health_timeout)"')"
bw_rc 0 pool set web --max-per-fault-domain none
check_eq "pool cap removed" "null" "$(bw -o json pool show web | jq -c .max_per_fault_domain)"
bw_rc 0 pool set web --image-version 1.0
check_eq "pool pinned" "1.0" "$(bw -o json pool show web | jq -r .image_version)"

# Deleting what is still used is refused; the rest goes.
bw_rc 5 zone delete ams1-z1
check_contains "in use message" "still in use" "$ERR"
bw_rc 5 image delete-version os 1.0
check_contains "pinned version" "pool web is pinned" "$ERR"
bw_rc 0 node delete node1
bw_rc 3 node show node1
bw_rc 3 node delete node1

# A restart keeps everything.
before=$(for r in sites zones racks nodes pools images; do bw -o json "${r%s}" list; done)
stop_daemon
start_daemon
after=$(for r in sites zones racks nodes pools images; do bw -o json "${r%s}" list; done)
check_eq "restart keeps all data" "$before" "$after"
check_eq "password still set after restart" "true" "$(bw -o json node show node2 | jq -r .bmc_password_set)"
stop_daemon
finish
