// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests of server/store/store_meta.c on a real SQLite file: custom data
 * of pools and nodes (bytes exact, empty blobs, replacing, clearing, an
 * owner that does not exist, the two owner kinds kept apart, the blob going
 * with its owner), and which reimage task wrote a slot (what the NoCloud
 * instance-id is made of).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "store-internal.h"
#include "store.h"
#include "testutil.h"

static int setup(void **state) { return store_fx_setup(state, "store-meta"); }
static int teardown(void **state) { return store_fx_teardown(state); }

static int64_t add_image(struct store *s, const char *name)
{
	struct bw_image img;
	struct store_err err = { .field = "" };
	model_init(&model_image, &img);
	snprintf(img.name, sizeof(img.name), "%s", name);
	assert_int_equal(store_insert(s, &model_image, &img, &err), 0);
	return img.id;
}

static int64_t add_pool(struct store *s, const char *name, int64_t image)
{
	struct bw_pool p;
	struct store_err err = { .field = "" };
	model_init(&model_pool, &p);
	snprintf(p.name, sizeof(p.name), "%s", name);
	p.image = image;
	assert_int_equal(store_insert(s, &model_pool, &p, &err), 0);
	return p.id;
}

static int64_t add_node(struct store *s, const char *name, const char *mac, int64_t pool)
{
	struct bw_node n;
	struct store_err err = { .field = "" };
	model_init(&model_node, &n);
	snprintf(n.name, sizeof(n.name), "%s", name);
	snprintf(n.mac, sizeof(n.mac), "%s", mac);
	n.pool = pool;
	assert_int_equal(store_insert(s, &model_node, &n, &err), 0);
	return n.id;
}

/* The custom data of owner equals data[len]. */
static void expect_data(struct store *s, enum store_owner owner, int64_t id, const void *data, size_t len)
{
	uint8_t *got = NULL;
	size_t n = 99;
	assert_int_equal(store_custom_data_get(s, owner, id, &got, &n), 0);
	assert_non_null(got);
	assert_int_equal(n, len);
	if (len)
		assert_memory_equal(got, data, len);
	free(got);
}

static void expect_none(struct store *s, enum store_owner owner, int64_t id)
{
	uint8_t *got = (uint8_t *)"untouched";
	size_t n = 99;
	assert_int_equal(store_custom_data_get(s, owner, id, &got, &n), -ENOENT);
	/* Outputs are written only on success. */
	assert_string_equal((const char *)got, "untouched");
	assert_int_equal(n, 99);
}

static int64_t rows(struct store *s)
{
	sqlite3_stmt *st;
	int64_t n;
	assert_int_equal(sqlite3_prepare_v2(s->w.db, "SELECT count(*) FROM custom_data", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

static void test_custom_data(void **state)
{
	struct store_fx *f = *state;
	struct store *s = f->s;
	static const uint8_t bin[] = { 0x1f, 0x8b, 0x00, 0xff, '\n', 0x00 };
	int64_t img = add_image(s, "os");
	int64_t pool = add_pool(s, "p1", img);
	int64_t node = add_node(s, "n1", "52:54:00:00:00:01", pool);
	struct store_err err = { .field = "" };

	/* The pool and the node have the same id: the owner kind keeps them apart. */
	assert_int_equal(pool, node);
	expect_none(s, STORE_OWNER_POOL, pool);
	expect_none(s, STORE_OWNER_NODE, node);
	assert_int_equal(store_custom_data_put(s, STORE_OWNER_POOL, pool, "#cloud-config\n", 14), 0);
	expect_data(s, STORE_OWNER_POOL, pool, "#cloud-config\n", 14);
	expect_none(s, STORE_OWNER_NODE, node);

	/* Bytes exact, NULs included; a put replaces. */
	assert_int_equal(store_custom_data_put(s, STORE_OWNER_NODE, node, bin, sizeof(bin)), 0);
	expect_data(s, STORE_OWNER_NODE, node, bin, sizeof(bin));
	assert_int_equal(store_custom_data_put(s, STORE_OWNER_NODE, node, "x", 1), 0);
	expect_data(s, STORE_OWNER_NODE, node, "x", 1);
	/* An empty blob is a blob (the API refuses it, the store need not). */
	assert_int_equal(store_custom_data_put(s, STORE_OWNER_NODE, node, NULL, 0), 0);
	expect_data(s, STORE_OWNER_NODE, node, "", 0);
	assert_int_equal(rows(s), 2);

	/* No such owner: nothing written. */
	assert_int_equal(store_custom_data_put(s, STORE_OWNER_NODE, node + 100, "x", 1), -ENOENT);
	assert_int_equal(store_custom_data_put(s, STORE_OWNER_POOL, pool + 100, "x", 1), -ENOENT);
	assert_int_equal(rows(s), 2);
	assert_int_equal(store_custom_data_put(s, (enum store_owner)7, node, "x", 1), -EINVAL);

	/* Clearing. */
	assert_int_equal(store_custom_data_delete(s, STORE_OWNER_NODE, node), 0);
	expect_none(s, STORE_OWNER_NODE, node);
	assert_int_equal(store_custom_data_delete(s, STORE_OWNER_NODE, node), -ENOENT);
	expect_data(s, STORE_OWNER_POOL, pool, "#cloud-config\n", 14);

	/* A blob goes with its owner, so an id used again starts with none. */
	assert_int_equal(store_custom_data_put(s, STORE_OWNER_NODE, node, "mine", 4), 0);
	assert_int_equal(store_delete(s, &model_node, node, &err), 0);
	assert_int_equal(rows(s), 1);
	assert_int_equal(add_node(s, "n2", "52:54:00:00:00:02", 0), node);
	expect_none(s, STORE_OWNER_NODE, node);
	assert_int_equal(store_delete(s, &model_pool, pool, &err), 0);
	assert_int_equal(rows(s), 0);
}

/* A task of node writing slot, finished in state. */
static int64_t add_task(struct store *s, int64_t node, int64_t image, const char *slot, const char *state)
{
	struct bw_task t;
	struct store_err err = { .field = "" };
	bool mask[MODEL_MAX_FIELDS] = { false };

	model_init(&model_task, &t);
	t.node = node;
	t.image = image;
	snprintf(t.version, sizeof(t.version), "v1");
	snprintf(t.slot, sizeof(t.slot), "%s", slot);
	assert_int_equal(store_task_create(s, &t, &err), 0);
	snprintf(t.state, sizeof(t.state), "%s", state);
	for (size_t i = 0; i < model_task.n_fields; i++)
		mask[i] = strcmp(model_task.fields[i].name, "state") == 0;
	assert_int_equal(store_update(s, &model_task, &t, mask, &err), 0);
	return t.id;
}

static void test_slot_task(void **state)
{
	struct store_fx *f = *state;
	struct store *s = f->s;
	int64_t img = add_image(s, "os");
	int64_t n1 = add_node(s, "n1", "52:54:00:00:00:01", 0), n2 = add_node(s, "n2", "52:54:00:00:00:02", 0);
	int64_t task = -1, a1, a2, b1;

	assert_int_equal(store_slot_task(s, n1, "a", &task), -ENOENT);
	assert_int_equal(task, -1);
	a1 = add_task(s, n1, img, "a", "succeeded");
	assert_int_equal(store_slot_task(s, n1, "a", &task), 0);
	assert_int_equal(task, a1);
	/* A failed or unfinished write does not count; the other node's neither. */
	add_task(s, n1, img, "b", "failed");
	add_task(s, n2, img, "b", "succeeded");
	add_task(s, n1, img, "b", "running");
	assert_int_equal(store_slot_task(s, n1, "b", &task), -ENOENT);
	b1 = add_task(s, n1, img, "b", "succeeded");
	assert_int_equal(store_slot_task(s, n1, "b", &task), 0);
	assert_int_equal(task, b1);
	/* Slot a is written again: the newest write is what it holds. */
	a2 = add_task(s, n1, img, "a", "succeeded");
	assert_true(a2 > a1);
	assert_int_equal(store_slot_task(s, n1, "a", &task), 0);
	assert_int_equal(task, a2);
	assert_int_equal(store_slot_task(s, n1, "b", &task), 0);
	assert_int_equal(task, b1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_custom_data, setup, teardown),
		cmocka_unit_test_setup_teardown(test_slot_task, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
