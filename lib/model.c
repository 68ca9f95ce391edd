// SPDX-License-Identifier: Apache-2.0
/*
 * The field tables of every resource: see model.h. Ranges and defaults here
 * are the contract documented in docs/api.md and DESIGN.md's policy table.
 */
#include "model.h"

#include <string.h>

#include "util.h"

#define MEMBER_SIZE(st, m) sizeof(((st *)0)->m)
#define F(st, m, t, fl, ...)                                                                       \
	{ .name = #m, .type = (t), .offset = offsetof(st, m), .size = MEMBER_SIZE(st, m),          \
	  .flags = (fl), __VA_ARGS__ }
#define ID(st) F(st, id, FT_INT, F_RO, .help = "numeric id")
#define TIMES(st)                                                                                  \
	F(st, created_at, FT_TIME, F_RO, .help = "creation time"),                                 \
	F(st, updated_at, FT_TIME, F_RO, .help = "last change")

static const char *const node_states[] = { "new",	  "provisioning", "active",
					   "reimaging",	  "waiting_health", "rolled_back",
					   "failed",	  "maintenance",  "quarantined",
					   NULL };
static const char *const slots[] = { "none", "a", "b", NULL };
static const char *const healths[] = { "Unknown", "Initializing", "Healthy", "Unhealthy", NULL };
static const char *const task_kinds[] = { "reimage", NULL };
static const char *const task_slots[] = { "a", "b", NULL };
static const char *const task_states[] = { "pending", "running", "succeeded", "failed", "cancelled", NULL };
static const char *const lease_states[] = { "bound", "released", "declined", NULL };
static const char *const bmc_drivers[] = { "none", "ipmi", "redfish", NULL };
static const char *const bmc_ciphers[] = { "3", "17", NULL };
static const char *const bmc_schemes[] = { "https", "http", NULL };
static const char *const roles[] = { "viewer", "operator", "admin", NULL };
static const char *const formats[] = { "tar", "raw", NULL };
static const char *const compressions[] = { "none", "gzip", "zstd", "xz", NULL };
static const char *const run_triggers[] = { "provision", "upgrade", "rollback", "manual", NULL };
static const char *const run_states[] = { "queued", "running", "succeeded", "failed", "skipped", NULL };

static const struct field site_fields[] = {
	ID(struct bw_site),
	F(struct bw_site, name, FT_NAME, F_REQUIRED | F_IMMUTABLE | F_LIST, .help = "site name"),
	F(struct bw_site, description, FT_TEXT, F_LIST, .help = "free text"),
	F(struct bw_site, paired_with, FT_REF, F_NULLABLE | F_LIST, .ref = &model_site,
	  .help = "paired site: never upgraded in the same phase"),
	TIMES(struct bw_site),
};

static const struct field zone_fields[] = {
	ID(struct bw_zone),
	F(struct bw_zone, name, FT_NAME, F_REQUIRED | F_IMMUTABLE | F_LIST, .help = "zone name (unique)"),
	F(struct bw_zone, site, FT_REF, F_REQUIRED | F_LIST, .ref = &model_site, .help = "site of the zone"),
	F(struct bw_zone, description, FT_TEXT, F_LIST, .help = "free text"),
	TIMES(struct bw_zone),
};

static const struct field rack_fields[] = {
	ID(struct bw_rack),
	F(struct bw_rack, name, FT_NAME, F_REQUIRED | F_IMMUTABLE | F_LIST, .help = "rack name (unique)"),
	F(struct bw_rack, zone, FT_REF, F_REQUIRED | F_LIST, .ref = &model_zone, .help = "zone of the rack"),
	F(struct bw_rack, fault_domain, FT_INT, F_NULLABLE | F_LIST, .min = 0, .max = 1023,
	  .def = INT_NULL, .help = "fault domain that nodes of this rack default to (0-1023)"),
	F(struct bw_rack, description, FT_TEXT, 0, .help = "free text"),
	TIMES(struct bw_rack),
};

static const struct field node_fields[] = {
	ID(struct bw_node),
	F(struct bw_node, name, FT_NAME, F_REQUIRED | F_IMMUTABLE | F_LIST, .help = "node name"),
	F(struct bw_node, mac, FT_MAC, F_REQUIRED | F_LIST, .help = "MAC of the provisioning NIC"),
	F(struct bw_node, zone, FT_REF, F_NULLABLE | F_LIST, .ref = &model_zone,
	  .help = "zone (defaults to the rack's zone)"),
	F(struct bw_node, rack, FT_REF, F_NULLABLE, .ref = &model_rack, .help = "rack"),
	F(struct bw_node, pool, FT_REF, F_NULLABLE | F_LIST, .ref = &model_pool, .help = "pool"),
	F(struct bw_node, fault_domain, FT_INT, F_NULLABLE | F_LIST, .min = 0, .max = 1023,
	  .def = INT_NULL, .help = "fault domain 0-1023 (defaults to the rack's, else 0)"),
	F(struct bw_node, update_domain, FT_INT, F_LIST, .min = 0, .max = 19, .def = 0,
	  .help = "update domain 0-19"),
	F(struct bw_node, bmc_driver, FT_ENUM, 0, .values = bmc_drivers, .def_str = "none",
	  .help = "out-of-band driver: none, ipmi or redfish"),
	F(struct bw_node, bmc_address, FT_HOST, 0, .help = "BMC host name or address"),
	F(struct bw_node, bmc_port, FT_INT, F_NULLABLE, .min = 1, .max = 65535, .def = INT_NULL,
	  .help = "BMC port (default 623 for ipmi, 443 for redfish)"),
	F(struct bw_node, bmc_username, FT_USER, 0, .help = "BMC user"),
	F(struct bw_node, bmc_password, FT_SECRET, 0, .help = "BMC password (write only)"),
	F(struct bw_node, bmc_insecure_tls, FT_BOOL, 0, .def = false,
	  .help = "skip TLS verification of the Redfish service"),
	F(struct bw_node, bmc_cipher_suite, FT_ENUM, 0, .values = bmc_ciphers, .def_str = "3",
	  .help = "IPMI 2.0 cipher suite: 3 (HMAC-SHA1, AES-128) or 17 (HMAC-SHA256, AES-128)"),
	F(struct bw_node, bmc_scheme, FT_ENUM, 0, .values = bmc_schemes, .def_str = "https",
	  .help = "Redfish over https, or http (test BMCs only)"),
	F(struct bw_node, os_disk, FT_DEVPATH, 0, .help = "OS disk, e.g. /dev/sda (empty: the agent finds it)"),
	F(struct bw_node, data_disks, FT_DISKS, 0, .def_str = "[]",
	  .help = "data disks, never written (comma separated)"),
	F(struct bw_node, hw_model, FT_TEXT, 0, .help = "hardware model (canary batches take one node of each)"),
	F(struct bw_node, ip_address, FT_IPV4, 0,
	  .help = "address reserved for it by the DHCP server (empty: one from the range)"),
	F(struct bw_node, maintenance, FT_BOOL, 0, .def = false,
	  .help = "boot from the local disk and leave it out of rollouts"),
	F(struct bw_node, state, FT_ENUM, F_RO | F_LIST, .values = node_states, .def_str = "new",
	  .help = "lifecycle state"),
	F(struct bw_node, installed_image, FT_REF, F_RO, .ref = &model_image, .help = "image on its OS disk"),
	F(struct bw_node, installed_version, FT_TEXT, F_RO, .help = "version on its OS disk"),
	F(struct bw_node, active_slot, FT_ENUM, F_RO, .values = slots, .def_str = "none",
	  .help = "OS slot it boots: a, b or none"),
	F(struct bw_node, pending_slot, FT_ENUM, F_RO, .values = slots, .def_str = "none",
	  .help = "slot just written and booted, not yet committed"),
	F(struct bw_node, pending_image, FT_REF, F_RO, .ref = &model_image, .help = "image on the pending slot"),
	F(struct bw_node, pending_version, FT_TEXT, F_RO, .help = "version on the pending slot"),
	F(struct bw_node, health, FT_ENUM, F_RO | F_LIST, .values = healths, .def_str = "Unknown",
	  .help = "last health state its heartbeat reported"),
	F(struct bw_node, last_heartbeat, FT_TIME, F_RO, .help = "time of its last heartbeat"),
	F(struct bw_node, quarantined, FT_BOOL, 0, .def = false,
	  .help = "out of rollouts after [orch] quarantine_after failed reimages in a row; false clears it"),
	F(struct bw_node, reimage_failures, FT_INT, F_RO, .def = 0, .help = "reimages failed in a row"),
	F(struct bw_node, ssh_user, FT_USER, 0, .def_str = "root", .help = "SSH user the extensions run as"),
	F(struct bw_node, ssh_port, FT_INT, 0, .min = 1, .max = 65535, .def = 22, .help = "SSH port of the installed OS"),
	F(struct bw_node, ssh_host_key, FT_TEXT, F_RO,
	  .help = "SSH host key its agent reported this boot (the only one accepted)"),
	F(struct bw_node, provision_after_ts, FT_TIME, F_RO,
	  .help = "the extensions run again once the OS booted after this (none: not needed)"),
	TIMES(struct bw_node),
};

static const struct field pool_fields[] = {
	ID(struct bw_pool),
	F(struct bw_pool, name, FT_NAME, F_REQUIRED | F_IMMUTABLE | F_LIST, .help = "pool name"),
	F(struct bw_pool, image, FT_REF, F_REQUIRED | F_LIST, .ref = &model_image, .help = "image the pool runs"),
	F(struct bw_pool, image_version, FT_VERSIONREF, F_LIST, .def_str = "latest",
	  .help = "pinned version, or latest"),
	F(struct bw_pool, auto_upgrade, FT_BOOL, F_LIST, .def = false,
	  .help = "roll out a new latest version automatically"),
	F(struct bw_pool, auto_rollback, FT_BOOL, 0, .def = true,
	  .help = "restore the previous slot when a node stays unhealthy"),
	F(struct bw_pool, require_signed, FT_BOOL, 0, .def = false, .help = "only signed image versions"),
	F(struct bw_pool, max_batch_percent, FT_INT, 0, .min = 1, .max = 100, .def = 20,
	  .help = "batch size in percent of the pool (1-100)"),
	F(struct bw_pool, max_unhealthy_percent, FT_INT, 0, .min = 0, .max = 100, .def = 20,
	  .help = "stop before a batch when more of the pool is unhealthy (0-100)"),
	F(struct bw_pool, max_unhealthy_upgraded_percent, FT_INT, 0, .min = 0, .max = 100, .def = 20,
	  .help = "stop after a batch when more upgraded nodes are unhealthy (0-100)"),
	F(struct bw_pool, pause_between_batches, FT_INT, 0, .min = 0, .max = 86400, .def = 0,
	  .help = "seconds between batches (0-86400)"),
	F(struct bw_pool, max_per_fault_domain, FT_INT, F_NULLABLE, .min = 1, .max = 1000, .def = INT_NULL,
	  .help = "most nodes of one fault domain down at once (none: no cap)"),
	F(struct bw_pool, prioritize_unhealthy, FT_BOOL, 0, .def = false, .help = "upgrade unhealthy nodes first"),
	F(struct bw_pool, cross_zone, FT_BOOL, 0, .def = false, .help = "allow a batch to span zones"),
	F(struct bw_pool, health_timeout, FT_INT, 0, .min = 10, .max = 86400, .def = 300,
	  .help = "seconds a node has to become healthy after an upgrade (10-86400)"),
	F(struct bw_pool, heartbeat_timeout, FT_INT, 0, .min = 5, .max = 3600, .def = 60,
	  .help = "seconds of heartbeat silence after which a node counts as unhealthy (5-3600)"),
	F(struct bw_pool, health_probe, FT_PROBE, 0,
	  .help = "extra probe: http://host:port/path, https://..., tcp:PORT, or empty"),
	F(struct bw_pool, canary, FT_BOOL, 0, .def = false,
	  .help = "first one node per hardware model, one at a time, then canary_bake before the waves"),
	F(struct bw_pool, canary_bake, FT_INT, 0, .min = 0, .max = 604800, .def = 600,
	  .help = "seconds the canaries run before the wave widens (0-604800)"),
	F(struct bw_pool, maintenance_windows, FT_WINDOWS, 0,
	  .help = "when batches may start, UTC: \"Mon-Fri 02:00-05:00, Sat 22:00-02:00\" (empty: always)"),
	TIMES(struct bw_pool),
};

static const struct field image_fields[] = {
	ID(struct bw_image),
	F(struct bw_image, name, FT_NAME, F_REQUIRED | F_IMMUTABLE | F_LIST, .help = "image name"),
	F(struct bw_image, description, FT_TEXT, F_LIST, .help = "free text"),
	TIMES(struct bw_image),
};

static const struct field image_version_fields[] = {
	ID(struct bw_image_version),
	F(struct bw_image_version, image, FT_REF, F_RO, .ref = &model_image, .help = "image"),
	F(struct bw_image_version, version, FT_VERSIONREF, F_RO | F_LIST, .help = "version"),
	F(struct bw_image_version, format, FT_ENUM, F_RO | F_LIST, .values = formats, .def_str = "raw",
	  .help = "tar (rootfs tarball) or raw (partition image)"),
	F(struct bw_image_version, compression, FT_ENUM, F_RO | F_LIST, .values = compressions,
	  .def_str = "none", .help = "compression of the artifact"),
	F(struct bw_image_version, size, FT_INT, F_RO | F_LIST, .min = 0, .max = INT64_MAX,
	  .help = "artifact size in bytes"),
	F(struct bw_image_version, sha256, FT_SHA256, F_RO | F_LIST, .help = "sha256 of the artifact"),
	F(struct bw_image_version, exclude_from_latest, FT_BOOL, F_LIST, .def = false,
	  .help = "never resolve latest to this version"),
	F(struct bw_image_version, artifact, FT_TEXT, F_RO | F_INTERNAL, .help = "stored file name"),
	F(struct bw_image_version, content_size, FT_INT, F_RO, .min = 0, .max = INT64_MAX,
	  .help = "bytes of the decompressed image (raw) or of its files (tar)"),
	F(struct bw_image_version, cmdline, FT_TEXT, F_RO, .help = "kernel command line of the installed OS"),
	F(struct bw_image_version, signing_key, FT_TEXT, F_RO | F_LIST,
	  .help = "id of the trusted key that verified its signature (empty: unsigned)"),
	TIMES(struct bw_image_version),
};

static const struct field extension_fields[] = {
	ID(struct bw_extension),
	F(struct bw_extension, name, FT_NAME, F_REQUIRED | F_IMMUTABLE | F_LIST, .help = "extension name"),
	F(struct bw_extension, description, FT_TEXT, F_LIST, .help = "free text"),
	TIMES(struct bw_extension),
};

static const struct field extension_version_fields[] = {
	ID(struct bw_extension_version),
	F(struct bw_extension_version, extension, FT_REF, F_RO, .ref = &model_extension, .help = "extension"),
	F(struct bw_extension_version, version, FT_VERSIONREF, F_RO | F_LIST, .help = "version (MAJOR.MINOR[.PATCH])"),
	F(struct bw_extension_version, entry, FT_NAME, F_RO | F_LIST, .def_str = "run",
	  .help = "the script run from the bundle's top directory"),
	F(struct bw_extension_version, size, FT_INT, F_RO | F_LIST, .min = 0, .max = INT64_MAX,
	  .help = "bytes of the bundle (uncompressed tar)"),
	F(struct bw_extension_version, files, FT_INT, F_RO | F_LIST, .min = 0, .max = INT64_MAX,
	  .help = "entries in the bundle"),
	F(struct bw_extension_version, sha256, FT_SHA256, F_RO | F_LIST, .help = "sha256 of the bundle"),
	F(struct bw_extension_version, artifact, FT_TEXT, F_RO | F_INTERNAL, .help = "stored file name"),
	TIMES(struct bw_extension_version),
};

static const struct field pool_extension_fields[] = {
	ID(struct bw_pool_extension),
	F(struct bw_pool_extension, pool, FT_REF, F_RO, .ref = &model_pool, .help = "pool"),
	F(struct bw_pool_extension, name, FT_NAME, F_REQUIRED | F_IMMUTABLE | F_LIST,
	  .help = "extension (from the catalog)"),
	F(struct bw_pool_extension, version, FT_VERSIONREF, F_REQUIRED | F_LIST, .help = "version the pool runs"),
	F(struct bw_pool_extension, previous_version, FT_TEXT, F_RO | F_LIST,
	  .help = "version it ran before the last upgrade"),
	F(struct bw_pool_extension, provision_after, FT_TEXT, F_LIST,
	  .help = "extensions of the pool that run before this one, comma-separated"),
	F(struct bw_pool_extension, settings, FT_JSON, 0, .def_str = "{}",
	  .help = "JSON object given to the script as settings.json"),
	F(struct bw_pool_extension, auto_upgrade, FT_BOOL, F_LIST, .def = false,
	  .help = "roll out new minor versions automatically"),
	F(struct bw_pool_extension, timeout, FT_INT, 0, .min = 5, .max = 86400, .def = 600,
	  .help = "seconds one run may take"),
	F(struct bw_pool_extension, failed_version, FT_TEXT, F_RO | F_LIST,
	  .help = "an automatic upgrade that was rolled back"),
	F(struct bw_pool_extension, retry_after, FT_TIME, F_RO | F_LIST,
	  .help = "when the failed upgrade is tried again"),
	TIMES(struct bw_pool_extension),
};

static const struct field ext_run_fields[] = {
	ID(struct bw_ext_run),
	F(struct bw_ext_run, node, FT_REF, F_RO | F_LIST, .ref = &model_node, .help = "node"),
	F(struct bw_ext_run, extension, FT_TEXT, F_RO | F_LIST, .help = "extension"),
	F(struct bw_ext_run, version, FT_TEXT, F_RO | F_LIST, .help = "version"),
	F(struct bw_ext_run, rollout_id, FT_INT, F_RO | F_NULLABLE, .min = 0, .max = INT64_MAX, .def = INT_NULL,
	  .help = "rollout"),
	F(struct bw_ext_run, trigger, FT_ENUM, F_RO | F_LIST, .values = run_triggers, .def_str = "provision",
	  .help = "provision (after a reimage), upgrade, rollback or manual"),
	F(struct bw_ext_run, state, FT_ENUM, F_RO | F_LIST, .values = run_states, .def_str = "queued",
	  .help = "queued, running, succeeded, failed or skipped"),
	F(struct bw_ext_run, exit_status, FT_INT, F_RO | F_NULLABLE | F_LIST, .min = INT64_MIN + 1,
	  .max = INT64_MAX, .def = INT_NULL, .help = "exit status of the script"),
	F(struct bw_ext_run, error, FT_TEXT, F_RO | F_LIST, .help = "why it failed"),
	F(struct bw_ext_run, stdout_bytes, FT_INT, F_RO, .min = 0, .max = INT64_MAX, .help = "bytes on stdout"),
	F(struct bw_ext_run, stderr_bytes, FT_INT, F_RO, .min = 0, .max = INT64_MAX, .help = "bytes on stderr"),
	F(struct bw_ext_run, truncated, FT_BOOL, F_RO, .def = false, .help = "output longer than kept"),
	F(struct bw_ext_run, created_at, FT_TIME, F_RO, .help = "queued"),
	F(struct bw_ext_run, started_at, FT_TIME, F_RO, .help = "started"),
	F(struct bw_ext_run, finished_at, FT_TIME, F_RO | F_LIST, .help = "finished"),
};

static const struct field token_fields[] = {
	ID(struct bw_token),
	F(struct bw_token, name, FT_NAME, F_REQUIRED | F_IMMUTABLE | F_LIST, .help = "token name"),
	F(struct bw_token, role, FT_ENUM, F_REQUIRED | F_IMMUTABLE | F_LIST, .values = roles,
	  .help = "viewer, operator or admin"),
	F(struct bw_token, prefix, FT_TEXT, F_RO | F_LIST, .help = "first characters of the token"),
	F(struct bw_token, expires_at, FT_TIME, F_IMMUTABLE | F_NULLABLE | F_LIST, .def = 0,
	  .help = "expiry time (RFC 3339), none by default"),
	F(struct bw_token, last_used_at, FT_TIME, F_RO | F_LIST, .help = "last use (to the minute)"),
	TIMES(struct bw_token),
};

static const struct field discovered_fields[] = {
	ID(struct bw_discovered),
	F(struct bw_discovered, mac, FT_MAC, F_RO | F_LIST, .help = "MAC"),
	F(struct bw_discovered, ip, FT_IPV4, F_RO | F_LIST, .help = "address it was given"),
	F(struct bw_discovered, arch, FT_TEXT, F_RO | F_LIST, .help = "firmware: bios, uefi, uefi-http"),
	F(struct bw_discovered, vendor_class, FT_TEXT, F_RO | F_LIST, .help = "DHCP vendor class"),
	F(struct bw_discovered, uuid, FT_TEXT, F_RO, .help = "SMBIOS UUID from PXE"),
	F(struct bw_discovered, hostname, FT_TEXT, F_RO, .help = "host name it asked for"),
	F(struct bw_discovered, first_seen, FT_TIME, F_RO, .help = "first request"),
	F(struct bw_discovered, last_seen, FT_TIME, F_RO | F_LIST, .help = "last request"),
};

static const struct field lease_fields[] = {
	ID(struct bw_lease),
	F(struct bw_lease, mac, FT_MAC, F_RO | F_LIST, .help = "client MAC"),
	F(struct bw_lease, ip, FT_IPV4, F_RO | F_LIST, .help = "leased address"),
	F(struct bw_lease, state, FT_ENUM, F_RO | F_LIST, .values = lease_states, .def_str = "bound",
	  .help = "bound, released or declined"),
	F(struct bw_lease, hostname, FT_TEXT, F_RO | F_LIST, .help = "host name the client gave"),
	F(struct bw_lease, expires_at, FT_TIME, F_RO | F_LIST, .help = "end of the lease"),
	F(struct bw_lease, updated_at, FT_TIME, F_RO, .help = "last change"),
};

static const struct field event_fields[] = {
	ID(struct bw_event),
	F(struct bw_event, node, FT_REF, F_RO, .ref = &model_node, .help = "node"),
	F(struct bw_event, rollout_id, FT_INT, F_RO | F_NULLABLE | F_LIST, .min = 0, .max = INT64_MAX,
	  .def = INT_NULL, .help = "rollout"),
	F(struct bw_event, kind, FT_TEXT, F_RO | F_LIST, .help = "what happened"),
	F(struct bw_event, message, FT_TEXT, F_RO | F_LIST, .help = "details"),
	F(struct bw_event, ts, FT_TIME, F_RO | F_LIST, .help = "when"),
};

static const struct field task_fields[] = {
	ID(struct bw_task),
	F(struct bw_task, node, FT_REF, F_RO | F_LIST, .ref = &model_node, .help = "node"),
	F(struct bw_task, kind, FT_ENUM, F_RO | F_LIST, .values = task_kinds, .def_str = "reimage",
	  .help = "what the agent does"),
	F(struct bw_task, image, FT_REF, F_RO | F_LIST, .ref = &model_image, .help = "image"),
	F(struct bw_task, version, FT_TEXT, F_RO | F_LIST, .help = "version"),
	F(struct bw_task, slot, FT_ENUM, F_RO | F_LIST, .values = task_slots, .def_str = "a",
	  .help = "OS slot written"),
	F(struct bw_task, wipe, FT_BOOL, F_RO, .def = false, .help = "the disk layout may be (re)created"),
	F(struct bw_task, state, FT_ENUM, F_RO | F_LIST, .values = task_states, .def_str = "pending",
	  .help = "pending, running, succeeded, failed or cancelled"),
	F(struct bw_task, stage, FT_TEXT, F_RO | F_LIST, .help = "what the agent last reported doing"),
	F(struct bw_task, bytes_done, FT_INT, F_RO | F_LIST, .min = 0, .max = INT64_MAX, .help = "bytes written"),
	F(struct bw_task, bytes_total, FT_INT, F_RO, .min = 0, .max = INT64_MAX, .help = "bytes to write"),
	F(struct bw_task, sha256, FT_TEXT, F_RO, .help = "sha256 the agent verified"),
	F(struct bw_task, reason, FT_TEXT, F_RO, .help = "why it failed"),
	TIMES(struct bw_task),
	F(struct bw_task, finished_at, FT_TIME, F_RO, .help = "end time"),
};

#define MODEL(var, nm, pl, st, flds, key_, parent_)                                                \
	const struct model var = { .name = nm,                                                     \
				   .plural = pl,                                                   \
				   .size = sizeof(st),                                             \
				   .fields = flds,                                                 \
				   .n_fields = ARRAY_SIZE(flds),                                   \
				   .key = key_,                                                    \
				   .parent = parent_ }

MODEL(model_site, "site", "sites", struct bw_site, site_fields, "name", NULL);
MODEL(model_zone, "zone", "zones", struct bw_zone, zone_fields, "name", NULL);
MODEL(model_rack, "rack", "racks", struct bw_rack, rack_fields, "name", NULL);
MODEL(model_node, "node", "nodes", struct bw_node, node_fields, "name", NULL);
MODEL(model_pool, "pool", "pools", struct bw_pool, pool_fields, "name", NULL);
MODEL(model_image, "image", "images", struct bw_image, image_fields, "name", NULL);
MODEL(model_image_version, "version", "image_versions", struct bw_image_version,
      image_version_fields, "version", "image");
MODEL(model_token, "token", "tokens", struct bw_token, token_fields, "name", NULL);
MODEL(model_discovered, "discovered", "discovered", struct bw_discovered, discovered_fields, "mac", NULL);
MODEL(model_lease, "lease", "leases", struct bw_lease, lease_fields, "mac", NULL);
MODEL(model_event, "event", "events", struct bw_event, event_fields, "id", NULL);
MODEL(model_task, "task", "tasks", struct bw_task, task_fields, "id", NULL);
MODEL(model_extension, "extension", "extensions", struct bw_extension, extension_fields, "name", NULL);
MODEL(model_extension_version, "extension-version", "extension_versions", struct bw_extension_version,
      extension_version_fields, "version", "extension");
MODEL(model_pool_extension, "pool-extension", "pool_extensions", struct bw_pool_extension, pool_extension_fields,
      "name", "pool");
MODEL(model_ext_run, "extension-run", "extension_runs", struct bw_ext_run, ext_run_fields, "id", NULL);

const struct model *const models[] = {
	&model_site, &model_zone,	   &model_rack,	 &model_image, &model_image_version,
	&model_pool, &model_node,	   &model_token, &model_discovered, &model_lease, &model_event, &model_task,
	&model_extension, &model_extension_version, &model_pool_extension, &model_ext_run, NULL,
};

const struct model *model_find(const char *name)
{
	for (size_t i = 0; models[i]; i++)
		if (str_eq(models[i]->name, name) || str_eq(models[i]->plural, name))
			return models[i];
	return NULL;
}

const struct field *model_field(const struct model *m, const char *name)
{
	for (size_t i = 0; i < m->n_fields; i++)
		if (str_eq(m->fields[i].name, name))
			return &m->fields[i];
	return NULL;
}

void model_init(const struct model *m, void *obj)
{
	memset(obj, 0, m->size);
	for (size_t i = 0; i < m->n_fields; i++) {
		const struct field *f = &m->fields[i];
		void *p = field_ptr(f, obj);
		if (field_is_string(f)) {
			if (f->def_str)
				str_copy(p, f->size, f->def_str);
		} else if (f->type == FT_INT || f->type == FT_TIME) {
			*(int64_t *)p = f->def;
		} else if (f->type == FT_BOOL) {
			*(bool *)p = f->def != 0;
		}
	}
}

int role_parse(const char *s, enum role *ret)
{
	for (size_t i = 0; roles[i]; i++)
		if (str_eq(s, roles[i])) {
			*ret = (enum role)(i + 1);
			return 0;
		}
	return -EINVAL;
}

const char *role_name(enum role r)
{
	return r >= ROLE_VIEWER && r <= ROLE_ADMIN ? roles[r - 1] : "none";
}
