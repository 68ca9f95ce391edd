// SPDX-License-Identifier: Apache-2.0
/* Versions of extensions: see extver.h. */
#include "extver.h"

#include <errno.h>
#include <stddef.h>

/* One part at *p, up to '.' or the end; *p moves past it. */
static int part(const char **p, uint32_t *ret)
{
	const char *s = *p;
	uint64_t v = 0;
	size_t n = 0;

	while (s[n] >= '0' && s[n] <= '9') {
		v = v * 10 + (uint64_t)(s[n] - '0');
		if (v > UINT32_MAX)
			return -EINVAL;
		n++;
	}
	if (n == 0 || (n > 1 && s[0] == '0'))
		return -EINVAL;
	*p = s + n;
	*ret = (uint32_t)v;
	return 0;
}

int extver_parse(const char *s, struct extver *ret)
{
	struct extver v = { 0 };

	if (!s || part(&s, &v.major) < 0 || *s++ != '.' || part(&s, &v.minor) < 0)
		return -EINVAL;
	if (*s == '.') {
		s++;
		if (part(&s, &v.patch) < 0)
			return -EINVAL;
		v.has_patch = true;
	}
	if (*s)
		return -EINVAL;
	*ret = v;
	return 0;
}

static int cmp_u32(uint32_t a, uint32_t b) { return a < b ? -1 : a > b; }

int extver_cmp(const struct extver *a, const struct extver *b)
{
	int c;

	if ((c = cmp_u32(a->major, b->major)) || (c = cmp_u32(a->minor, b->minor)) ||
	    (c = cmp_u32(a->patch, b->patch)))
		return c;
	return (int)a->has_patch - (int)b->has_patch;
}
