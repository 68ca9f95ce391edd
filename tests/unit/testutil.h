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
 * The pool of the orchestrator tests: image "os" with versions[0..nv)
 * published, pool "p" on it (maintenance windows as given) inserted into
 * *pool, and nodes n0..n<count-1> on "1.0" in slot a, node i in update
 * domain i / per_ud. Returns the first node's id.
 */
static inline int64_t orch_fx_pool(struct store *s, const char *const *versions, size_t nv, struct bw_pool *pool,
				   const char *windows, int count, int per_ud)
{
	struct store_err err = { .field = "" };
	struct bw_image img;
	int64_t first = 0;

	model_init(&model_image, &img);
	snprintf(img.name, sizeof(img.name), "os");
	assert_int_equal(store_insert(s, &model_image, &img, &err), 0);
	for (size_t i = 0; i < nv; i++) {
		struct bw_image_version v;
		model_init(&model_image_version, &v);
		v.image = img.id;
		snprintf(v.version, sizeof(v.version), "%s", versions[i]);
		snprintf(v.sha256, sizeof(v.sha256), "%064zu", i + 1);
		snprintf(v.artifact, sizeof(v.artifact), "rootfs.img");
		assert_int_equal(store_insert(s, &model_image_version, &v, &err), 0);
	}
	model_init(&model_pool, pool);
	snprintf(pool->name, sizeof(pool->name), "p");
	pool->image = img.id;
	snprintf(pool->maintenance_windows, sizeof(pool->maintenance_windows), "%s", windows);
	assert_int_equal(store_insert(s, &model_pool, pool, &err), 0);
	for (int i = 0; i < count; i++) {
		struct bw_node n;
		model_init(&model_node, &n);
		snprintf(n.name, sizeof(n.name), "n%d", i);
		snprintf(n.mac, sizeof(n.mac), "52:54:00:00:00:%02x", i);
		n.pool = pool->id;
		n.update_domain = i / per_ud;
		n.installed_image = img.id;
		snprintf(n.installed_version, sizeof(n.installed_version), "1.0");
		snprintf(n.active_slot, sizeof(n.active_slot), "a");
		assert_int_equal(store_insert(s, &model_node, &n, &err), 0);
		if (i == 0)
			first = n.id;
	}
	return first;
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
