// SPDX-License-Identifier: Apache-2.0
/*
 * Human output of the CLI: tables for lists (the model's list columns),
 * "key: value" lines for one object, and JSON for -o json.
 */
#include <ctype.h>
#include <stdio.h>

#include "cli.h"

#define MAX_COLS 16
#define CELL_MAX 96

/* Bytes as a short human figure. */
static void human_size(json_int_t n, char *buf, size_t size)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)n;
	size_t u = 0;
	while (v >= 1024 && u < ARRAY_SIZE(units) - 1) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, size, "%lld B", (long long)n);
	else
		snprintf(buf, size, "%.1f %s", v, units[u]);
}

/* One JSON value as table text into buf. */
static void cell(const char *col, json_t *v, char *buf, size_t size)
{
	if (!v || json_is_null(v)) {
		snprintf(buf, size, "-");
	} else if (json_is_string(v)) {
		const char *s = json_string_value(v);
		if (str_eq(col, "sha256") && strlen(s) > 12)
			snprintf(buf, size, "%.12s", s);
		else
			snprintf(buf, size, "%s", *s ? s : "-");
	} else if (json_is_integer(v)) {
		if (str_eq(col, "size"))
			human_size(json_integer_value(v), buf, size);
		else
			snprintf(buf, size, "%lld", (long long)json_integer_value(v));
	} else if (json_is_boolean(v)) {
		snprintf(buf, size, "%s", json_is_true(v) ? "yes" : "no");
	} else if (json_is_array(v)) {
		size_t i, n = 0;
		json_t *item;
		buf[0] = '\0';
		json_array_foreach(v, i, item) {
			char sub[CELL_MAX];
			cell(col, item, sub, sizeof(sub));
			n += (size_t)snprintf(buf + n, n < size ? size - n : 0, "%s%s", i ? "," : "", sub);
			if (n >= size)
				break;
		}
		if (!buf[0])
			snprintf(buf, size, "-");
	} else {
		char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		snprintf(buf, size, "%s", t ? t : "?");
		free(t);
	}
}

void out_table(const struct model *m, json_t *items)
{
	const char *cols[MAX_COLS];
	size_t ncol = 0, width[MAX_COLS], i, k;
	json_t *it;
	char buf[CELL_MAX];

	cols[ncol++] = m->key;
	for (i = 0; i < m->n_fields && ncol < MAX_COLS - 1; i++)
		if ((m->fields[i].flags & F_LIST) && !str_eq(m->fields[i].name, m->key))
			cols[ncol++] = m->fields[i].name;
	/* Derived columns the server adds. */
	if (m == &model_image || m == &model_image_version)
		cols[ncol++] = "latest";
	for (k = 0; k < ncol; k++)
		width[k] = strlen(cols[k]);
	json_array_foreach(items, i, it)
		for (k = 0; k < ncol; k++) {
			cell(cols[k], json_object_get(it, cols[k]), buf, sizeof(buf));
			if (strlen(buf) > width[k])
				width[k] = strlen(buf);
		}
	for (k = 0; k < ncol; k++) {
		char up[64];
		size_t j;
		for (j = 0; cols[k][j] && j < sizeof(up) - 1; j++)
			up[j] = cols[k][j] == '_' ? ' ' : (char)toupper((unsigned char)cols[k][j]);
		up[j] = '\0';
		printf("%-*s%s", (int)width[k], up, k + 1 < ncol ? "  " : "\n");
	}
	json_array_foreach(items, i, it)
		for (k = 0; k < ncol; k++) {
			cell(cols[k], json_object_get(it, cols[k]), buf, sizeof(buf));
			if (k + 1 < ncol)
				printf("%-*s  ", (int)width[k], buf);
			else
				printf("%s\n", buf);
		}
}

void out_object(json_t *obj)
{
	const char *key;
	json_t *v;
	size_t w = 0;
	char buf[1024];

	json_object_foreach(obj, key, v)
		if (strlen(key) > w)
			w = strlen(key);
	json_object_foreach(obj, key, v) {
		if (json_is_string(v))
			snprintf(buf, sizeof(buf), "%s", json_string_value(v)[0] ? json_string_value(v) : "-");
		else
			cell(key, v, buf, sizeof(buf));
		printf("%-*s  %s\n", (int)w + 1, key, buf);
	}
}

void out_json(json_t *v)
{
	json_dumpf(v, stdout, JSON_INDENT(2) | JSON_ENCODE_ANY);
	fputc('\n', stdout);
}
