// SPDX-License-Identifier: Apache-2.0
/*
 * Schema migrations. Migration i brings the database from user_version i to
 * i+1 and runs in one transaction with the version bump; never edit one that
 * has shipped, append a new one. Column names follow lib/model.h: a field is
 * a column of the same name, "<name>_id" for references and "<name>_sealed"
 * for secrets (test_store checks that every model field has its column).
 */
#include "store-internal.h"

static const char schema_v1[] =
	"CREATE TABLE sites ("
	" id INTEGER PRIMARY KEY,"
	" name TEXT NOT NULL UNIQUE,"
	" description TEXT NOT NULL DEFAULT '',"
	" paired_with_id INTEGER REFERENCES sites(id),"
	" created_at INTEGER NOT NULL,"
	" updated_at INTEGER NOT NULL);"

	"CREATE TABLE zones ("
	" id INTEGER PRIMARY KEY,"
	" name TEXT NOT NULL UNIQUE,"
	" site_id INTEGER NOT NULL REFERENCES sites(id),"
	" description TEXT NOT NULL DEFAULT '',"
	" created_at INTEGER NOT NULL,"
	" updated_at INTEGER NOT NULL);"

	"CREATE TABLE racks ("
	" id INTEGER PRIMARY KEY,"
	" name TEXT NOT NULL UNIQUE,"
	" zone_id INTEGER NOT NULL REFERENCES zones(id),"
	" fault_domain INTEGER,"
	" description TEXT NOT NULL DEFAULT '',"
	" created_at INTEGER NOT NULL,"
	" updated_at INTEGER NOT NULL);"

	"CREATE TABLE images ("
	" id INTEGER PRIMARY KEY,"
	" name TEXT NOT NULL UNIQUE,"
	" description TEXT NOT NULL DEFAULT '',"
	" created_at INTEGER NOT NULL,"
	" updated_at INTEGER NOT NULL);"

	"CREATE TABLE image_versions ("
	" id INTEGER PRIMARY KEY,"
	" image_id INTEGER NOT NULL REFERENCES images(id),"
	" version TEXT NOT NULL,"
	" format TEXT NOT NULL,"
	" compression TEXT NOT NULL,"
	" size INTEGER NOT NULL,"
	" sha256 TEXT NOT NULL,"
	" exclude_from_latest INTEGER NOT NULL DEFAULT 0,"
	" artifact TEXT NOT NULL,"
	" created_at INTEGER NOT NULL,"
	" updated_at INTEGER NOT NULL,"
	" UNIQUE (image_id, version));"

	"CREATE TABLE pools ("
	" id INTEGER PRIMARY KEY,"
	" name TEXT NOT NULL UNIQUE,"
	" image_id INTEGER NOT NULL REFERENCES images(id),"
	" image_version TEXT NOT NULL DEFAULT 'latest',"
	" auto_upgrade INTEGER NOT NULL,"
	" auto_rollback INTEGER NOT NULL,"
	" require_signed INTEGER NOT NULL,"
	" max_batch_percent INTEGER NOT NULL,"
	" max_unhealthy_percent INTEGER NOT NULL,"
	" max_unhealthy_upgraded_percent INTEGER NOT NULL,"
	" pause_between_batches INTEGER NOT NULL,"
	" max_per_fault_domain INTEGER,"
	" prioritize_unhealthy INTEGER NOT NULL,"
	" cross_zone INTEGER NOT NULL,"
	" health_timeout INTEGER NOT NULL,"
	" heartbeat_timeout INTEGER NOT NULL,"
	" health_probe TEXT NOT NULL DEFAULT '',"
	" created_at INTEGER NOT NULL,"
	" updated_at INTEGER NOT NULL);"

	"CREATE TABLE nodes ("
	" id INTEGER PRIMARY KEY,"
	" name TEXT NOT NULL UNIQUE,"
	" mac TEXT NOT NULL UNIQUE,"
	" zone_id INTEGER REFERENCES zones(id),"
	" rack_id INTEGER REFERENCES racks(id),"
	" pool_id INTEGER REFERENCES pools(id),"
	" fault_domain INTEGER,"
	" update_domain INTEGER NOT NULL,"
	" bmc_driver TEXT NOT NULL,"
	" bmc_address TEXT NOT NULL DEFAULT '',"
	" bmc_port INTEGER,"
	" bmc_username TEXT NOT NULL DEFAULT '',"
	" bmc_password_sealed BLOB,"
	" bmc_insecure_tls INTEGER NOT NULL,"
	" os_disk TEXT NOT NULL DEFAULT '',"
	" data_disks TEXT NOT NULL DEFAULT '[]',"
	" state TEXT NOT NULL,"
	" created_at INTEGER NOT NULL,"
	" updated_at INTEGER NOT NULL);"
	"CREATE INDEX nodes_pool ON nodes(pool_id);"
	"CREATE INDEX nodes_zone ON nodes(zone_id);"
	"CREATE INDEX nodes_rack ON nodes(rack_id);"

	"CREATE TABLE tokens ("
	" id INTEGER PRIMARY KEY,"
	" name TEXT NOT NULL UNIQUE,"
	" role TEXT NOT NULL,"
	" prefix TEXT NOT NULL,"
	" hash BLOB NOT NULL UNIQUE,"
	" expires_at INTEGER,"
	" last_used_at INTEGER,"
	" created_at INTEGER NOT NULL,"
	" updated_at INTEGER NOT NULL);"

	"CREATE TABLE events ("
	" id INTEGER PRIMARY KEY,"
	" ts INTEGER NOT NULL,"
	" node_id INTEGER REFERENCES nodes(id) ON DELETE CASCADE,"
	" rollout_id INTEGER,"
	" kind TEXT NOT NULL,"
	" message TEXT NOT NULL);"
	"CREATE INDEX events_node ON events(node_id, id);";

/* Boot services: DHCP leases and reservations, discovered machines, agent tokens. */
static const char schema_v2[] =
	"ALTER TABLE nodes ADD COLUMN ip_address TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE nodes ADD COLUMN maintenance INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE nodes ADD COLUMN installed_image_id INTEGER REFERENCES images(id);"
	"ALTER TABLE nodes ADD COLUMN installed_version TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE nodes ADD COLUMN active_slot TEXT NOT NULL DEFAULT 'none';"
	"CREATE UNIQUE INDEX nodes_ip ON nodes(ip_address) WHERE ip_address != '';"

	"CREATE TABLE leases ("
	" id INTEGER PRIMARY KEY,"
	" mac TEXT NOT NULL UNIQUE,"
	" ip TEXT NOT NULL UNIQUE,"
	" state TEXT NOT NULL,"
	" hostname TEXT NOT NULL DEFAULT '',"
	" expires_at INTEGER NOT NULL,"
	" updated_at INTEGER NOT NULL);"

	"CREATE TABLE discovered ("
	" id INTEGER PRIMARY KEY,"
	" mac TEXT NOT NULL UNIQUE,"
	" ip TEXT NOT NULL DEFAULT '',"
	" arch TEXT NOT NULL DEFAULT '',"
	" vendor_class TEXT NOT NULL DEFAULT '',"
	" uuid TEXT NOT NULL DEFAULT '',"
	" hostname TEXT NOT NULL DEFAULT '',"
	" first_seen INTEGER NOT NULL,"
	" last_seen INTEGER NOT NULL);"

	"CREATE TABLE agent_tokens ("
	" id INTEGER PRIMARY KEY,"
	" node_id INTEGER NOT NULL REFERENCES nodes(id) ON DELETE CASCADE,"
	" hash BLOB NOT NULL UNIQUE,"
	" purpose TEXT NOT NULL,"
	" created_at INTEGER NOT NULL,"
	" expires_at INTEGER NOT NULL,"
	" used_at INTEGER);";

/* Imaging: manifests of versions, agent tasks, pending slots and heartbeats. */
static const char schema_v3[] =
	"ALTER TABLE image_versions ADD COLUMN content_size INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE image_versions ADD COLUMN cmdline TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE image_versions ADD COLUMN signing_key TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE nodes ADD COLUMN pending_slot TEXT NOT NULL DEFAULT 'none';"
	"ALTER TABLE nodes ADD COLUMN pending_image_id INTEGER REFERENCES images(id);"
	"ALTER TABLE nodes ADD COLUMN pending_version TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE nodes ADD COLUMN health TEXT NOT NULL DEFAULT 'Unknown';"
	"ALTER TABLE nodes ADD COLUMN last_heartbeat INTEGER;"

	"CREATE TABLE tasks ("
	" id INTEGER PRIMARY KEY,"
	" node_id INTEGER NOT NULL REFERENCES nodes(id) ON DELETE CASCADE,"
	" kind TEXT NOT NULL,"
	" image_id INTEGER REFERENCES images(id),"
	" version TEXT NOT NULL,"
	" slot TEXT NOT NULL,"
	" wipe INTEGER NOT NULL,"
	" state TEXT NOT NULL,"
	" stage TEXT NOT NULL DEFAULT '',"
	" bytes_done INTEGER NOT NULL DEFAULT 0,"
	" bytes_total INTEGER NOT NULL DEFAULT 0,"
	" sha256 TEXT NOT NULL DEFAULT '',"
	" reason TEXT NOT NULL DEFAULT '',"
	" created_at INTEGER NOT NULL,"
	" updated_at INTEGER NOT NULL,"
	" finished_at INTEGER);"
	"CREATE INDEX tasks_node ON tasks(node_id, id);"
	"ALTER TABLE agent_tokens ADD COLUMN task_id INTEGER REFERENCES tasks(id) ON DELETE CASCADE;";

/* v4: how to reach a node's BMC. */
static const char schema_v4[] =
	"ALTER TABLE nodes ADD COLUMN bmc_cipher_suite TEXT NOT NULL DEFAULT '3';"
	"ALTER TABLE nodes ADD COLUMN bmc_scheme TEXT NOT NULL DEFAULT 'https';";

/*
 * v5: rollouts (orchestrator state: server/orch/orch.h) and each node's part
 * in one; nodes count reimages failed in a row and can be quarantined.
 * At most one rollout per pool rolls forward (partial unique index).
 */
static const char schema_v5[] =
	"CREATE TABLE rollouts ("
	" id INTEGER PRIMARY KEY,"
	" pool_id INTEGER NOT NULL REFERENCES pools(id) ON DELETE CASCADE,"
	" image_id INTEGER NOT NULL REFERENCES images(id),"
	" version TEXT NOT NULL,"
	" status TEXT NOT NULL,"
	" error_code TEXT NOT NULL DEFAULT '',"
	" message TEXT NOT NULL DEFAULT '',"
	" started_by TEXT NOT NULL,"
	" started_by_name TEXT NOT NULL DEFAULT '',"
	" cancel_requested INTEGER NOT NULL DEFAULT 0,"
	" batches INTEGER NOT NULL DEFAULT 0,"
	" batch_started_at INTEGER NOT NULL DEFAULT 0,"
	" batch_done_at INTEGER NOT NULL DEFAULT 0,"
	" batch_seconds INTEGER NOT NULL DEFAULT 0,"
	" canary_done INTEGER NOT NULL DEFAULT 0,"
	" bake_until INTEGER NOT NULL DEFAULT 0,"
	" started_at INTEGER NOT NULL,"
	" completed_at INTEGER NOT NULL DEFAULT 0);"
	"CREATE UNIQUE INDEX rollouts_running ON rollouts(pool_id) WHERE status = 'RollingForward';"
	"CREATE INDEX rollouts_pool ON rollouts(pool_id, id);"

	"CREATE TABLE rollout_nodes ("
	" rollout_id INTEGER NOT NULL REFERENCES rollouts(id) ON DELETE CASCADE,"
	" node_id INTEGER NOT NULL REFERENCES nodes(id) ON DELETE CASCADE,"
	" phase TEXT NOT NULL,"
	" batch INTEGER NOT NULL DEFAULT 0,"
	" phase_at INTEGER NOT NULL DEFAULT 0,"
	" started_at INTEGER NOT NULL DEFAULT 0,"
	" written_at INTEGER NOT NULL DEFAULT 0,"
	" finished_at INTEGER NOT NULL DEFAULT 0,"
	" prev_slot TEXT NOT NULL DEFAULT 'none',"
	" prev_image_id INTEGER,"
	" prev_version TEXT NOT NULL DEFAULT '',"
	" reason TEXT NOT NULL DEFAULT '',"
	" PRIMARY KEY (rollout_id, node_id)) WITHOUT ROWID;"

	"ALTER TABLE nodes ADD COLUMN reimage_failures INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE nodes ADD COLUMN quarantined INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE nodes ADD COLUMN hw_model TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE pools ADD COLUMN canary INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE pools ADD COLUMN canary_bake INTEGER NOT NULL DEFAULT 600;"
	"ALTER TABLE pools ADD COLUMN maintenance_windows TEXT NOT NULL DEFAULT '';";

/*
 * v6: extensions (DESIGN.md, "Extensions"): the catalog, what each pool
 * runs, every run on every node with its (bounded) output; custom data of
 * pools and nodes for the NoCloud metadata; how to reach a node's SSH and
 * the host key its agent reported; rollouts of one extension.
 */
static const char schema_v6[] =
	"CREATE TABLE extensions ("
	" id INTEGER PRIMARY KEY,"
	" name TEXT NOT NULL UNIQUE,"
	" description TEXT NOT NULL DEFAULT '',"
	" created_at INTEGER NOT NULL,"
	" updated_at INTEGER NOT NULL);"

	"CREATE TABLE extension_versions ("
	" id INTEGER PRIMARY KEY,"
	" extension_id INTEGER NOT NULL REFERENCES extensions(id),"
	" version TEXT NOT NULL,"
	" entry TEXT NOT NULL DEFAULT 'run',"
	" size INTEGER NOT NULL,"
	" files INTEGER NOT NULL,"
	" sha256 TEXT NOT NULL,"
	" artifact TEXT NOT NULL,"
	" created_at INTEGER NOT NULL,"
	" updated_at INTEGER NOT NULL,"
	" UNIQUE (extension_id, version));"

	"CREATE TABLE pool_extensions ("
	" id INTEGER PRIMARY KEY,"
	" pool_id INTEGER NOT NULL REFERENCES pools(id) ON DELETE CASCADE,"
	" name TEXT NOT NULL REFERENCES extensions(name),"
	" version TEXT NOT NULL,"
	" previous_version TEXT NOT NULL DEFAULT '',"
	" provision_after TEXT NOT NULL DEFAULT '',"
	" settings TEXT NOT NULL DEFAULT '{}',"
	" auto_upgrade INTEGER NOT NULL DEFAULT 0,"
	" timeout INTEGER NOT NULL DEFAULT 600,"
	" failed_version TEXT NOT NULL DEFAULT '',"
	" retry_after INTEGER,"
	" created_at INTEGER NOT NULL,"
	" updated_at INTEGER NOT NULL,"
	" UNIQUE (pool_id, name));"

	"CREATE TABLE extension_runs ("
	" id INTEGER PRIMARY KEY,"
	" node_id INTEGER NOT NULL REFERENCES nodes(id) ON DELETE CASCADE,"
	" extension TEXT NOT NULL,"
	" version TEXT NOT NULL,"
	" rollout_id INTEGER,"
	" trigger TEXT NOT NULL,"
	" state TEXT NOT NULL,"
	" exit_status INTEGER,"
	" error TEXT NOT NULL DEFAULT '',"
	" stdout_bytes INTEGER NOT NULL DEFAULT 0,"
	" stderr_bytes INTEGER NOT NULL DEFAULT 0,"
	" truncated INTEGER NOT NULL DEFAULT 0,"
	" stdout BLOB,"
	" stderr BLOB,"
	" created_at INTEGER NOT NULL,"
	" started_at INTEGER,"
	" finished_at INTEGER);"
	"CREATE INDEX extension_runs_node ON extension_runs(node_id, extension, id);"
	"CREATE INDEX extension_runs_open ON extension_runs(state) WHERE state IN ('queued', 'running');"

	"CREATE TABLE custom_data ("
	" owner TEXT NOT NULL CHECK (owner IN ('pool', 'node')),"
	" owner_id INTEGER NOT NULL,"
	" data BLOB NOT NULL,"
	" updated_at INTEGER NOT NULL,"
	" PRIMARY KEY (owner, owner_id)) WITHOUT ROWID;"
	"CREATE TRIGGER custom_data_pool_gone AFTER DELETE ON pools BEGIN"
	" DELETE FROM custom_data WHERE owner = 'pool' AND owner_id = OLD.id; END;"
	"CREATE TRIGGER custom_data_node_gone AFTER DELETE ON nodes BEGIN"
	" DELETE FROM custom_data WHERE owner = 'node' AND owner_id = OLD.id; END;"

	"ALTER TABLE nodes ADD COLUMN ssh_user TEXT NOT NULL DEFAULT 'root';"
	"ALTER TABLE nodes ADD COLUMN ssh_port INTEGER NOT NULL DEFAULT 22;"
	"ALTER TABLE nodes ADD COLUMN ssh_host_key TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE nodes ADD COLUMN provision_after_ts INTEGER;"
	"ALTER TABLE rollouts ADD COLUMN extension TEXT NOT NULL DEFAULT '';";

const char *const store_migrations[] = {
	schema_v1,
	schema_v2,
	schema_v3,
	schema_v4,
	schema_v5,
	schema_v6,
};
const int store_n_migrations = (int)ARRAY_SIZE(store_migrations);
