// SPDX-License-Identifier: Apache-2.0
/* Kernel command line parsing for the agent: see cmdline.h. */
#include "cmdline.h"

#include <errno.h>
#include <string.h>

#include "util.h"
#include "validate.h"

static const struct {
	const char *key;
	size_t offset, size;
} params[] = {
	{ "bootwave.server", offsetof(struct agent_boot, server), AGENT_URL_MAX },
	{ "bootwave.api", offsetof(struct agent_boot, api), AGENT_URL_MAX },
	{ "bootwave.node", offsetof(struct agent_boot, node), 64 },
	{ "bootwave.token", offsetof(struct agent_boot, token), AGENT_TOKEN_MAX },
	{ "bootwave.hbtoken", offsetof(struct agent_boot, hbtoken), AGENT_TOKEN_MAX },
};

static bool url_ok(const char *s)
{
	if (strncmp(s, "http://", 7) == 0)
		s += 7;
	else if (strncmp(s, "https://", 8) == 0)
		s += 8;
	else
		return false;
	if (!*s || *s == '/') /* no host */
		return false;
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
			return false;
	return true;
}

int agent_cmdline_parse(const char *cmdline, size_t len, struct agent_boot *ret, const char **ret_bad)
{
	struct agent_boot b;
	const char *p = cmdline, *end = cmdline + len;

	memset(&b, 0, sizeof(b));
	while (p < end) {
		const char *w, *eq = NULL, *v, *ve;
		bool quoted = false;

		while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\0'))
			p++;
		if (p == end)
			break;
		w = p;
		/* A word ends at unquoted white space; quotes may surround the value. */
		while (p < end && (quoted || !(*p == ' ' || *p == '\t' || *p == '\n' || *p == '\0'))) {
			if (*p == '"')
				quoted = !quoted;
			else if (*p == '=' && !eq)
				eq = p;
			p++;
		}
		if (!eq)
			continue;
		for (size_t i = 0; i < ARRAY_SIZE(params); i++) {
			size_t kl = strlen(params[i].key);
			char *dst = (char *)&b + params[i].offset;
			if ((size_t)(eq - w) != kl || memcmp(w, params[i].key, kl) != 0)
				continue;
			v = eq + 1;
			ve = p;
			if (ve - v >= 2 && v[0] == '"' && ve[-1] == '"') {
				v++;
				ve--;
			}
			if ((size_t)(ve - v) >= params[i].size || memchr(v, '"', (size_t)(ve - v))) {
				if (ret_bad)
					*ret_bad = params[i].key;
				return -EINVAL;
			}
			memcpy(dst, v, (size_t)(ve - v));
			dst[ve - v] = '\0';
		}
	}
	if (!b.server[0] || !b.node[0]) {
		if (ret_bad)
			*ret_bad = !b.server[0] ? "bootwave.server" : "bootwave.node";
		return -ENOENT;
	}
	if (!b.api[0])
		memcpy(b.api, b.server, sizeof(b.api));
	if (!url_ok(b.server) || !url_ok(b.api) || !name_valid(b.node)) {
		if (ret_bad)
			*ret_bad = !url_ok(b.server) ? "bootwave.server" : !url_ok(b.api) ? "bootwave.api" : "bootwave.node";
		return -EINVAL;
	}
	*ret = b;
	return 0;
}
