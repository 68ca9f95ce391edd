// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target for the archive name rules of imaging/extract.c: the
 * input is split at its first NUL into a member name and a symlink target
 * (the rest, up to the next NUL), which go through extract_path_check and
 * extract_link_check. Invariants checked: an accepted name is relative, has
 * no empty, "." or ".." component, no component over EXTRACT_NAME_MAX, is
 * no longer than the input and normalises to itself; a refusal names its
 * reason and leaves the output alone; a small output buffer either gives
 * the same answer or -ENAMETOOLONG; an accepted relative link target,
 * resolved lexically from the link's directory by a second, independent
 * walk, never climbs above the root. Build with clang -fsanitize=fuzzer,
 * or replay a corpus with replay.c.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "extract.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Every component of an accepted name: non-empty, not "." nor "..", short enough. */
static void check_normalised(const char *s)
{
	size_t len = strlen(s);

	if (len == 0)
		return;
	if (s[0] == '/' || s[len - 1] == '/' || strstr(s, "//"))
		abort();
	for (const char *p = s; *p;) {
		const char *c = p;
		size_t n;
		while (*p && *p != '/')
			p++;
		n = (size_t)(p - c);
		if (n == 0 || n > EXTRACT_NAME_MAX || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
			abort();
		if (*p)
			p++;
	}
}

/*
 * Lexical resolution of target from the directory of the link at norm, as
 * a stack of component lengths: false if it ever pops the root.
 */
static bool stays_inside(const char *norm, const char *target)
{
	size_t depth = 0;
	char *copy, *tok, *save = NULL;
	bool ok = true;

	/* The directory: all components of norm but the last. */
	copy = strdup(norm);
	if (!copy)
		abort();
	for (tok = strtok_r(copy, "/", &save); tok; tok = strtok_r(NULL, "/", &save))
		depth++;
	free(copy);
	if (depth == 0)
		abort(); /* the root cannot be a link */
	depth--;
	copy = strdup(target);
	if (!copy)
		abort();
	for (tok = strtok_r(copy, "/", &save); tok && ok; tok = strtok_r(NULL, "/", &save)) {
		if (strcmp(tok, ".") == 0)
			continue;
		if (strcmp(tok, "..") == 0) {
			if (depth == 0)
				ok = false;
			else
				depth--;
		} else {
			depth++;
		}
	}
	free(copy);
	return ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char out[EXTRACT_PATH_BUF], again[EXTRACT_PATH_BUF], small[16];
	const uint8_t *nul = memchr(data, 0, size);
	size_t plen = nul ? (size_t)(nul - data) : size;
	const uint8_t *t = nul ? nul + 1 : data + size;
	size_t tlen = (size_t)(data + size - t);
	char *path, *target;
	const char *why;
	int r, r2;

	path = malloc(plen + 1);
	if (!path)
		abort();
	memcpy(path, data, plen);
	path[plen] = '\0';
	if (memchr(t, 0, tlen))
		tlen = (size_t)((const uint8_t *)memchr(t, 0, tlen) - t);
	target = malloc(tlen + 1);
	if (!target)
		abort();
	memcpy(target, t, tlen);
	target[tlen] = '\0';

	/* The name. */
	memset(out, 0x5a, sizeof(out));
	why = NULL;
	r = extract_path_check(path, out, sizeof(out), &why);
	if (r == 0) {
		if (why || strlen(out) > plen)
			abort();
		check_normalised(out);
		/* Idempotent: the normalised name is accepted as itself. */
		if (out[0] && (extract_path_check(out, again, sizeof(again), NULL) != 0 || strcmp(out, again) != 0))
			abort();
		if (!out[0] && extract_link_check(path, "x", NULL) != -EINVAL)
			abort();
	} else {
		if ((r != -EINVAL && r != -ENAMETOOLONG) || !why || out[0] != 0x5a)
			abort();
	}
	/* A small buffer: the same answer if it fits, else -ENAMETOOLONG. */
	memset(small, 0x5a, sizeof(small));
	r2 = extract_path_check(path, small, sizeof(small), &why);
	if (r == 0 && strlen(out) < sizeof(small)) {
		if (r2 != 0 || strcmp(small, out) != 0)
			abort();
	} else if (r2 != (r == 0 ? -ENAMETOOLONG : r) || small[0] != 0x5a) {
		abort();
	}

	/* The link. */
	why = NULL;
	r2 = extract_link_check(path, target, &why);
	if (r2 == 0) {
		if (r != 0 || !out[0] || !target[0] || why)
			abort();
		if (target[0] != '/' && !stays_inside(out, target))
			abort();
	} else if (!why || (r2 != -EINVAL && r2 != -ENAMETOOLONG)) {
		abort();
	} else if (r == 0 && out[0] && target[0] && strlen(target) <= EXTRACT_PATH_MAX && target[0] != '/' &&
		   stays_inside(out, target)) {
		abort(); /* refused although it stays inside */
	}
	free(path);
	free(target);
	return 0;
}
