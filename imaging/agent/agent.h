/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bootwave-agent's two modes: reimage (in the ramdisk: fetch the task,
 * write the slot, report, reboot) and heartbeat (in the installed OS).
 */
#ifndef BW_AGENT_H
#define BW_AGENT_H

#include <stdbool.h>

/* Where the ramdisk holds the appliance's CA (the reimage script's ca.cpio). */
#define AGENT_CA_FILE "/etc/bootwave/ca.pem"

struct agent_opts {
	const char *cmdline;  /* file holding the kernel command line */
	const char *devroot;  /* prefix of device paths ("" in production; a directory in tests) */
	bool no_reboot;       /* exit instead of rebooting when done */
	unsigned retry_s;     /* how long to retry reaching the server, in seconds */
	const char *ca;       /* CA (PEM) an https API is checked with, alone (NULL: AGENT_CA_FILE if present) */
	/* heartbeat */
	unsigned interval;    /* 0: as the server says */
	const char *probe;    /* shell command, or http(s):// URL, or NULL */
	unsigned grace;       /* seconds of Initializing before a failing probe counts */
	bool once;            /* one heartbeat, then exit */
	const char *host_key; /* OpenSSH public host key file reported to the server (NULL: the usual places) */
	const char *authorized_keys; /* where the appliance's SSH key is installed (NULL: not installed) */
};

/* Exit status: 0 written and reported, 1 failed (reported if it could be), 2 bad usage or parameters. */
int agent_reimage(const struct agent_opts *o);
int agent_heartbeat(const struct agent_opts *o);

#endif
