/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fixtures shared by the unit tests: a fresh directory under /tmp, and a
 * store opened in one with a fake clock. Header only; include after cmocka.h.
 */
#ifndef BW_TESTUTIL_H
#define BW_TESTUTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsutil.h"
#include "store.h"

/* Makes /tmp/bw-test-<name>-XXXXXX in dir and sets path to dir/file. 0 or -1. */
static inline int test_dir_make(const char *name, const char *file, char dir[64], char path[128])
{
	snprintf(dir, 64, "/tmp/bw-test-%s-XXXXXX", name);
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, 128, "%s/%s", dir, file);
	return 0;
}

/* The fake clock of the store fixture; tests move it. */
static int64_t fake_now = 1700000000;
static inline int64_t fake_clock(void) { return fake_now; }

struct store_fx {
	char dir[64];
	char path[128]; /* the database */
	struct store *s;
};

/* cmocka setup: a store in a fresh directory, on the fake clock. */
static inline int store_fx_setup(void **state, const char *name)
{
	struct store_fx *f = calloc(1, sizeof(*f));
	struct store_err err = { .field = "" };

	if (!f || test_dir_make(name, "bootwave.db", f->dir, f->path) < 0) {
		free(f);
		return -1;
	}
	if (store_open(f->path, &f->s, &err) < 0) {
		print_error("store_open: %s\n", err.message);
		rm_rf(f->dir);
		free(f);
		return -1;
	}
	fake_now = 1700000000;
	store_set_clock(f->s, fake_clock);
	*state = f;
	return 0;
}

static inline int store_fx_teardown(void **state)
{
	struct store_fx *f = *state;
	store_close(f->s);
	rm_rf(f->dir);
	free(f);
	return 0;
}

/*
 * A heap copy of exactly len bytes of the packet under test, so that ASan
 * catches a parser reading one byte too far. Freed by the next call and by
 * heap_copy_teardown.
 */
static uint8_t *heap_copy_buf;

static inline const uint8_t *heap_copy(const uint8_t *b, size_t len)
{
	free(heap_copy_buf);
	heap_copy_buf = malloc(len ? len : 1);
	assert_non_null(heap_copy_buf);
	if (len)
		memcpy(heap_copy_buf, b, len);
	return heap_copy_buf;
}

static inline int heap_copy_teardown(void **state)
{
	(void)state;
	free(heap_copy_buf);
	heap_copy_buf = NULL;
	return 0;
}

#endif
