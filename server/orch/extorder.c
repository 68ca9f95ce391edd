// SPDX-License-Identifier: Apache-2.0
/*
 * The run order of a pool's extensions: see extorder.h. Kahn's algorithm
 * over at most EXTORDER_MAX nodes, picking the lowest index ready each time
 * so the order given breaks ties; a cycle is found again by walking the
 * edges of what is left, to name it.
 */
#include "extorder.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "util.h"
#include "validate.h"

int extorder_split(const char *list, char (*ret_names)[NAME_MAX_LEN + 1], size_t max, size_t *ret_n, char *err,
		   size_t size)
{
	size_t n = 0;
	const char *p = list;

	while (*p) {
		size_t len;
		char name[NAME_MAX_LEN + 2];

		p += strspn(p, " ,");
		if (!*p)
			break;
		len = strcspn(p, " ,");
		if (len > NAME_MAX_LEN) {
			snprintf(err, size, "\"%.*s...\" is not an extension name", 20, p);
			return -EINVAL;
		}
		memcpy(name, p, len);
		name[len] = '\0';
		if (!name_valid(name)) {
			char esc[96];
			snprintf(err, size, "\"%s\" is not an extension name", log_escape(name, len, esc, sizeof(esc)));
			return -EINVAL;
		}
		if (n == max) {
			snprintf(err, size, "more than %zu names", max);
			return -EINVAL;
		}
		memcpy(ret_names[n++], name, len + 1);
		p += len;
	}
	*ret_n = n;
	return 0;
}

/* The edges: after[i][j] when pe[i] runs after pe[j]. */
static int edges(const struct bw_pool_extension *pe, size_t n, bool after[EXTORDER_MAX][EXTORDER_MAX], char *err,
		 size_t size)
{
	char names[EXTORDER_MAX][NAME_MAX_LEN + 1];
	size_t k;
	int r;

	if (n > EXTORDER_MAX) {
		snprintf(err, size, "a pool runs at most %d extensions", EXTORDER_MAX);
		return -EINVAL;
	}
	memset(after, 0, sizeof(bool) * EXTORDER_MAX * EXTORDER_MAX);
	for (size_t i = 0; i < n; i++) {
		char why[160];
		if ((r = extorder_split(pe[i].provision_after, names, EXTORDER_MAX, &k, why, sizeof(why))) < 0) {
			snprintf(err, size, "%s: provision_after: %s", pe[i].name, why);
			return r;
		}
		for (size_t a = 0; a < k; a++) {
			size_t j = 0;
			while (j < n && !str_eq(pe[j].name, names[a]))
				j++;
			if (j == n) {
				snprintf(err, size, "%s: provision_after: the pool has no extension %s", pe[i].name,
					 names[a]);
				return -ENOENT;
			}
			if (j == i) {
				snprintf(err, size, "%s: provision_after: an extension cannot run after itself",
					 pe[i].name);
				return -ELOOP;
			}
			after[i][j] = true;
		}
	}
	return 0;
}

int extorder_sort(const struct bw_pool_extension *pe, size_t n, size_t *ret_order, char *err, size_t size)
{
	bool after[EXTORDER_MAX][EXTORDER_MAX], done[EXTORDER_MAX] = { false };
	size_t out = 0;
	int r;

	if ((r = edges(pe, n, after, err, size)) < 0)
		return r;
	while (out < n) {
		size_t pick = n;
		for (size_t i = 0; i < n && pick == n; i++) {
			bool ready = !done[i];
			for (size_t j = 0; j < n && ready; j++)
				ready = !after[i][j] || done[j];
			if (ready)
				pick = i;
		}
		if (pick == n)
			break;
		done[pick] = true;
		ret_order[out++] = pick;
	}
	if (out == n)
		return 0;
	/* What is left holds a cycle: every node left has an edge to another left.
	 * Walk from any until a node repeats, then print the loop from there. */
	size_t path[EXTORDER_MAX + 1], len = 0, cur = 0;
	int seen[EXTORDER_MAX];
	for (size_t i = 0; i < n; i++)
		seen[i] = -1;
	while (done[cur])
		cur++;
	while (seen[cur] < 0) {
		seen[cur] = (int)len;
		path[len++] = cur;
		for (size_t j = 0; j < n; j++)
			if (after[cur][j] && !done[j]) {
				cur = j;
				break;
			}
	}
	size_t pos = 0;
	pos += (size_t)snprintf(err, size, "provision_after makes a cycle: ");
	for (size_t k = (size_t)seen[cur]; k < len && pos < size; k++)
		pos += (size_t)snprintf(err + pos, size - pos, "%s runs after ", pe[path[k]].name);
	if (pos < size)
		snprintf(err + pos, size - pos, "%s", pe[cur].name);
	return -ELOOP;
}

int extorder_depends(const struct bw_pool_extension *pe, size_t n, size_t i, size_t j, bool *ret)
{
	bool after[EXTORDER_MAX][EXTORDER_MAX], reach[EXTORDER_MAX] = { false };
	char err[160];
	bool grew = true;
	int r;

	if ((r = edges(pe, n, after, err, sizeof(err))) < 0)
		return r;
	reach[i] = true;
	while (grew) {
		grew = false;
		for (size_t a = 0; a < n; a++)
			for (size_t b = 0; reach[a] && b < n; b++)
				if (after[a][b] && !reach[b])
					reach[b] = grew = true;
	}
	*ret = i != j && reach[j];
	return 0;
}
