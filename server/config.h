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
	/* [api] */
	char listen[128];   /* as written */
	char listen_host[64]; /* parsed from listen */
	int64_t listen_port;
	int64_t threads;
	int64_t max_body;   /* bytes of a JSON request body */
	int64_t max_upload; /* bytes of one image artifact */
	int64_t page_size, max_page_size;
	bool metrics_auth;
	/* [store] */
	char store_path[CONFIG_PATH_MAX];
	/* [images] */
	char image_dir[CONFIG_PATH_MAX];
	/* [auth] */
	char key_file[CONFIG_PATH_MAX];
	char admin_token_file[CONFIG_PATH_MAX];
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
