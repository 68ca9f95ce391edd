#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Every bad input of the foundation gets a 4xx with a stable code and a
# message naming what was wrong, and leaves the store (and the image files)
# exactly as they were: each case compares a full dump before and after.
. "$(dirname "$0")/lib.sh"
start_daemon

bw_rc 0 site create s1
bw_rc 0 zone create z1 --site s1
bw_rc 0 image create os
os_tree "$T/tree"
ext4_image "$T/tree" "$T/os.img" 2M
bw_rc 0 image publish os 1 "$T/os.img"
bw_rc 0 pool create web --image os
bw_rc 0 node create n1 --mac 52:54:00:00:00:01 --zone z1 --pool web
VIEWER=$(bw -q token create watcher --role viewer)
OPERATOR=$(bw -q token create ops --role operator)
H=(-H "Content-Type: application/json")

case_json() { # case_json STATUS CODE FIELD METHOD PATH BODY
	local status=$1 code=$2 field=$3 method=$4 path=$5 body=$6
	snapshot
	api_expect "$status" "$code" "$method" "$path" "${H[@]}" --data-binary "$body"
	if [ -n "$field" ]; then
		check_eq "$method $path field" "$field" "$(jq -r '.error.field // empty' <<<"$BODY")"
		check_contains "$method $path message names the field" "$field" "$(jq -r .error.message <<<"$BODY")"
	fi
	check_unchanged "$method $path $body"
}

# Malformed and oversized JSON.
case_json 400 bad_json "" POST /api/v1/nodes '{"name": "n2", "mac": '
case_json 400 bad_json "" POST /api/v1/nodes '["not", "an", "object"]'
case_json 400 bad_json "" POST /api/v1/nodes '{"name":"n2","name":"n3","mac":"52:54:00:00:00:02"}'
case_json 400 bad_json "" POST /api/v1/nodes ''
big=$(head -c 100000 /dev/zero | tr '\0' 'x')
case_json 413 body_too_large "" POST /api/v1/sites "{\"name\":\"s2\",\"description\":\"$big\"}"
# The same without a Content-Length: refused once the limit is crossed.
H=(-H "Content-Type: application/json" -H "Transfer-Encoding: chunked")
case_json 413 body_too_large "" POST /api/v1/sites "{\"name\":\"s2\",\"description\":\"$big\"}"
H=(-H "Content-Type: application/json")
# Unknown, read-only, immutable and missing fields; wrong types.
case_json 400 unknown_field colour POST /api/v1/nodes '{"name":"n2","mac":"52:54:00:00:00:02","colour":"red"}'
case_json 400 read_only_field state POST /api/v1/nodes '{"name":"n2","mac":"52:54:00:00:00:02","state":"active"}'
case_json 400 immutable_field name PATCH /api/v1/nodes/n1 '{"name":"renamed"}'
case_json 400 missing_field mac POST /api/v1/nodes '{"name":"n2"}'
case_json 400 wrong_type update_domain POST /api/v1/nodes '{"name":"n2","mac":"52:54:00:00:00:02","update_domain":"3"}'
# Duplicates and out-of-range values.
case_json 409 duplicate mac POST /api/v1/nodes '{"name":"n2","mac":"52:54:00:00:00:01"}'
case_json 409 duplicate name POST /api/v1/nodes '{"name":"n1","mac":"52:54:00:00:00:09"}'
case_json 422 out_of_range update_domain POST /api/v1/nodes '{"name":"n2","mac":"52:54:00:00:00:02","update_domain":20}'
case_json 422 out_of_range update_domain PATCH /api/v1/nodes/n1 '{"update_domain":-1}'
case_json 422 out_of_range max_batch_percent POST /api/v1/pools '{"name":"p2","image":"os","max_batch_percent":0}'
case_json 422 out_of_range max_unhealthy_percent PATCH /api/v1/pools/web '{"max_unhealthy_percent":101}'
case_json 422 out_of_range health_timeout PATCH /api/v1/pools/web '{"health_timeout":1}'
case_json 422 invalid_value mac POST /api/v1/nodes '{"name":"n2","mac":"01:00:5e:00:00:01"}'
case_json 422 invalid_value name POST /api/v1/sites '{"name":"Bad Name"}'
case_json 422 invalid_reference zone POST /api/v1/nodes '{"name":"n2","mac":"52:54:00:00:00:02","zone":"z9"}'
case_json 422 invalid_reference image_version PATCH /api/v1/pools/web '{"image_version":"9.9"}'
case_json 422 missing_field bmc_address PATCH /api/v1/nodes/n1 '{"bmc_driver":"redfish"}'
case_json 422 invalid_value health_probe PATCH /api/v1/pools/web '{"health_probe":"ftp://x"}'
# Unknown routes and methods.
snapshot
api_expect 404 not_found GET /api/v1/widgets
api_expect 404 not_found GET /api/v1/nodes/nope
api_expect 405 method_not_allowed PUT /api/v1/nodes
check_unchanged "unknown routes"

# Missing, wrong, and insufficient tokens.
snapshot
BODY=$(curl -sS -w '\n%{http_code}' -X POST "${H[@]}" -d '{"name":"s9"}' "$URL/api/v1/sites")
check_eq "no token" "401" "${BODY##*$'\n'}"
check_eq "no token code" "unauthorized" "$(jq -r .error.code <<<"${BODY%$'\n'*}")"
TOKEN=bw_000000000000000000000000000000000000000000000000 api_expect 401 unauthorized POST /api/v1/sites "${H[@]}" -d '{"name":"s9"}'
TOKEN=garbage api_expect 401 unauthorized GET /api/v1/sites
TOKEN=$VIEWER api_expect 403 forbidden POST /api/v1/sites "${H[@]}" -d '{"name":"s9"}'
TOKEN=$VIEWER api_expect 403 forbidden DELETE /api/v1/nodes/n1
TOKEN=$OPERATOR api_expect 403 forbidden POST /api/v1/tokens "${H[@]}" -d '{"name":"t9","role":"admin"}'
TOKEN=$OPERATOR api_expect 403 forbidden GET /api/v1/tokens
check_unchanged "refused tokens"
TOKEN=$VIEWER api_expect 200 "" GET /api/v1/nodes
TOKEN=$OPERATOR api_expect 201 "" POST /api/v1/sites "${H[@]}" -d '{"name":"s9"}'

# Image uploads: wrong checksum, wrong format, missing filename, empty body,
# duplicate version, unknown image: nothing is published, no file is left.
head -c 3000000 /dev/urandom >"$T/big.img"
gzip -1 -c "$T/big.img" >"$T/big.img.gz"
upload() { # upload STATUS CODE PATH FILE
	snapshot
	api_expect "$1" "$2" PUT "$3" -H "Content-Type: application/octet-stream" --data-binary "@$4"
	check_unchanged "upload $3"
}
upload 422 checksum_mismatch "/api/v1/images/os/versions/2?filename=x.img&sha256=$(printf '0%.0s' $(seq 64))" "$T/big.img"
upload 422 format_mismatch "/api/v1/images/os/versions/2?filename=x.img.zst" "$T/big.img.gz"
upload 422 format_mismatch "/api/v1/images/os/versions/2?filename=x.tar" "$T/big.img"
upload 422 format_mismatch "/api/v1/images/os/versions/2?filename=x.img" "$T/big.img.gz"
upload 422 invalid_value "/api/v1/images/os/versions/2?filename=x.iso" "$T/big.img"
upload 400 missing_parameter "/api/v1/images/os/versions/2" "$T/big.img"
upload 400 empty_upload "/api/v1/images/os/versions/2?filename=x.img" /dev/null
upload 409 duplicate "/api/v1/images/os/versions/1?filename=x.img" "$T/big.img"
upload 404 not_found "/api/v1/images/nope/versions/1?filename=x.img" "$T/big.img"
upload 422 invalid_value "/api/v1/images/os/versions/latest?filename=x.img" "$T/big.img"
bw_rc 6 image publish os 2 "$T/big.img" --sha256 "$(printf 'a%.0s' $(seq 64))"
check_contains "CLI names the checksum" "sha256" "$ERR"

# An upload cut off halfway: the client goes away; nothing is published and
# the temporary file is removed.
head -c 60000000 /dev/urandom >"$T/huge.img"
snapshot
slow_upload os 3 "$T/huge.img"
check_eq "upload in progress" "1" "$(uploads_in_progress os)"
kill "$UPLOAD_PID"
wait "$UPLOAD_PID" 2>/dev/null || true
for _ in $(seq 100); do
	[ "$(uploads_in_progress os)" -eq 0 ] && break
	sleep 0.05
done
check_unchanged "cut-off upload"
check_contains "cut-off upload is logged" "upload of version 3 cut off" "$(cat "$T/daemon.log")"
api_expect 404 not_found GET /api/v1/images/os/versions/3

# Bad CLI input is caught before anything is sent.
bw_rc 2 node create n3 --mac 52:54:00:00:00:03 --update-domain three
bw_rc 2 node create n3 --colour red
bw_rc 2 node set n1 --name other
bw_rc 2 bogus list
bw_rc 2 -o yaml node list
stop_daemon
finish
