/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bootwaved's configuration: an INI file (libinih) over built-in defaults.
 * Every key is described once in config.c's table, which drives parsing,
 * range checks and `bootwaved -n` (print the effective configuration).
 * Relative paths are taken relative to [daemon] state_dir.
 */
#ifndef BW_CONFIG_H
#define BW_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "log.h"

#define CONFIG_PATH_MAX 512

struct config {
	/* [daemon] */
	char state_dir[CONFIG_PATH_MAX];
	char log_level[8];
	char user[64];      /* the sandboxed parts' account (server/sandbox.h) */
	/* [api] */
	char listen[128];   /* as written */
	char listen_host[64]; /* parsed from listen */
	int64_t listen_port;
	int64_t threads;
	int64_t max_connections; /* open HTTP connections, per listener */
	int64_t max_body;   /* bytes of a JSON request body */
	int64_t max_upload; /* bytes of one image artifact */
	int64_t max_custom_data; /* bytes of the custom data of one pool or node */
	int64_t page_size, max_page_size;
	bool metrics_auth;
	char tls_cert[CONFIG_PATH_MAX]; /* "": plain HTTP */
	char tls_key[CONFIG_PATH_MAX];
	char tls_ca[CONFIG_PATH_MAX];   /* "": tls_cert */
	/* [store] */
	char store_path[CONFIG_PATH_MAX];
	/* [images] */
	char image_dir[CONFIG_PATH_MAX];
	char trusted_keys[CONFIG_PATH_MAX]; /* directory of Ed25519 public keys (*.pem) */
	int64_t max_content;                /* bytes an image may expand to */
	/* [extensions] (catalog: server/api/routes_extensions.c) */
	char ext_dir[CONFIG_PATH_MAX];      /* published bundles, <ext_dir>/<name>/<version>.tar */
	int64_t ext_max_bundle;             /* bytes of an upload, of its content and of its normalized tar */
	int64_t ext_workers;                /* nodes whose extensions run at once (server/api/ext_runner.c) */
	int64_t ext_output_cap;             /* bytes of stdout and of stderr kept per run */
	int64_t ext_retry_interval;         /* seconds before a rolled-back automatic upgrade is tried again */
	/* [agent] */
	int64_t slot_size;        /* bytes of each OS slot in a layout the agent creates */
	bool data_partition;      /* ... followed by bw-data */
	int64_t stall_timeout;    /* seconds without a byte before a download is given up */
	int64_t heartbeat_interval;
	/* [bmc] */
	int64_t bmc_workers, bmc_max_sessions, bmc_min_poll, bmc_retries, bmc_timeout, bmc_idle_close;
	int64_t orch_interval, orch_reimage_timeout, orch_quarantine_after, orch_rollout_timeout;
	/* [auth] */
	char key_file[CONFIG_PATH_MAX];
	char admin_token_file[CONFIG_PATH_MAX];
	/* [boot] */
	char boot_interface[16];      /* "": no boot services */
	char boot_http_url[256];      /* "": http://<interface address>:<boot HTTP port> */
	char boot_http_listen[128];   /* "": boot files on the API listener (TLS only) */
	char boot_listen_host[64];    /* parsed from boot_http_listen */
	int64_t boot_listen_port;
	char boot_api_url[256];       /* "": derived from the boot URL (see routes_boot.c) */
	char firmware_dir[CONFIG_PATH_MAX];
	char agent_kernel[CONFIG_PATH_MAX];
	char agent_initrd[CONFIG_PATH_MAX];
	char kernel_cmdline[256];
	int64_t boot_retry;
	/* [dhcp] */
	char dhcp_mode[8];            /* off | server | proxy */
	char dhcp_range[40];          /* "10.77.0.100-10.77.0.199" */
	int64_t dhcp_lease_time;
	char dhcp_router[16];
	char dhcp_dns[40];            /* up to two, comma separated */
	char dhcp_bios_file[64];
	char dhcp_uefi_file[64];
	int64_t dhcp_commit_ms;
	/* [tftp] */
	bool tftp_enabled;
	int64_t tftp_max_transfers, tftp_timeout_ms, tftp_retries, tftp_max_blksize, tftp_max_windowsize;
};

/*
 * Fills ret with the defaults, then the file at path (NULL: defaults only),
 * then resolves relative paths. On failure returns -EINVAL (or -errno if the
 * file cannot be read) and writes into err[errsize] a message naming the
 * file, line, section and key at fault.
 */
int config_load(const char *path, struct config *ret, char *err, size_t errsize);

/* Writes the effective configuration as an INI file that config_load accepts. */
void config_print(const struct config *c, FILE *out);

/* Splits "host:port" or "[v6]:port". -EINVAL if malformed. */
int config_parse_listen(const char *s, char *host, size_t hostsize, int64_t *ret_port);

#endif
