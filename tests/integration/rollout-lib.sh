# SPDX-License-Identifier: Apache-2.0
# Shared by the rollout tests whose machines are simulated (test_rollout_crash,
# test_chaos); sourced after lib.sh. A machine has file-backed disks
# ($T/N/dev/vda, vdb) and runs the real agents: over and over, it asks
# bootwaved for its boot script and runs the reimage agent or sends a
# heartbeat, as a netbooting server does, and simply retries while bootwaved
# cannot be reached. Then the verdict on every rollout of a pool, through
# the API: every rollout finished, every node accounted for and running what
# its phase says, every rule held in every batch. The test defines $NODES,
# $AGENT and mac_of NODE.

# A machine may run in a network namespace of its own (MACHINE_NS[N]) and
# reach bootwaved at another address (MACHINE_URL[N]); by default it runs
# where bootwaved does (NSX) and uses $URL.
declare -A MACHINE_NS MACHINE_URL
MACHINE_PIDS=()

# machine_boot N: one boot of machine N. The reimage agent's pid is in
# $T/N/agent.pid while it runs (machine_power_off pulls its plug). Forks
# little: twelve machines booting in a loop must leave the CPU to bootwaved.
machine_boot() {
	local n=$1 mac script pid url=${MACHINE_URL[$1]:-$URL} w cmdline=
	local nsx=("${NSX[@]}") -
	set -f # the script's words are split below, never globbed
	[ -n "${MACHINE_NS[$n]:-}" ] && nsx=(ip netns exec "${MACHINE_NS[$n]}")
	mac=$(mac_of "$n")
	script=$("${nsx[@]}" curl -sS --max-time 5 "$url/boot/${mac//:/-}.ipxe" 2>/dev/null) || return 0
	for w in $script; do [[ $w == bootwave.*=* ]] && cmdline+="$w "; done
	echo "$cmdline" >"$T/$n/cmdline"
	if [[ $cmdline == *bootwave.token=* ]]; then
		# (ip netns exec execs the agent: $! is the agent itself.)
		"${nsx[@]}" "$AGENT" --cmdline "$T/$n/cmdline" --devroot "$T/$n" --no-reboot --retry 5 reimage \
			>>"$T/$n/agent.log" 2>&1 &
		pid=$!
		echo "$pid" >"$T/$n/agent.pid"
		{ wait "$pid"; } 2>/dev/null || true # (killed when powered off: no "Killed" line)
		rm -f "$T/$n/agent.pid"
	elif [[ $cmdline == *bootwave.hbtoken=* ]]; then
		"${nsx[@]}" "$AGENT" --cmdline "$T/$n/cmdline" --probe true --grace 0 --once heartbeat \
			>>"$T/$n/hb.log" 2>&1 || true
	fi
}

# machines_start: every machine of $NODES boots again and again, each on its
# own, until machines_stop; not while $T/N/off exists (powered off).
machines_start() {
	local n
	rm -f "$T/stop"
	for n in $NODES; do
		(
			while [ ! -e "$T/stop" ]; do
				[ -e "$T/$n/off" ] || machine_boot "$n"
				sleep 0.5
			done
		) &
		MACHINE_PIDS+=($!)
	done
}

# machines_stop: each machine ends its current boot, then stops.
machines_stop() {
	local p
	touch "$T/stop"
	for p in "${MACHINE_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	MACHINE_PIDS=()
}

# machines_kill: for a trap: the machines and their agents, at once.
machines_kill() {
	local p n
	touch "$T/stop"
	for p in "${MACHINE_PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	for n in $NODES; do
		[ -s "$T/$n/agent.pid" ] && kill -9 "$(cat "$T/$n/agent.pid")" 2>/dev/null || true
	done
	return 0
}

# machine_power_off N: the plug pulled: its agent, if one runs, dies on
# the spot (whatever it was writing stays half-written) and it boots no
# more until machine_power_on N. Prints the pid it killed, if any.
machine_power_off() {
	local pid
	touch "$T/$1/off"
	pid=$(cat "$T/$1/agent.pid" 2>/dev/null || true)
	if [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; then echo "$pid"; fi
	return 0
}
machine_power_on() { rm -f "$T/$1/off"; }

# machines_disks SIZE: each machine of $NODES gets a blank OS disk of SIZE
# ($T/N/dev/vda) and a 4 MiB ext4 data disk holding a file (vdb), whose
# sha256 is kept in $T/N/data.sum.
machines_disks() {
	local n
	for n in $NODES; do
		mkdir -p "$T/$n/dev" "$T/$n/files"
		truncate -s "$1" "$T/$n/dev/vda"
		head -c 200000 /dev/urandom >"$T/$n/files/db.bin"
		ext4_image "$T/$n/files" "$T/$n/dev/vdb" 4M
		sha256sum <"$T/$n/dev/vdb" | cut -d' ' -f1 >"$T/$n/data.sum"
	done
}

# rollout_fleet: image os with v1 ($T/v1.tar.gz) published, site s1 with
# zones z1 and z2, pool p1 on the latest os (auto upgrade, batches of 25%,
# one node per fault domain) and every machine of $NODES in it: the first
# half in z1, the rest in z2, update domains 0-2 in turn, fault domains by
# pairs. A test may define node_args N to add options to N's node create.
rollout_fleet() {
	local n i=0 half extra
	half=$(($(wc -w <<<"$NODES") / 2))
	bw -q image create os
	bw_rc 0 image publish os v1 "$T/v1.tar.gz"
	bw -q site create s1
	bw -q zone create z1 --site s1
	bw -q zone create z2 --site s1
	bw_rc 0 pool create p1 --image os --image-version latest --auto-upgrade true --max-batch-percent 25 \
		--max-per-fault-domain 1 --health-timeout 120 --heartbeat-timeout 600
	for n in $NODES; do
		extra=()
		declare -F node_args >/dev/null && read -ra extra <<<"$(node_args "$n")"
		bw_rc 0 node create "$n" --mac "$(mac_of "$n")" --os-disk /dev/vda --data-disks /dev/vdb --pool p1 \
			--zone "z$((i / half + 1))" --update-domain $((i % 3)) --fault-domain $((i / 2)) "${extra[@]}"
		i=$((i + 1))
	done
}

# rollout_verdict POOL LAST_VERSION MAX_BATCH: every rollout of POOL
# finished and every node of $NODES is accounted for in each; the counts add
# up; each batch held at most MAX_BATCH nodes of one update domain and one
# zone, at most one per fault domain, and started after the previous one
# ended; in the rollout of LAST_VERSION each node runs what its phase says.
# Sets $HIST to the history (JSON).
rollout_verdict() {
	local pool=$1 last=$2 max=$3 id R ver b members uds zones fds m x n ph inst nn
	nn=$(wc -w <<<"$NODES")
	bw_rc 0 -o json rollout history "$pool" --limit 0 --days 0
	HIST=$OUT
	check_eq "every rollout finished" "" "$(jq -r '.[] | select(.status == "RollingForward") | .id' <<<"$HIST")"
	for id in $(jq -r '.[].id' <<<"$HIST"); do
		api GET "/api/v1/rollouts/$id"
		R=$BODY
		ver=$(jq -r .version <<<"$R")
		# A rollout stopped by a rule (Faulted) or cancelled leaves the rest pending, untouched.
		check_eq "rollout $id ($ver): every node accounted for" "$nn" \
			"$(jq '(if .status == "Completed" then [] else ["pending"] end) as $p |
				[.nodes[] | select(.phase | IN("succeeded", "skipped", "failed", "rolled-back", "rollback-failed", $p[]))] | length' <<<"$R")"
		check_eq "rollout $id: counts add up" "$nn" \
			"$(jq '.progress.successful + .progress.failed + .progress.skipped + (if .status == "Completed" then 0 else .progress.pending end)' <<<"$R")"
		for b in $(jq -r '[.nodes[] | select(.batch > 0) | .batch] | unique | .[]' <<<"$R"); do
			members=$(jq -r --argjson b "$b" '[.nodes[] | select(.batch == $b) | .node] | join(" ")' <<<"$R")
			uds= zones= fds=
			for m in $members; do
				x=$(bw -o json node show "$m")
				uds+="$(jq -r .update_domain <<<"$x")\n" zones+="$(jq -r .zone <<<"$x")\n" fds+="$(jq -r .fault_domain <<<"$x")\n"
			done
			check_eq "rollout $id batch $b: at most $max nodes" "yes" \
				"$([ "$(wc -w <<<"$members")" -le "$max" ] && echo yes || echo "no: $members")"
			check_eq "rollout $id batch $b: one update domain" "1" "$(printf "$uds" | sort -u | wc -l)"
			check_eq "rollout $id batch $b: one zone" "1" "$(printf "$zones" | sort -u | wc -l)"
			check_eq "rollout $id batch $b: one node per fault domain" "0" "$(printf "$fds" | sort | uniq -d | wc -l)"
		done
		# One batch at a time: batch b+1 started after every node of batch b finished.
		check_eq "rollout $id: batches never overlap" "" "$(jq -r '
			[.nodes[] | select(.batch > 0)] | group_by(.batch) |
			[range(1; length) as $i | select((.[$i - 1] | map(.finished_at) | max) > (.[$i] | map(.started_at) | min)) | $i]
			| map(tostring) | join(" ")' <<<"$R")"
		# What each node runs agrees with its phase, for the last rollout.
		if [ "$ver" = "$last" ]; then
			for n in $NODES; do
				ph=$(jq -r --arg n "$n" '.nodes[] | select(.node == $n) | .phase' <<<"$R")
				inst=$(bw -o json node show "$n" | jq -r .installed_version)
				case $ph in
				succeeded | skipped) check_eq "$n ($ph) runs $ver" "$ver" "$inst" ;;
				pending) check_eq "$n (pending: never touched) does not run $ver" "yes" \
					"$([ "$inst" != "$ver" ] && echo yes || echo "no: $inst")" ;;
				*) check_eq "$n ($ph) runs its previous version" \
					"$(jq -r --arg n "$n" '.nodes[] | select(.node == $n) | .previous_version' <<<"$R")" "$inst" ;;
				esac
			done
		fi
	done
}
