// SPDX-License-Identifier: Apache-2.0
/* iPXE script choice and rendering: see ipxe.h. */
#include "ipxe.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsutil.h"
#include "util.h"

#define TEMPLATE_MAX (64 * 1024)

static const char *const names[IPXE_N_SCRIPTS] = {
	[IPXE_UNKNOWN] = "unknown", [IPXE_WAIT] = "wait", [IPXE_REIMAGE] = "reimage",
	[IPXE_ACTIVE] = "active",   [IPXE_LOCAL] = "local",
};

struct ipxe_templates {
	char *text[IPXE_N_SCRIPTS];
};

const char *ipxe_script_name(enum ipxe_script s) { return s < IPXE_N_SCRIPTS ? names[s] : "?"; }

bool ipxe_pending(const struct bw_node *n)
{
	return str_eq(n->state, "waiting_health") && n->pending_image && n->pending_version[0] &&
	       (str_eq(n->pending_slot, "a") || str_eq(n->pending_slot, "b"));
}

enum ipxe_script ipxe_choose(const struct bw_node *n)
{
	if (!n)
		return IPXE_UNKNOWN;
	if (n->maintenance)
		return IPXE_LOCAL;
	if (str_eq(n->state, "provisioning") || str_eq(n->state, "reimaging"))
		return IPXE_REIMAGE;
	if (ipxe_pending(n))
		return IPXE_ACTIVE;
	if (n->installed_image && n->installed_version[0] && (str_eq(n->active_slot, "a") || str_eq(n->active_slot, "b")))
		return IPXE_ACTIVE;
	return IPXE_WAIT;
}

void ipxe_templates_free(struct ipxe_templates *t)
{
	if (!t)
		return;
	for (int i = 0; i < IPXE_N_SCRIPTS; i++)
		free(t->text[i]);
	free(t);
}

int ipxe_templates_load(const char *dir, struct ipxe_templates **ret, const char **ret_missing)
{
	struct ipxe_templates *t = calloc(1, sizeof(*t));
	char path[1024];
	int r;

	if (!t)
		return -ENOMEM;
	for (int i = 0; i < IPXE_N_SCRIPTS; i++) {
		snprintf(path, sizeof(path), "%s/%s.ipxe", dir, names[i]);
		if ((r = read_file(path, TEMPLATE_MAX, &t->text[i], NULL)) < 0) {
			if (ret_missing)
				*ret_missing = names[i];
			ipxe_templates_free(t);
			return r;
		}
	}
	*ret = t;
	return 0;
}

struct out {
	char *p;
	size_t n, cap;
};

static int put(struct out *o, const char *s, size_t n)
{
	if (o->n + n + 1 > o->cap) {
		size_t cap = (o->n + n + 1) * 2;
		char *np = realloc(o->p, cap);
		if (!np)
			return -ENOMEM;
		o->p = np;
		o->cap = cap;
	}
	memcpy(o->p + o->n, s, n);
	o->n += n;
	o->p[o->n] = '\0';
	return 0;
}

int ipxe_render(const struct ipxe_templates *t, enum ipxe_script which, const struct ipxe_vars *v, char **ret)
{
	const char *s = t->text[which], *open;
	struct out o = { 0 };
	char mac_hyp[18] = "", retry[16];
	int r = 0;

	snprintf(mac_hyp, sizeof(mac_hyp), "%s", v->mac ? v->mac : "");
	for (char *p = mac_hyp; *p; p++)
		if (*p == ':')
			*p = '-';
	snprintf(retry, sizeof(retry), "%u", v->retry ? v->retry : 30);
	const struct {
		const char *name, *value;
	} vars[] = {
		{ "server", v->server }, { "mac", v->mac },	     { "mac_hyp", mac_hyp },
		{ "node", v->node },	 { "token", v->token },	     { "image", v->image },
		{ "version", v->version }, { "slot", v->slot },	     { "cmdline", v->cmdline },
		{ "retry", retry },	 { "api", v->api ? v->api : v->server },
	};

	while ((open = strstr(s, "{{"))) {
		const char *close = strstr(open, "}}"), *val = NULL;
		bool known = false;
		if (!close) {
			r = -EINVAL;
			break;
		}
		if ((r = put(&o, s, (size_t)(open - s))) < 0)
			break;
		for (size_t i = 0; i < ARRAY_SIZE(vars); i++)
			if (strlen(vars[i].name) == (size_t)(close - open - 2) &&
			    memcmp(vars[i].name, open + 2, (size_t)(close - open - 2)) == 0) {
				known = true;
				val = vars[i].value ? vars[i].value : "";
			}
		if (!known || !cmdline_safe(val)) {
			r = -EINVAL;
			break;
		}
		if ((r = put(&o, val, strlen(val))) < 0)
			break;
		s = close + 2;
	}
	if (r == 0)
		r = put(&o, s, strlen(s));
	if (r < 0) {
		free(o.p);
		return r;
	}
	*ret = o.p;
	return 0;
}
