/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent's boot parameters, from the kernel command line that the iPXE
 * script of bootwaved writes:
 *   bootwave.server=http://10.77.0.1:8080 bootwave.node=web-1 bootwave.token=...
 *   [bootwave.api=https://10.77.0.1:8443]
 * (the installed OS gets bootwave.hbtoken=... instead of bootwave.token)
 * Values may be double-quoted as the kernel allows ("a b").
 */
#ifndef BW_AGENT_CMDLINE_H
#define BW_AGENT_CMDLINE_H

#include <stddef.h>

#define AGENT_URL_MAX 256
#define AGENT_TOKEN_MAX 128

struct agent_boot {
	char server[AGENT_URL_MAX];    /* where the machine booted from */
	char api[AGENT_URL_MAX];       /* where the reimage agent calls the API (bootwave.api; default server) */
	char node[64];
	char token[AGENT_TOKEN_MAX];   /* one-time token of a reimage task */
	char hbtoken[AGENT_TOKEN_MAX]; /* heartbeat token of this boot of the installed OS */
};

/*
 * Parses a kernel command line of len bytes (not necessarily terminated).
 * Unknown words are ignored. -ENOENT if bootwave.server or bootwave.node is
 * missing, -EINVAL if a value is malformed or too long (*ret_bad, if not
 * NULL, then names the parameter).
 */
int agent_cmdline_parse(const char *cmdline, size_t len, struct agent_boot *ret, const char **ret_bad);

#endif
