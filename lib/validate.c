// SPDX-License-Identifier: Apache-2.0
/* Identifier syntax: see validate.h. */
#include "validate.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

bool name_valid(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > NAME_MAX_LEN || !(islower((unsigned char)s[0]) || isdigit((unsigned char)s[0])))
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!(islower(c) || isdigit(c) || c == '-' || c == '_' || c == '.'))
			return false;
	}
	return true;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int mac_normalize(const char *s, char out[MAC_STR_LEN + 1])
{
	unsigned char b[6];
	size_t nd = 0, n = strlen(s);
	int any = 0;

	/* Accept the three common notations; separators must be consistent. */
	if (n == 17 && (s[2] == ':' || s[2] == '-')) {
		for (int i = 0; i < 6; i++) {
			int h = hexval(s[3 * i]), l = hexval(s[3 * i + 1]);
			if (h < 0 || l < 0 || (i < 5 && s[3 * i + 2] != s[2]))
				return -EINVAL;
			b[i] = (unsigned char)(h << 4 | l);
		}
	} else if (n == 14 && s[4] == '.' && s[9] == '.') {
		for (size_t i = 0; i < n; i++) {
			if (i == 4 || i == 9)
				continue;
			int v = hexval(s[i]);
			if (v < 0)
				return -EINVAL;
			if (nd % 2 == 0)
				b[nd / 2] = (unsigned char)(v << 4);
			else
				b[nd / 2] |= (unsigned char)v;
			nd++;
		}
	} else
		return -EINVAL;
	for (int i = 0; i < 6; i++)
		any |= b[i];
	if (!any || (b[0] & 1))
		return -EINVAL;
	snprintf(out, MAC_STR_LEN + 1, "%02x:%02x:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3],
		 b[4], b[5]);
	return 0;
}

bool version_valid(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > VERSION_MAX_LEN || !isalnum((unsigned char)s[0]) || strcmp(s, "latest") == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!(isalnum(c) || strchr(".+~_-", c)))
			return false;
	}
	return true;
}

/* dpkg's character order: '~' first, then end of string, letters, the rest. */
static int order(int c)
{
	if (isdigit(c))
		return 0;
	if (isalpha(c))
		return c;
	if (c == '~')
		return -1;
	if (c)
		return c + 256;
	return 0;
}

int version_cmp(const char *a, const char *b)
{
	while (*a || *b) {
		int first_diff = 0;
		while ((*a && !isdigit((unsigned char)*a)) || (*b && !isdigit((unsigned char)*b))) {
			int ac = order((unsigned char)*a), bc = order((unsigned char)*b);
			if (ac != bc)
				return ac - bc;
			a++;
			b++;
		}
		while (*a == '0')
			a++;
		while (*b == '0')
			b++;
		while (isdigit((unsigned char)*a) && isdigit((unsigned char)*b)) {
			if (!first_diff)
				first_diff = *a - *b;
			a++;
			b++;
		}
		if (isdigit((unsigned char)*a))
			return 1;
		if (isdigit((unsigned char)*b))
			return -1;
		if (first_diff)
			return first_diff;
	}
	return 0;
}

bool devpath_valid(const char *s)
{
	size_t n = strlen(s);
	if (n < 2 || n > 255 || s[0] != '/' || strstr(s, "/../") || strstr(s, "/./") ||
	    (n >= 3 && strcmp(s + n - 3, "/..") == 0) || (n >= 2 && strcmp(s + n - 2, "/.") == 0) ||
	    s[n - 1] == '/')
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!(isalnum(c) || strchr("/._-:+@", c)))
			return false;
	}
	return true;
}

bool host_valid(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 253)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!(isalnum(c) || strchr(".-:[]%_", c)))
			return false;
	}
	return true;
}

bool cmdline_safe(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f || strchr("$\"\\;|&#", *s))
			return false;
	return true;
}
