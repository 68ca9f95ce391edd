/* SPDX-License-Identifier: Apache-2.0 */
/*
 * iPXE scripts: which one a machine gets, and rendering it from the
 * templates of firmware/templates ({{name}} placeholders). The server is
 * the boot selector (DESIGN.md): every boot of every node asks here.
 */
#ifndef BW_IPXE_H
#define BW_IPXE_H

#include "model.h"

enum ipxe_script {
	IPXE_UNKNOWN, /* not enrolled: recorded, asked to wait */
	IPXE_WAIT,    /* enrolled, no OS and nothing to do */
	IPXE_REIMAGE, /* the agent kernel and initrd, with a one-time token */
	IPXE_ACTIVE,  /* the kernel and initrd of its image version, root on its active slot */
	IPXE_LOCAL,   /* maintenance: the local disk */
	IPXE_N_SCRIPTS,
};

const char *ipxe_script_name(enum ipxe_script s);

/*
 * True if node boots the slot its agent just wrote (state waiting_health):
 * the ACTIVE script then names the pending image, version and slot.
 */
bool ipxe_pending(const struct bw_node *node);

/* The script for node (NULL: a MAC that is not enrolled). */
enum ipxe_script ipxe_choose(const struct bw_node *node);

struct ipxe_templates;

/*
 * Loads <dir>/<name>.ipxe for every script. -ENOENT (naming the missing
 * file in *ret_missing if not NULL) when one is absent.
 */
int ipxe_templates_load(const char *dir, struct ipxe_templates **ret, const char **ret_missing);
void ipxe_templates_free(struct ipxe_templates *t);

struct ipxe_vars {
	const char *server;  /* "http://10.77.0.1:8080" */
	const char *api;     /* where the agent calls the API: server, or "https://10.77.0.1:8443" */
	const char *mac;     /* aa:bb:cc:dd:ee:ff */
	const char *node, *token, *image, *version, *slot, *cmdline;
	unsigned retry;      /* seconds between two asks */
};

/*
 * Renders script which with v into a new string the caller frees. Values
 * go into a script that iPXE interprets: any value holding a control
 * character or one of $ " \\ ; | & # is refused (-EINVAL), as is an
 * unknown placeholder in the template.
 */
int ipxe_render(const struct ipxe_templates *t, enum ipxe_script which, const struct ipxe_vars *v, char **ret);

#endif
