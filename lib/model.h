/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The resources of the inventory and catalog, described once. Each resource
 * is a plain C struct plus a table of fields; the daemon's JSON codec, the
 * store's SQL and the CLI's flags and tables are all driven by these tables,
 * so a field is added in one place and its name, type, range and default
 * agree everywhere.
 *
 * Storage of each field type inside the struct (at .offset):
 *   FT_NAME, FT_TEXT, FT_MAC, FT_HOST, FT_DEVPATH, FT_ENUM, FT_VERSIONREF,
 *   FT_PROBE, FT_USER, FT_DISKS, FT_SHA256,
 *   FT_IPV4, FT_WINDOWS, FT_JSON             char[.size] (FT_DISKS: a JSON array;
 *                                            FT_JSON: a JSON object, compact)
 *   FT_INT, FT_TIME                          int64_t (INT_NULL when null)
 *   FT_BOOL                                  bool
 *   FT_REF                                   int64_t id of the referenced row, 0 = none
 *   FT_SECRET                                struct bw_secret (sealed bytes)
 * SQL column name: the field name, "<name>_id" for FT_REF, "<name>_sealed"
 * for FT_SECRET.
 */
#ifndef BW_MODEL_H
#define BW_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "validate.h"

#define INT_NULL INT64_MIN

enum field_type {
	FT_NAME,       /* resource name, validate.h name_valid */
	FT_TEXT,       /* free printable text */
	FT_MAC,        /* canonical MAC */
	FT_HOST,       /* host name or IP literal */
	FT_DEVPATH,    /* /dev/... */
	FT_ENUM,       /* one of .values */
	FT_VERSIONREF, /* an image version or "latest" */
	FT_PROBE,      /* "", "http://host:port/path", "https://...", "tcp:PORT" */
	FT_USER,       /* BMC user name: printable, no spaces */
	FT_DISKS,      /* list of device paths */
	FT_SHA256,     /* 64 hex digits */
	FT_IPV4,       /* dotted quad, or "" for none */
	FT_WINDOWS,    /* maintenance windows, lib/window.h */
	FT_JSON,       /* a JSON object (extension settings) */
	FT_INT,
	FT_TIME, /* unix seconds; JSON RFC 3339 */
	FT_BOOL,
	FT_REF,
	FT_SECRET,
};

enum {
	F_REQUIRED = 1 << 0,  /* must be given at creation */
	F_RO = 1 << 1,        /* set by the server only */
	F_IMMUTABLE = 1 << 2, /* set at creation only */
	F_NULLABLE = 1 << 3,  /* JSON null allowed (FT_INT, FT_REF) */
	F_LIST = 1 << 4,      /* a column of the CLI's table */
	F_INTERNAL = 1 << 5,  /* never in JSON (e.g. stored paths) */
};

struct model;

struct field {
	const char *name;
	enum field_type type;
	size_t offset;
	size_t size; /* of the member */
	unsigned flags;
	int64_t min, max;            /* FT_INT range */
	int64_t def;                 /* FT_INT/FT_BOOL default */
	const char *def_str;         /* string default */
	const char *const *values;   /* FT_ENUM: NULL-terminated */
	const struct model *ref;     /* FT_REF: referenced model */
	const char *help;            /* one line, for the CLI and the docs */
};

struct model {
	const char *name;   /* "node": CLI noun, messages */
	const char *plural; /* "nodes": URL segment and SQL table */
	size_t size;        /* of the struct */
	const struct field *fields;
	size_t n_fields;
	const char *key;        /* field that names a row in URLs */
	const char *parent;     /* FT_REF field that scopes the key, or NULL */
};

#define BW_SECRET_MAX 288
struct bw_secret {
	uint8_t data[BW_SECRET_MAX]; /* sealed with lib/crypto secret_seal */
	size_t len;                  /* 0: not set */
};
#define BW_SECRET_PLAIN_MAX (BW_SECRET_MAX - 32)

#define DESC_LEN 256
#define SSH_KEY_LEN 768
#define SETTINGS_LEN 4096
#define DISKS_LEN 1024
#define DISKS_MAX 16

struct bw_site {
	int64_t id;
	char name[NAME_MAX_LEN + 1];
	char description[DESC_LEN];
	int64_t paired_with;
	int64_t created_at, updated_at;
};

struct bw_zone {
	int64_t id;
	char name[NAME_MAX_LEN + 1];
	int64_t site;
	char description[DESC_LEN];
	int64_t created_at, updated_at;
};

struct bw_rack {
	int64_t id;
	char name[NAME_MAX_LEN + 1];
	int64_t zone;
	int64_t fault_domain;
	char description[DESC_LEN];
	int64_t created_at, updated_at;
};

struct bw_node {
	int64_t id;
	char name[NAME_MAX_LEN + 1];
	char mac[MAC_STR_LEN + 1];
	int64_t zone, rack, pool;
	int64_t fault_domain, update_domain;
	char bmc_driver[16];
	char bmc_address[254];
	int64_t bmc_port;
	char bmc_username[64];
	struct bw_secret bmc_password;
	bool bmc_insecure_tls;
	char bmc_cipher_suite[4]; /* "3" or "17" */
	char bmc_scheme[8];       /* "https" or "http" */
	char os_disk[256];
	char data_disks[DISKS_LEN];
	char ip_address[16];
	char hw_model[64];
	bool maintenance;
	char state[24];
	int64_t installed_image;
	char installed_version[VERSION_MAX_LEN + 1];
	char active_slot[8];
	char pending_slot[8];  /* written by the agent, booted, not yet committed */
	int64_t pending_image;
	char pending_version[VERSION_MAX_LEN + 1];
	char health[16];       /* Unknown | Initializing | Healthy | Unhealthy (heartbeat) */
	int64_t last_heartbeat;
	bool quarantined;         /* set by the orchestrator; an operator clears it */
	int64_t reimage_failures; /* in a row */
	char ssh_user[32];
	int64_t ssh_port;
	char ssh_host_key[SSH_KEY_LEN]; /* OpenSSH public key line its agent reported this boot */
	int64_t provision_after_ts;     /* the extensions must run again once the OS booted after this (0: no) */
	int64_t created_at, updated_at;
};

struct bw_pool {
	int64_t id;
	char name[NAME_MAX_LEN + 1];
	int64_t image;
	char image_version[VERSION_MAX_LEN + 1];
	bool auto_upgrade, auto_rollback, require_signed;
	int64_t max_batch_percent, max_unhealthy_percent, max_unhealthy_upgraded_percent;
	int64_t pause_between_batches, max_per_fault_domain;
	bool prioritize_unhealthy, cross_zone;
	int64_t health_timeout, heartbeat_timeout;
	char health_probe[256];
	bool canary;
	int64_t canary_bake;
	char maintenance_windows[256];
	int64_t created_at, updated_at;
};

struct bw_image {
	int64_t id;
	char name[NAME_MAX_LEN + 1];
	char description[DESC_LEN];
	int64_t created_at, updated_at;
};

struct bw_image_version {
	int64_t id;
	int64_t image;
	char version[VERSION_MAX_LEN + 1];
	char format[8];      /* tar | raw */
	char compression[8]; /* none | gzip | zstd | xz */
	int64_t size;
	char sha256[65];
	bool exclude_from_latest;
	char artifact[128]; /* file name under the version's directory */
	int64_t content_size; /* decompressed bytes (raw) or file data (tar) */
	char cmdline[512];    /* kernel command line of the installed OS */
	char signing_key[17]; /* id of the trusted key its signature verified with, or "" */
	int64_t created_at, updated_at;
};

struct bw_token {
	int64_t id;
	char name[NAME_MAX_LEN + 1];
	char role[16];
	char prefix[16]; /* first characters of the token, to recognise it */
	int64_t expires_at;
	int64_t last_used_at;
	int64_t created_at, updated_at;
};

/* A machine seen on the provisioning network that is not enrolled. */
struct bw_discovered {
	int64_t id;
	char mac[MAC_STR_LEN + 1];
	char ip[16];
	char arch[24];
	char vendor_class[DESC_LEN];
	char uuid[40];
	char hostname[64];
	int64_t first_seen, last_seen;
};

struct bw_lease {
	int64_t id;
	char mac[MAC_STR_LEN + 1];
	char ip[16];
	char state[12]; /* bound | released | declined */
	char hostname[64];
	int64_t expires_at;
	int64_t updated_at;
};

struct bw_event {
	int64_t id;
	int64_t node;
	int64_t rollout_id;
	char kind[32];
	char message[DESC_LEN];
	int64_t ts;
};

/* A named provisioning script bundle (DESIGN.md, "Extensions"). */
struct bw_extension {
	int64_t id;
	char name[NAME_MAX_LEN + 1];
	char description[DESC_LEN];
	int64_t created_at, updated_at;
};

/* One version of an extension: a tarball of its files, normalized at upload. */
struct bw_extension_version {
	int64_t id;
	int64_t extension;
	char version[VERSION_MAX_LEN + 1]; /* MAJOR.MINOR[.PATCH] */
	char entry[NAME_MAX_LEN + 1];      /* the script run inside the bundle */
	int64_t size, files;
	char sha256[65];
	char artifact[128];
	int64_t created_at, updated_at;
};

/* An extension a pool runs, in provision_after order. */
struct bw_pool_extension {
	int64_t id;
	int64_t pool;
	char name[NAME_MAX_LEN + 1];        /* the extension */
	char version[VERSION_MAX_LEN + 1];  /* what the pool runs */
	char previous_version[VERSION_MAX_LEN + 1];
	char provision_after[256];          /* names of extensions of the pool, comma-separated */
	char settings[SETTINGS_LEN];        /* JSON object */
	bool auto_upgrade;                  /* new minor versions roll out by themselves */
	int64_t timeout;                    /* seconds per run */
	char failed_version[VERSION_MAX_LEN + 1]; /* an upgrade that was rolled back */
	int64_t retry_after;                /* not tried again before (0: any time) */
	int64_t created_at, updated_at;
};

/* One run of one extension on one node. Its output is kept beside the row (store_ext_output). */
struct bw_ext_run {
	int64_t id;
	int64_t node;
	char extension[NAME_MAX_LEN + 1];
	char version[VERSION_MAX_LEN + 1];
	int64_t rollout_id;
	char trigger[16];  /* provision | upgrade | rollback | manual */
	char state[16];    /* queued | running | succeeded | failed | skipped */
	int64_t exit_status;
	char error[DESC_LEN];
	int64_t stdout_bytes, stderr_bytes; /* written by the script in all */
	bool truncated;                     /* more than [extensions] output_cap of either */
	int64_t created_at, started_at, finished_at;
};

/* Work for the agent of one node: a reimage of one slot with one image version. */
struct bw_task {
	int64_t id;
	int64_t node;
	char kind[16];  /* reimage */
	int64_t image;
	char version[VERSION_MAX_LEN + 1];
	char slot[8];   /* a | b */
	bool wipe;      /* may (re)create the disk layout */
	char state[16]; /* pending | running | succeeded | failed | cancelled */
	char stage[24];
	int64_t bytes_done, bytes_total;
	char sha256[65];    /* what the agent verified */
	char reason[DESC_LEN];
	int64_t created_at, updated_at, finished_at;
};

extern const struct model model_discovered, model_lease, model_event, model_task, model_extension,
	model_extension_version, model_pool_extension, model_ext_run;

extern const struct model model_site, model_zone, model_rack, model_node, model_pool, model_image,
	model_image_version, model_token;

/* All models, NULL-terminated, in dependency order. */
extern const struct model *const models[];

/* The most fields a model has: the size of the masks given to store_update and codec_decode. */
#define MODEL_MAX_FIELDS 64

/* By singular or plural name; NULL if none. */
const struct model *model_find(const char *name);
const struct field *model_field(const struct model *m, const char *name);

/* Accessors for a field inside an object of its model. */
static inline void *field_ptr(const struct field *f, void *obj) { return (char *)obj + f->offset; }
static inline const void *field_cptr(const struct field *f, const void *obj)
{
	return (const char *)obj + f->offset;
}
static inline bool field_is_string(const struct field *f) { return f->type <= FT_JSON; }

/* Fills obj with the defaults of every field (strings "", ints def). */
void model_init(const struct model *m, void *obj);

/* Role names, lowest first, and their ranks: viewer < operator < admin. */
enum role { ROLE_NONE = 0, ROLE_VIEWER, ROLE_OPERATOR, ROLE_ADMIN };
int role_parse(const char *s, enum role *ret);
const char *role_name(enum role r);

#endif
