// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests of server/store/: opening and migrating a real SQLite file in a
 * temporary directory, the generic row operations driven by lib/model.h,
 * pagination and filters, atomic image-version publishing, "latest"
 * resolution, tokens with a fake clock, and the promise of store.h that a
 * failed write leaves the database exactly as it was (checked by dumping
 * every table through a second, raw sqlite3 connection).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crypto.h"
#include "fsutil.h"
#include "log.h"
#include "model.h"
#include "store-internal.h"
#include "store.h"
#include "testutil.h"

static int setup(void **state) { return store_fx_setup(state, "store"); }
static int teardown(void **state) { return store_fx_teardown(state); }

/* ---- helpers ---- */

static int64_t add_site(struct store *s, const char *name)
{
	struct bw_site site;
	struct store_err err = { .field = "" };
	model_init(&model_site, &site);
	snprintf(site.name, sizeof(site.name), "%s", name);
	assert_int_equal(store_insert(s, &model_site, &site, &err), 0);
	assert_true(site.id > 0);
	return site.id;
}

static int64_t add_zone(struct store *s, const char *name, int64_t site)
{
	struct bw_zone z;
	struct store_err err = { .field = "" };
	model_init(&model_zone, &z);
	snprintf(z.name, sizeof(z.name), "%s", name);
	z.site = site;
	assert_int_equal(store_insert(s, &model_zone, &z, &err), 0);
	return z.id;
}

static void node_init(struct bw_node *n, const char *name, const char *mac, int64_t zone)
{
	model_init(&model_node, n);
	snprintf(n->name, sizeof(n->name), "%s", name);
	snprintf(n->mac, sizeof(n->mac), "%s", mac);
	n->zone = zone;
}

static int64_t add_node(struct store *s, const char *name, const char *mac, int64_t zone)
{
	struct bw_node n;
	struct store_err err = { .field = "" };
	node_init(&n, name, mac, zone);
	assert_int_equal(store_insert(s, &model_node, &n, &err), 0);
	return n.id;
}

static int64_t add_image(struct store *s, const char *name)
{
	struct bw_image img;
	struct store_err err = { .field = "" };
	model_init(&model_image, &img);
	snprintf(img.name, sizeof(img.name), "%s", name);
	assert_int_equal(store_insert(s, &model_image, &img, &err), 0);
	return img.id;
}

static void version_init(struct bw_image_version *v, int64_t image, const char *version)
{
	model_init(&model_image_version, v);
	v->image = image;
	snprintf(v->version, sizeof(v->version), "%s", version);
	snprintf(v->sha256, sizeof(v->sha256), "%064d", 0);
	snprintf(v->artifact, sizeof(v->artifact), "rootfs.img");
	v->size = 4096;
}

static int commit_ok(void *userdata)
{
	(*(int *)userdata)++;
	return 0;
}

static int commit_fail(void *userdata)
{
	(*(int *)userdata)++;
	return -EIO;
}

static int64_t add_version(struct store *s, int64_t image, const char *version, bool excluded)
{
	struct bw_image_version v;
	struct store_err err = { .field = "" };
	int calls = 0;
	version_init(&v, image, version);
	v.exclude_from_latest = excluded;
	assert_int_equal(store_version_publish(s, &v, commit_ok, &calls, &err), 0);
	assert_int_equal(calls, 1);
	return v.id;
}

static sqlite3 *raw_open(const char *path)
{
	sqlite3 *db = NULL;
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	return db;
}

static int64_t raw_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	int64_t v;
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/*
 * Text of every row of every table (tables by name, rows by id), through a
 * separate connection: what "the database" holds, independent of the store.
 * The caller frees the result.
 */
static char *dump_db(const char *path)
{
	sqlite3 *db = raw_open(path);
	sqlite3_stmt *tables, *rows;
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);

	assert_non_null(out);
	assert_int_equal(sqlite3_prepare_v2(db,
					    "SELECT name FROM sqlite_master WHERE type = 'table'"
					    " ORDER BY name",
					    -1, &tables, NULL),
			 SQLITE_OK);
	while (sqlite3_step(tables) == SQLITE_ROW) {
		char sql[160];
		const char *t = (const char *)sqlite3_column_text(tables, 0);
		fprintf(out, "== %s\n", t);
		snprintf(sql, sizeof(sql), "SELECT * FROM \"%s\" ORDER BY 1, 2", t); /* the first columns: id, or the key of a table without one */
		assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &rows, NULL), SQLITE_OK);
		while (sqlite3_step(rows) == SQLITE_ROW) {
			for (int c = 0; c < sqlite3_column_count(rows); c++) {
				fprintf(out, "%s%s=", c ? "|" : "", sqlite3_column_name(rows, c));
				switch (sqlite3_column_type(rows, c)) {
				case SQLITE_NULL:
					fprintf(out, "NULL");
					break;
				case SQLITE_BLOB: {
					const unsigned char *b = sqlite3_column_blob(rows, c);
					int n = sqlite3_column_bytes(rows, c);
					fprintf(out, "x'");
					for (int i = 0; i < n; i++)
						fprintf(out, "%02x", b[i]);
					fprintf(out, "'");
					break;
				}
				default:
					fprintf(out, "'%s'", (const char *)sqlite3_column_text(rows, c));
				}
			}
			fprintf(out, "\n");
		}
		sqlite3_finalize(rows);
	}
	sqlite3_finalize(tables);
	sqlite3_close(db);
	fclose(out);
	return buf;
}

/* ---- open and schema ---- */

static void test_open_creates_schema(void **state)
{
	struct store_fx *f = *state;
	sqlite3 *db;

	assert_true(store_schema_latest() >= 1);
	assert_int_equal(store_schema_version(f->s), store_schema_latest());
	assert_int_equal(store_schema_latest(), store_n_migrations);
	db = raw_open(f->path);
	assert_int_equal(raw_int(db, "PRAGMA user_version"), store_schema_latest());
	for (size_t i = 0; models[i]; i++) {
		char sql[128];
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '%s'",
			 models[i]->plural);
		assert_int_equal(raw_int(db, sql), 1);
	}
	sqlite3_close(db);
	/* Masks of fields are MODEL_MAX_FIELDS long everywhere: no model may outgrow them. */
	for (const struct model *const *m = models; *m; m++)
		assert_true((*m)->n_fields <= MODEL_MAX_FIELDS);
}

static void test_open_is_wal_with_foreign_keys(void **state)
{
	struct store_fx *f = *state;
	sqlite3_stmt *st;
	int fk = -1;

	assert_int_equal(sqlite3_prepare_v2(f->s->w.db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
	sqlite3_finalize(st);
	assert_int_equal(sqlite3_prepare_v2(f->s->w.db, "PRAGMA foreign_keys", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	fk = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	assert_int_equal(fk, 1);
}

static void test_reopen_keeps_data(void **state)
{
	struct store_fx *f = *state;
	struct store_err err = { .field = "" };
	struct bw_site site;
	int64_t id = add_site(f->s, "dc1");

	store_close(f->s);
	f->s = NULL;
	assert_int_equal(store_open(f->path, &f->s, &err), 0);
	assert_int_equal(store_schema_version(f->s), store_schema_latest());
	assert_int_equal(store_get(f->s, &model_site, id, &site), 0);
	assert_string_equal(site.name, "dc1");
	assert_int_equal(site.created_at, 1700000000);
}

static void test_open_refuses_newer_schema(void **state)
{
	struct store_fx *f = *state;
	struct store_err err = { .field = "", .message = "" };
	struct store *s2 = NULL;
	sqlite3 *db;

	store_close(f->s);
	f->s = NULL;
	db = raw_open(f->path);
	assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(store_open(f->path, &s2, &err), -EPROTO);
	assert_null(s2);
	assert_non_null(strstr(err.message, "99"));
	/* The database was not touched. */
	db = raw_open(f->path);
	assert_int_equal(raw_int(db, "PRAGMA user_version"), 99);
	sqlite3_close(db);
	/* Put it back so that teardown has a store to close. */
	db = raw_open(f->path);
	{
		char sql[64];
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", store_schema_latest());
		assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	}
	sqlite3_close(db);
	assert_int_equal(store_open(f->path, &f->s, &err), 0);
}

/* A database left by the first release migrates forward with its rows. */
static void test_migrates_old_schema_with_data(void **state)
{
	struct store_fx *f = *state;
	struct store_err err = { .field = "", .message = "" };
	struct bw_node n;
	char path[192];
	struct store *s2 = NULL;
	sqlite3 *db;

	snprintf(path, sizeof(path), "%s/old.db", f->dir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, store_migrations[0], NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
				      "PRAGMA user_version = 1;"
				      "INSERT INTO nodes (name, mac, update_domain, bmc_driver, bmc_insecure_tls,"
				      " state, created_at, updated_at) VALUES ('old', '52:54:00:00:00:99', 3,"
				      " 'none', 0, 'active', 1, 1)",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(store_open(path, &s2, &err), 0);
	assert_int_equal(store_schema_version(s2), store_schema_latest());
	assert_int_equal(store_get_by_key(s2, &model_node, 0, "old", &n), 0);
	assert_string_equal(n.mac, "52:54:00:00:00:99");
	assert_int_equal(n.update_domain, 3);
	assert_string_equal(n.state, "active");
	assert_string_equal(n.ip_address, "");
	assert_string_equal(n.active_slot, "none");
	store_close(s2);
}

static void test_open_bad_path(void **state)
{
	struct store_fx *f = *state;
	struct store_err err = { .field = "", .message = "" };
	struct store *s2 = NULL;
	char path[192];

	snprintf(path, sizeof(path), "%s/no/such/dir/x.db", f->dir);
	assert_true(store_open(path, &s2, &err) < 0);
	assert_null(s2);
	assert_true(err.message[0] != '\0');
	store_close(NULL); /* NULL is fine */
}

static void test_every_field_has_a_column(void **state)
{
	struct store_fx *f = *state;
	sqlite3 *db = raw_open(f->path);

	for (size_t i = 0; models[i]; i++) {
		const struct model *m = models[i];
		char sql[128];
		size_t ncols = 0;
		sqlite3_stmt *st;
		char cols[64][80];

		snprintf(sql, sizeof(sql), "PRAGMA table_info(%s)", m->plural);
		assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
		while (sqlite3_step(st) == SQLITE_ROW) {
			assert_true(ncols < 64);
			snprintf(cols[ncols++], sizeof(cols[0]), "%s", (const char *)sqlite3_column_text(st, 1));
		}
		sqlite3_finalize(st);
		assert_true(ncols > 0);
		for (size_t j = 0; j < m->n_fields; j++) {
			char col[80];
			bool found = false;
			store_column_name(&m->fields[j], col, sizeof(col));
			for (size_t k = 0; k < ncols; k++)
				found |= strcmp(cols[k], col) == 0;
			if (!found)
				fail_msg("table %s has no column %s for field %s", m->plural, col, m->fields[j].name);
		}
	}
	sqlite3_close(db);
}

static void test_column_names(void **state)
{
	char col[80];
	(void)state;
	store_column_name(model_field(&model_zone, "site"), col, sizeof(col));
	assert_string_equal(col, "site_id");
	store_column_name(model_field(&model_node, "bmc_password"), col, sizeof(col));
	assert_string_equal(col, "bmc_password_sealed");
	store_column_name(model_field(&model_node, "mac"), col, sizeof(col));
	assert_string_equal(col, "mac");
}

/* ---- generic rows ---- */

static void test_site_crud(void **state)
{
	struct store_fx *f = *state;
	struct store_err err = { .field = "" };
	struct bw_site site, got;
	bool mask[MODEL_MAX_FIELDS] = { false };
	char key[64];

	model_init(&model_site, &site);
	snprintf(site.name, sizeof(site.name), "dc1");
	snprintf(site.description, sizeof(site.description), "first");
	site.id = 999; /* ignored */
	assert_int_equal(store_insert(f->s, &model_site, &site, &err), 0);
	assert_true(site.id > 0 && site.id != 999);
	assert_int_equal(site.created_at, 1700000000);
	assert_int_equal(site.updated_at, 1700000000);

	assert_int_equal(store_get(f->s, &model_site, site.id, &got), 0);
	assert_int_equal(got.id, site.id);
	assert_string_equal(got.name, "dc1");
	assert_string_equal(got.description, "first");
	assert_int_equal(got.paired_with, 0);
	assert_int_equal(got.created_at, 1700000000);

	memset(&got, 0, sizeof(got));
	assert_int_equal(store_get_by_key(f->s, &model_site, 0, "dc1", &got), 0);
	assert_int_equal(got.id, site.id);
	assert_int_equal(store_get_by_key(f->s, &model_site, 0, "dc2", &got), -ENOENT);
	assert_int_equal(store_key_of(f->s, &model_site, site.id, key, sizeof(key)), 0);
	assert_string_equal(key, "dc1");
	assert_int_equal(store_key_of(f->s, &model_site, site.id + 100, key, sizeof(key)), -ENOENT);

	/* Update with a mask: only description is written. */
	fake_now += 60;
	snprintf(site.description, sizeof(site.description), "second");
	snprintf(site.name, sizeof(site.name), "renamed");
	mask[model_field(&model_site, "description") - model_site.fields] = true;
	assert_int_equal(store_update(f->s, &model_site, &site, mask, &err), 0);
	assert_int_equal(site.updated_at, 1700000060);
	assert_int_equal(store_get(f->s, &model_site, site.id, &got), 0);
	assert_string_equal(got.name, "dc1");
	assert_string_equal(got.description, "second");
	assert_int_equal(got.created_at, 1700000000);
	assert_int_equal(got.updated_at, 1700000060);

	/* Update without a mask: every writable field. */
	assert_int_equal(store_update(f->s, &model_site, &site, NULL, &err), 0);
	assert_int_equal(store_get(f->s, &model_site, site.id, &got), 0);
	assert_string_equal(got.name, "renamed");
	assert_int_equal(got.created_at, 1700000000);

	assert_int_equal(store_delete(f->s, &model_site, site.id, &err), 0);
	assert_int_equal(store_get(f->s, &model_site, site.id, &got), -ENOENT);
	assert_int_equal(store_delete(f->s, &model_site, site.id, &err), -ENOENT);
	assert_int_equal(store_update(f->s, &model_site, &site, NULL, &err), -ENOENT);
}

static void test_zone_crud(void **state)
{
	struct store_fx *f = *state;
	struct store_err err = { .field = "" };
	int64_t s1 = add_site(f->s, "dc1"), s2 = add_site(f->s, "dc2");
	struct bw_zone z, got;
	bool mask[MODEL_MAX_FIELDS] = { false };

	model_init(&model_zone, &z);
	snprintf(z.name, sizeof(z.name), "z1");
	z.site = s1;
	assert_int_equal(store_insert(f->s, &model_zone, &z, &err), 0);
	assert_int_equal(store_get(f->s, &model_zone, z.id, &got), 0);
	assert_int_equal(got.site, s1);
	assert_int_equal(store_get_by_key(f->s, &model_zone, 0, "z1", &got), 0);
	assert_int_equal(got.id, z.id);

	z.site = s2;
	mask[model_field(&model_zone, "site") - model_zone.fields] = true;
	assert_int_equal(store_update(f->s, &model_zone, &z, mask, &err), 0);
	assert_int_equal(store_get(f->s, &model_zone, z.id, &got), 0);
	assert_int_equal(got.site, s2);

	/* s1 is free now, s2 is not. */
	assert_int_equal(store_delete(f->s, &model_site, s1, &err), 0);
	assert_int_equal(store_delete(f->s, &model_zone, z.id, &err), 0);
	assert_int_equal(store_delete(f->s, &model_site, s2, &err), 0);
}

static void test_node_crud_all_fields(void **state)
{
	struct store_fx *f = *state;
	struct store_err err = { .field = "" };
	int64_t zone = add_zone(f->s, "z1", add_site(f->s, "dc1"));
	struct bw_node n, got;
	bool mask[MODEL_MAX_FIELDS] = { false };

	node_init(&n, "web-1", "52:54:00:12:34:56", zone);
	n.fault_domain = 3;
	n.update_domain = 7;
	snprintf(n.bmc_driver, sizeof(n.bmc_driver), "ipmi");
	snprintf(n.bmc_address, sizeof(n.bmc_address), "10.0.0.10");
	n.bmc_port = INT_NULL;
	snprintf(n.bmc_username, sizeof(n.bmc_username), "ADMIN");
	n.bmc_password.len = 40;
	for (size_t i = 0; i < n.bmc_password.len; i++)
		n.bmc_password.data[i] = (uint8_t)(i * 7 + 1);
	n.bmc_insecure_tls = true;
	snprintf(n.os_disk, sizeof(n.os_disk), "/dev/sda");
	snprintf(n.data_disks, sizeof(n.data_disks), "[\"/dev/sdb\"]");
	assert_int_equal(store_insert(f->s, &model_node, &n, &err), 0);

	assert_int_equal(store_get(f->s, &model_node, n.id, &got), 0);
	assert_string_equal(got.name, "web-1");
	assert_string_equal(got.mac, "52:54:00:12:34:56");
	assert_int_equal(got.zone, zone);
	assert_int_equal(got.rack, 0);
	assert_int_equal(got.pool, 0);
	assert_int_equal(got.fault_domain, 3);
	assert_int_equal(got.update_domain, 7);
	assert_string_equal(got.bmc_driver, "ipmi");
	assert_string_equal(got.bmc_address, "10.0.0.10");
	assert_true(got.bmc_port == INT_NULL);
	assert_string_equal(got.bmc_username, "ADMIN");
	assert_int_equal(got.bmc_password.len, 40);
	assert_memory_equal(got.bmc_password.data, n.bmc_password.data, 40);
	assert_true(got.bmc_insecure_tls);
	assert_string_equal(got.os_disk, "/dev/sda");
	assert_string_equal(got.data_disks, "[\"/dev/sdb\"]");
	assert_string_equal(got.state, "new");

	assert_int_equal(store_get_by_key(f->s, &model_node, 0, "web-1", &got), 0);
	assert_int_equal(got.id, n.id);

	/* Masked update of a read-only field (the server sets state this way). */
	snprintf(n.state, sizeof(n.state), "active");
	n.update_domain = 1; /* not in the mask: must not be written */
	n.bmc_password.len = 0;
	mask[model_field(&model_node, "state") - model_node.fields] = true;
	mask[model_field(&model_node, "bmc_password") - model_node.fields] = true;
	assert_int_equal(store_update(f->s, &model_node, &n, mask, &err), 0);
	assert_int_equal(store_get(f->s, &model_node, n.id, &got), 0);
	assert_string_equal(got.state, "active");
	assert_int_equal(got.update_domain, 7);
	assert_int_equal(got.bmc_password.len, 0);

	assert_int_equal(store_delete(f->s, &model_node, n.id, &err), 0);
	assert_int_equal(store_get_by_key(f->s, &model_node, 0, "web-1", &got), -ENOENT);
}

static void test_duplicate_mac(void **state)
{
	struct store_fx *f = *state;
	struct store_err err = { .field = "", .message = "" };
	struct bw_node n;

	add_node(f->s, "web-1", "52:54:00:12:34:56", 0);
	node_init(&n, "web-2", "52:54:00:12:34:56", 0);
	assert_int_equal(store_insert(f->s, &model_node, &n, &err), -EEXIST);
	assert_string_equal(err.field, "mac");
	assert_true(err.message[0] != '\0');
}

static void test_duplicate_name(void **state)
{
	struct store_fx *f = *state;
	struct store_err err = { .field = "" };
	struct bw_node n;

	add_node(f->s, "web-1", "52:54:00:12:34:56", 0);
	node_init(&n, "web-1", "52:54:00:12:34:57", 0);
	assert_int_equal(store_insert(f->s, &model_node, &n, &err), -EEXIST);
	assert_string_equal(err.field, "name");
}

static void test_update_to_duplicate_mac(void **state)
{
	struct store_fx *f = *state;
	struct store_err err = { .field = "" };
	struct bw_node n;

	add_node(f->s, "web-1", "52:54:00:12:34:56", 0);
	assert_int_equal(store_get(f->s, &model_node, add_node(f->s, "web-2", "52:54:00:12:34:57", 0), &n), 0);
	snprintf(n.mac, sizeof(n.mac), "52:54:00:12:34:56");
	assert_int_equal(store_update(f->s, &model_node, &n, NULL, &err), -EEXIST);
	assert_string_equal(err.field, "mac");
}

static void test_delete_referenced_site(void **state)
{
	struct store_fx *f = *state;
	struct store_err err = { .field = "" };
	struct bw_site site;
	int64_t s1 = add_site(f->s, "dc1");

	add_zone(f->s, "z1", s1);
	assert_int_equal(store_delete(f->s, &model_site, s1, &err), -EBUSY);
	assert_int_equal(store_get(f->s, &model_site, s1, &site), 0);
	assert_string_equal(site.name, "dc1");
}

static void test_insert_with_missing_reference(void **state)
{
	struct store_fx *f = *state;
	struct store_err err = { .field = "" };
	struct bw_zone z;

	model_init(&model_zone, &z);
	snprintf(z.name, sizeof(z.name), "z1");
	z.site = 4242;
	assert_int_equal(store_insert(f->s, &model_zone, &z, &err), -EBUSY);
	assert_int_equal(store_get_by_key(f->s, &model_zone, 0, "z1", &z), -ENOENT);
}

static void test_failed_insert_leaves_store_unchanged(void **state)
{
	struct store_fx *f = *state;
	struct store_err err = { .field = "" };
	struct bw_node n;
	char *before, *after;
	int64_t zone = add_zone(f->s, "z1", add_site(f->s, "dc1"));

	add_node(f->s, "web-1", "52:54:00:12:34:56", zone);
	add_node(f->s, "web-2", "52:54:00:12:34:57", zone);
	before = dump_db(f->path);
	assert_non_null(strstr(before, "web-2"));
	fake_now += 3600;
	node_init(&n, "web-3", "52:54:00:12:34:57", zone);
	assert_int_equal(store_insert(f->s, &model_node, &n, &err), -EEXIST);
	after = dump_db(f->path);
	assert_string_equal(before, after);
	free(before);
	free(after);
}

static void test_failed_delete_leaves_store_unchanged(void **state)
{
	struct store_fx *f = *state;
	struct store_err err = { .field = "" };
	char *before, *after;
	int64_t site = add_site(f->s, "dc1");
	int64_t zone = add_zone(f->s, "z1", site);

	add_node(f->s, "web-1", "52:54:00:12:34:56", zone);
	before = dump_db(f->path);
	assert_int_equal(store_delete(f->s, &model_site, site, &err), -EBUSY);
	after = dump_db(f->path);
	assert_string_equal(before, after);
	free(after);
	assert_int_equal(store_delete(f->s, &model_zone, zone, &err), -EBUSY);
	after = dump_db(f->path);
	assert_string_equal(before, after);
	free(before);
	free(after);
}

static void test_failed_publish_leaves_store_unchanged(void **state)
{
	struct store_fx *f = *state;
	struct store_err err = { .field = "" };
	struct bw_image_version v;
	char *before, *after;
	int64_t img = add_image(f->s, "os-base");
	int calls = 0;

	add_version(f->s, img, "1.0", false);
	before = dump_db(f->path);
	version_init(&v, img, "2.0");
	assert_int_equal(store_version_publish(f->s, &v, commit_fail, &calls, &err), -EIO);
	after = dump_db(f->path);
	assert_string_equal(before, after);
	free(after);
	version_init(&v, img, "1.0");
	assert_int_equal(store_version_publish(f->s, &v, commit_ok, &calls, &err), -EEXIST);
	after = dump_db(f->path);
	assert_string_equal(before, after);
	free(before);
	free(after);
}

/* ---- listing ---- */

struct collect {
	int64_t ids[64];
	size_t n;
	size_t stop_after; /* 0: never */
};

static int collect_cb(const void *obj, void *userdata)
{
	struct collect *c = userdata;
	assert_true(c->n < 64);
	c->ids[c->n++] = *(const int64_t *)obj;
	if (c->stop_after && c->n == c->stop_after)
		return 42;
	return 0;
}

static void test_list_pagination(void **state)
{
	struct store_fx *f = *state;
	int64_t ids[25];
	struct collect c = { .n = 0 };
	bool more = false;
	int64_t after = 0;

	for (int i = 0; i < 25; i++) {
		char name[16];
		snprintf(name, sizeof(name), "s%02d", i);
		ids[i] = add_site(f->s, name);
	}
	assert_int_equal(store_list(f->s, &model_site, NULL, 0, after, 10, collect_cb, &c, &more), 0);
	assert_int_equal(c.n, 10);
	assert_true(more);
	for (size_t i = 0; i < 10; i++)
		assert_int_equal(c.ids[i], ids[i]);
	after = c.ids[c.n - 1];

	c.n = 0;
	assert_int_equal(store_list(f->s, &model_site, NULL, 0, after, 10, collect_cb, &c, &more), 0);
	assert_int_equal(c.n, 10);
	assert_true(more);
	for (size_t i = 0; i < 10; i++)
		assert_int_equal(c.ids[i], ids[10 + i]);
	after = c.ids[c.n - 1];

	c.n = 0;
	more = true;
	assert_int_equal(store_list(f->s, &model_site, NULL, 0, after, 10, collect_cb, &c, &more), 0);
	assert_int_equal(c.n, 5);
	assert_false(more);
	for (size_t i = 0; i < 5; i++)
		assert_int_equal(c.ids[i], ids[20 + i]);

	/* Past the end: nothing, no more. */
	c.n = 0;
	more = true;
	assert_int_equal(store_list(f->s, &model_site, NULL, 0, ids[24], 10, collect_cb, &c, &more), 0);
	assert_int_equal(c.n, 0);
	assert_false(more);

	/* Exactly a page left: no more. */
	c.n = 0;
	more = true;
	assert_int_equal(store_list(f->s, &model_site, NULL, 0, ids[14], 10, collect_cb, &c, &more), 0);
	assert_int_equal(c.n, 10);
	assert_false(more);

	/* limit <= 0: all of them; ret_more may be NULL. */
	c.n = 0;
	assert_int_equal(store_list(f->s, &model_site, NULL, 0, 0, 0, collect_cb, &c, NULL), 0);
	assert_int_equal(c.n, 25);
}

static void test_list_callback_stops(void **state)
{
	struct store_fx *f = *state;
	struct collect c = { .n = 0, .stop_after = 3 };

	for (int i = 0; i < 6; i++) {
		char name[16];
		snprintf(name, sizeof(name), "s%d", i);
		add_site(f->s, name);
	}
	assert_int_equal(store_list(f->s, &model_site, NULL, 0, 0, 0, collect_cb, &c, NULL), 42);
	assert_int_equal(c.n, 3);
}

/* The callback may call the store (the lock is recursive). */
static int nested_cb(const void *obj, void *userdata)
{
	const struct bw_zone *z = obj;
	struct store *s = userdata;
	struct bw_site site;
	assert_int_equal(store_get(s, &model_site, z->site, &site), 0);
	assert_string_equal(site.name, "dc1");
	return 0;
}

static void test_list_callback_may_use_store(void **state)
{
	struct store_fx *f = *state;
	add_zone(f->s, "z1", add_site(f->s, "dc1"));
	assert_int_equal(store_list(f->s, &model_zone, NULL, 0, 0, 0, nested_cb, f->s, NULL), 0);
}

static int write_cb(const void *obj, void *userdata)
{
	struct store *s = userdata;
	struct bw_site site;
	(void)obj;
	add_site(s, "from-callback");
	assert_int_equal(store_get_by_key(s, &model_site, 0, "from-callback", &site), 0);
	return 0;
}

static void test_list_filters(void **state)
{
	struct store_fx *f = *state;
	int64_t site = add_site(f->s, "dc1");
	int64_t za = add_zone(f->s, "za", site), zb = add_zone(f->s, "zb", site);
	int64_t a1 = add_node(f->s, "a1", "52:54:00:00:00:01", za);
	int64_t b1 = add_node(f->s, "b1", "52:54:00:00:00:02", zb);
	int64_t a2 = add_node(f->s, "a2", "52:54:00:00:00:03", za);
	int64_t n1 = add_node(f->s, "n1", "52:54:00:00:00:04", 0);
	struct store_err err = { .field = "" };
	struct store_filter flt[2];
	struct collect c = { .n = 0 };
	struct bw_node node;
	bool mask[MODEL_MAX_FIELDS] = { false };

	/* By reference id. */
	flt[0] = (struct store_filter){ .field = model_field(&model_node, "zone"), .ival = za };
	assert_int_equal(store_list(f->s, &model_node, flt, 1, 0, 0, collect_cb, &c, NULL), 0);
	assert_int_equal(c.n, 2);
	assert_int_equal(c.ids[0], a1);
	assert_int_equal(c.ids[1], a2);

	/* By reference 0: rows where it is NULL. */
	c.n = 0;
	flt[0].ival = 0;
	assert_int_equal(store_list(f->s, &model_node, flt, 1, 0, 0, collect_cb, &c, NULL), 0);
	assert_int_equal(c.n, 1);
	assert_int_equal(c.ids[0], n1);

	/* By string. */
	c.n = 0;
	flt[0] = (struct store_filter){ .field = model_field(&model_node, "mac"), .sval = "52:54:00:00:00:02" };
	assert_int_equal(store_list(f->s, &model_node, flt, 1, 0, 0, collect_cb, &c, NULL), 0);
	assert_int_equal(c.n, 1);
	assert_int_equal(c.ids[0], b1);

	/* By state, combined with a zone, and a bool. */
	assert_int_equal(store_get(f->s, &model_node, a2, &node), 0);
	snprintf(node.state, sizeof(node.state), "active");
	node.bmc_insecure_tls = true;
	mask[model_field(&model_node, "state") - model_node.fields] = true;
	mask[model_field(&model_node, "bmc_insecure_tls") - model_node.fields] = true;
	assert_int_equal(store_update(f->s, &model_node, &node, mask, &err), 0);

	c.n = 0;
	flt[0] = (struct store_filter){ .field = model_field(&model_node, "state"), .sval = "new" };
	flt[1] = (struct store_filter){ .field = model_field(&model_node, "zone"), .ival = za };
	assert_int_equal(store_list(f->s, &model_node, flt, 2, 0, 0, collect_cb, &c, NULL), 0);
	assert_int_equal(c.n, 1);
	assert_int_equal(c.ids[0], a1);

	c.n = 0;
	flt[0] = (struct store_filter){ .field = model_field(&model_node, "bmc_insecure_tls"), .ival = 1 };
	assert_int_equal(store_list(f->s, &model_node, flt, 1, 0, 0, collect_cb, &c, NULL), 0);
	assert_int_equal(c.n, 1);
	assert_int_equal(c.ids[0], a2);

	/* Filters and pagination together. */
	c.n = 0;
	bool more = false;
	flt[0] = (struct store_filter){ .field = model_field(&model_node, "zone"), .ival = za };
	assert_int_equal(store_list(f->s, &model_node, flt, 1, 0, 1, collect_cb, &c, &more), 0);
	assert_int_equal(c.n, 1);
	assert_int_equal(c.ids[0], a1);
	assert_true(more);
	c.n = 0;
	assert_int_equal(store_list(f->s, &model_node, flt, 1, a1, 1, collect_cb, &c, &more), 0);
	assert_int_equal(c.n, 1);
	assert_int_equal(c.ids[0], a2);
	assert_false(more);
}

/*
 * "limit <= 0: all", so any positive int is a valid limit, INT_MAX included:
 * the largest page must not overflow while the LIMIT clause is built (the
 * asan variant's UBSan aborts on signed overflow).
 */
static void test_list_largest_limit(void **state)
{
	struct store_fx *f = *state;
	struct collect c = { .n = 0 };
	bool more = true;

	for (int i = 0; i < 3; i++) {
		char name[16];
		snprintf(name, sizeof(name), "s%d", i);
		add_site(f->s, name);
	}
	assert_int_equal(store_list(f->s, &model_site, NULL, 0, 0, INT_MAX, collect_cb, &c, &more), 0);
	assert_int_equal(c.n, 3);
	assert_false(more);
}

/* ---- image versions ---- */

static void test_version_publish(void **state)
{
	struct store_fx *f = *state;
	struct store_err err = { .field = "", .message = "" };
	struct bw_image_version v, got;
	int64_t img = add_image(f->s, "os-base");
	int calls = 0;

	version_init(&v, img, "2.1.0");
	assert_int_equal(store_version_publish(f->s, &v, commit_ok, &calls, &err), 0);
	assert_int_equal(calls, 1);
	assert_true(v.id > 0);
	assert_int_equal(v.created_at, 1700000000);
	assert_int_equal(store_get_by_key(f->s, &model_image_version, img, "2.1.0", &got), 0);
	assert_int_equal(got.id, v.id);
	assert_int_equal(got.image, img);
	assert_string_equal(got.artifact, "rootfs.img");
	assert_int_equal(got.size, 4096);
	/* The key is scoped by the parent image. */
	assert_int_equal(store_get_by_key(f->s, &model_image_version, img + 1, "2.1.0", &got), -ENOENT);
}

static void test_version_publish_commit_fails(void **state)
{
	struct store_fx *f = *state;
	struct store_err err = { .field = "", .message = "" };
	struct bw_image_version v, got;
	int64_t img = add_image(f->s, "os-base");
	int calls = 0;

	version_init(&v, img, "2.1.0");
	assert_int_equal(store_version_publish(f->s, &v, commit_fail, &calls, &err), -EIO);
	assert_int_equal(calls, 1);
	assert_true(err.message[0] != '\0');
	assert_int_equal(store_get_by_key(f->s, &model_image_version, img, "2.1.0", &got), -ENOENT);
	assert_int_equal(store_version_latest(f->s, img, &got), -ENOENT);
	/* The rollback left no transaction open: the next write works. */
	version_init(&v, img, "2.1.0");
	assert_int_equal(store_version_publish(f->s, &v, commit_ok, &calls, &err), 0);
	assert_int_equal(store_get_by_key(f->s, &model_image_version, img, "2.1.0", &got), 0);
}

static void test_version_publish_duplicate(void **state)
{
	struct store_fx *f = *state;
	struct store_err err = { .field = "", .message = "" };
	struct bw_image_version v;
	int64_t img = add_image(f->s, "os-base");
	int calls = 0;

	add_version(f->s, img, "2.1.0", false);
	version_init(&v, img, "2.1.0");
	assert_int_equal(store_version_publish(f->s, &v, commit_ok, &calls, &err), -EEXIST);
	assert_int_equal(calls, 0); /* the artifact is not moved into place */
	assert_string_equal(err.field, "version");
	/* The same version of another image is fine. */
	version_init(&v, add_image(f->s, "os-other"), "2.1.0");
	assert_int_equal(store_version_publish(f->s, &v, commit_ok, &calls, &err), 0);
	/* And the store still takes writes. */
	add_version(f->s, img, "2.2.0", false);
}

static void test_version_latest(void **state)
{
	struct store_fx *f = *state;
	struct store_err err = { .field = "" };
	struct bw_image_version got;
	int64_t img = add_image(f->s, "os-base"), other = add_image(f->s, "other");
	bool mask[MODEL_MAX_FIELDS] = { false };

	assert_int_equal(store_version_latest(f->s, img, &got), -ENOENT);
	add_version(f->s, img, "v2", false);
	add_version(f->s, img, "v10", false);
	add_version(f->s, img, "v9", false);
	add_version(f->s, other, "v99", false);
	assert_int_equal(store_version_latest(f->s, img, &got), 0);
	assert_string_equal(got.version, "v10");
	assert_int_equal(got.image, img);

	/* Excluded versions are skipped. */
	int64_t v11 = add_version(f->s, img, "v11", true);
	assert_int_equal(store_version_latest(f->s, img, &got), 0);
	assert_string_equal(got.version, "v10");

	/* Including it again (update of exclude_from_latest) makes it latest. */
	assert_int_equal(store_get(f->s, &model_image_version, v11, &got), 0);
	got.exclude_from_latest = false;
	mask[model_field(&model_image_version, "exclude_from_latest") - model_image_version.fields] = true;
	assert_int_equal(store_update(f->s, &model_image_version, &got, mask, &err), 0);
	assert_int_equal(store_version_latest(f->s, img, &got), 0);
	assert_string_equal(got.version, "v11");

	assert_int_equal(store_version_latest(f->s, other, &got), 0);
	assert_string_equal(got.version, "v99");
}

static void test_version_latest_debian_order(void **state)
{
	struct store_fx *f = *state;
	struct bw_image_version got;
	int64_t img = add_image(f->s, "os-base");

	add_version(f->s, img, "1.0", false);
	add_version(f->s, img, "1.0~rc1", false);
	assert_int_equal(store_version_latest(f->s, img, &got), 0);
	assert_string_equal(got.version, "1.0");
	add_version(f->s, img, "1.0.1", false);
	add_version(f->s, img, "1.1~beta", false);
	assert_int_equal(store_version_latest(f->s, img, &got), 0);
	assert_string_equal(got.version, "1.1~beta");
}

static void test_version_latest_all_excluded(void **state)
{
	struct store_fx *f = *state;
	struct bw_image_version got;
	int64_t img = add_image(f->s, "os-base");

	add_version(f->s, img, "1.0", true);
	add_version(f->s, img, "2.0", true);
	assert_int_equal(store_version_latest(f->s, img, &got), -ENOENT);
}

static void test_version_pinned_by(void **state)
{
	struct store_fx *f = *state;
	struct store_err err = { .field = "" };
	struct bw_pool p;
	int64_t img = add_image(f->s, "os-base");
	char pool[64] = "";

	add_version(f->s, img, "v2", false);
	add_version(f->s, img, "v10", false);
	assert_int_equal(store_version_pinned_by(f->s, img, "v2", pool, sizeof(pool)), -ENOENT);

	model_init(&model_pool, &p);
	snprintf(p.name, sizeof(p.name), "web");
	p.image = img;
	snprintf(p.image_version, sizeof(p.image_version), "v2");
	assert_int_equal(store_insert(f->s, &model_pool, &p, &err), 0);
	model_init(&model_pool, &p);
	snprintf(p.name, sizeof(p.name), "db");
	p.image = img;
	assert_int_equal(store_insert(f->s, &model_pool, &p, &err), 0);

	assert_int_equal(store_version_pinned_by(f->s, img, "v2", pool, sizeof(pool)), 0);
	assert_string_equal(pool, "web");
	assert_int_equal(store_version_pinned_by(f->s, img, "v10", pool, sizeof(pool)), -ENOENT);
	assert_int_equal(store_version_pinned_by(f->s, img + 1, "v2", pool, sizeof(pool)), -ENOENT);
}

/* ---- tokens ---- */

static void token_init(struct bw_token *t, const char *name, const char *role)
{
	model_init(&model_token, t);
	snprintf(t->name, sizeof(t->name), "%s", name);
	snprintf(t->role, sizeof(t->role), "%s", role);
	snprintf(t->prefix, sizeof(t->prefix), "bw_0123456");
}

static void test_token_create_and_lookup(void **state)
{
	struct store_fx *f = *state;
	struct store_err err = { .field = "" };
	struct bw_token t, got;
	uint8_t h1[32], h2[32];
	int64_t n = -1;

	sha256_buf("one", 3, h1);
	sha256_buf("two", 3, h2);
	assert_int_equal(store_token_count(f->s, &n), 0);
	assert_int_equal(n, 0);

	token_init(&t, "ci", "operator");
	t.expires_at = 1800000000;
	assert_int_equal(store_token_create(f->s, &t, h1, &err), 0);
	assert_true(t.id > 0);
	assert_int_equal(t.created_at, 1700000000);
	assert_int_equal(store_token_count(f->s, &n), 0);
	assert_int_equal(n, 1);

	assert_int_equal(store_token_by_hash(f->s, h1, &got), 0);
	assert_int_equal(got.id, t.id);
	assert_string_equal(got.name, "ci");
	assert_string_equal(got.role, "operator");
	assert_string_equal(got.prefix, "bw_0123456");
	assert_int_equal(got.expires_at, 1800000000);
	assert_int_equal(got.last_used_at, 0);
	assert_int_equal(store_token_by_hash(f->s, h2, &got), -ENOENT);

	/* Same hash twice, or same name twice: refused. */
	token_init(&t, "ci2", "viewer");
	assert_int_equal(store_token_create(f->s, &t, h1, &err), -EEXIST);
	token_init(&t, "ci", "viewer");
	assert_int_equal(store_token_create(f->s, &t, h2, &err), -EEXIST);
	assert_string_equal(err.field, "name");
	assert_int_equal(store_token_count(f->s, &n), 0);
	assert_int_equal(n, 1);
}

static void test_token_touch_once_a_minute(void **state)
{
	struct store_fx *f = *state;
	struct store_err err = { .field = "" };
	struct bw_token t, got;
	struct store_stats st0, st1;
	uint8_t h[32];

	sha256_buf("secret", 6, h);
	token_init(&t, "ci", "admin");
	assert_int_equal(store_token_create(f->s, &t, h, &err), 0);

	fake_now = 1700000100;
	assert_int_equal(store_token_by_hash(f->s, h, &got), 0);
	assert_int_equal(store_token_touch(f->s, &got), 0);
	assert_int_equal(store_token_by_hash(f->s, h, &got), 0);
	assert_int_equal(got.last_used_at, 1700000100);

	/* Within the minute: no write at all. */
	store_get_stats(f->s, &st0);
	fake_now = 1700000159;
	assert_int_equal(store_token_touch(f->s, &got), 0);
	store_get_stats(f->s, &st1);
	assert_int_equal(st1.count[1], st0.count[1]);
	assert_int_equal(store_token_by_hash(f->s, h, &got), 0);
	assert_int_equal(got.last_used_at, 1700000100);

	/* A minute later: written. */
	fake_now = 1700000160;
	assert_int_equal(store_token_touch(f->s, &got), 0);
	assert_int_equal(store_token_by_hash(f->s, h, &got), 0);
	assert_int_equal(got.last_used_at, 1700000160);
	assert_int_equal(got.created_at, 1700000000);
}

/* ---- agent tokens and heartbeats ---- */

static void test_agent_token_use_writes_once(void **state)
{
	struct store_fx *f = *state;
	struct bw_node n;
	struct store_err err = { .field = "" };
	int64_t node = 0, task = -1;
	uint8_t h[32], other[32];
	int changes;

	node_init(&n, "hb-1", "52:54:00:00:00:71", add_zone(f->s, "z1", add_site(f->s, "dc1")));
	assert_int_equal(store_insert(f->s, &model_node, &n, &err), 0);
	sha256_buf("hb", 2, h);
	sha256_buf("other", 5, other);
	assert_int_equal(store_agent_token_add(f->s, n.id, "heartbeat", 0, h, fake_now + 100), 0);

	fake_now += 10;
	assert_int_equal(store_agent_token_use(f->s, h, "heartbeat", &node, &task), 0);
	assert_int_equal(node, n.id);
	assert_int_equal(task, 0);
	/* Later uses read only: no row changes (each was a commit, an fsync). */
	changes = sqlite3_total_changes(f->s->w.db);
	fake_now += 10;
	assert_int_equal(store_agent_token_use(f->s, h, "heartbeat", &node, NULL), 0);
	assert_int_equal(sqlite3_total_changes(f->s->w.db), changes);
	assert_int_equal(store_agent_token_use(f->s, h, "reimage", &node, NULL), -EACCES);
	assert_int_equal(store_agent_token_use(f->s, other, "heartbeat", &node, NULL), -EACCES);
	fake_now += 100;
	assert_int_equal(store_agent_token_use(f->s, h, "heartbeat", &node, NULL), -EACCES);
}

#define HB_THREADS 8
#define HB_EACH 40

struct hb_arg {
	struct store *s;
	int64_t node;
	int failed;
};

static void *hb_thread(void *ud)
{
	struct hb_arg *a = ud;

	for (int k = 1; k <= HB_EACH; k++)
		if (store_node_heartbeat(a->s, a->node, "Healthy", 1700001000 + k) < 0)
			a->failed++;
	return NULL;
}

/* Heartbeats from many threads at once: each one committed, the batches shared. */
static void test_node_heartbeat_group_commit(void **state)
{
	struct store_fx *f = *state;
	struct store_err err = { .field = "" };
	int64_t zone = add_zone(f->s, "z1", add_site(f->s, "dc1"));
	struct hb_arg args[HB_THREADS];
	pthread_t th[HB_THREADS];
	struct store_stats st0, st1;
	struct bw_node n;

	for (int i = 0; i < HB_THREADS; i++) {
		char name[16], mac[18];
		snprintf(name, sizeof(name), "hb-%d", i);
		snprintf(mac, sizeof(mac), "52:54:00:00:01:%02x", i);
		node_init(&n, name, mac, zone);
		assert_int_equal(store_insert(f->s, &model_node, &n, &err), 0);
		args[i] = (struct hb_arg){ .s = f->s, .node = n.id };
	}
	store_get_stats(f->s, &st0);
	for (int i = 0; i < HB_THREADS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, hb_thread, &args[i]), 0);
	for (int i = 0; i < HB_THREADS; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	store_get_stats(f->s, &st1);
	/* One commit per batch: never more than one per heartbeat. */
	assert_true(st1.count[1] - st0.count[1] <= HB_THREADS * HB_EACH);
	for (int i = 0; i < HB_THREADS; i++) {
		assert_int_equal(args[i].failed, 0);
		assert_int_equal(store_get(f->s, &model_node, args[i].node, &n), 0);
		assert_int_equal(n.last_heartbeat, 1700001000 + HB_EACH);
		assert_string_equal(n.health, "Healthy");
	}
	/* A node that is gone: the batch commits, nothing is written. */
	assert_int_equal(store_node_heartbeat(f->s, 999999, "Healthy", 1), 0);
}

/* ---- readers and the writer ---- */

struct reader_arg {
	struct store *s;
	int64_t site, zone;
	int got_site, got_zone;
	volatile int done;
};

static void *reader_thread(void *userdata)
{
	struct reader_arg *a = userdata;
	struct bw_site site;
	struct bw_zone z;
	a->got_site = store_get(a->s, &model_site, a->site, &site);
	a->got_zone = store_get(a->s, &model_zone, a->zone, &z);
	a->done = 1;
	return NULL;
}

/*
 * A read from another thread does not wait for a transaction in progress
 * (nor its commit): it sees the last commit. The writer's own reads inside
 * its transaction see what it wrote; a read's callback may write (and its
 * reads there see that write).
 */
static void test_reads_do_not_wait_for_the_writer(void **state)
{
	struct store_fx *f = *state;
	struct reader_arg a = { .s = f->s };
	struct bw_zone z;
	struct bw_site site;
	struct store_err err = { .field = "" };
	pthread_t th;

	a.site = add_site(f->s, "dc1");
	assert_int_equal(store_tx_begin(f->s), 0);
	model_init(&model_zone, &z);
	snprintf(z.name, sizeof(z.name), "in-tx");
	z.site = a.site;
	assert_int_equal(store_insert(f->s, &model_zone, &z, &err), 0);
	assert_int_equal(store_get(f->s, &model_zone, z.id, &z), 0); /* its own write */
	a.zone = z.id;
	assert_int_equal(pthread_create(&th, NULL, reader_thread, &a), 0);
	for (int i = 0; i < 500 && !a.done; i++)
		usleep(10000);
	assert_int_equal(a.done, 1); /* within 5 s, the transaction still open */
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(a.got_site, 0);
	assert_int_equal(a.got_zone, -ENOENT); /* not committed yet */
	assert_int_equal(store_tx_commit(f->s), 0);

	a.done = 0;
	reader_thread(&a);
	assert_int_equal(a.got_zone, 0); /* committed: every reader sees it */
	assert_int_equal(store_get(f->s, &model_site, a.site, &site), 0);
	/* A read's callback writing then reading (test_list_callback_may_use_store reads only). */
	assert_int_equal(store_list(f->s, &model_zone, NULL, 0, 0, 0, write_cb, f->s, NULL), 0);
	assert_int_equal(store_get_by_key(f->s, &model_site, 0, "from-callback", &site), 0);
}

/* ---- metrics ---- */

static void count_cb(const char *label, int64_t count, void *userdata)
{
	char *out = userdata;
	snprintf(out + strlen(out), 256 - strlen(out), "%s=%lld;", label, (long long)count);
}

static void test_count_nodes_by_state(void **state)
{
	struct store_fx *f = *state;
	struct store_err err = { .field = "" };
	struct bw_node n;
	bool mask[MODEL_MAX_FIELDS] = { false };
	char out[256] = "";

	add_node(f->s, "a", "52:54:00:00:00:01", 0);
	add_node(f->s, "b", "52:54:00:00:00:02", 0);
	assert_int_equal(store_get(f->s, &model_node, add_node(f->s, "c", "52:54:00:00:00:03", 0), &n), 0);
	snprintf(n.state, sizeof(n.state), "active");
	mask[model_field(&model_node, "state") - model_node.fields] = true;
	assert_int_equal(store_update(f->s, &model_node, &n, mask, &err), 0);
	assert_int_equal(store_count_nodes_by_state(f->s, count_cb, out), 0);
	assert_string_equal(out, "active=1;new=2;");
}

static void test_stats_count_reads_and_writes(void **state)
{
	struct store_fx *f = *state;
	struct store_stats st0, st;
	struct bw_site site;
	uint64_t buckets;
	int64_t id;

	store_get_stats(f->s, &st0);
	id = add_site(f->s, "dc1");
	add_site(f->s, "dc2");
	assert_int_equal(store_get(f->s, &model_site, id, &site), 0);
	assert_int_equal(store_get(f->s, &model_site, id + 100, &site), -ENOENT);
	assert_int_equal(store_get_by_key(f->s, &model_site, 0, "dc2", &site), 0);
	store_get_stats(f->s, &st);
	assert_int_equal(st.count[1] - st0.count[1], 2);
	assert_int_equal(st.count[0] - st0.count[0], 3);
	assert_int_equal(st.errors, st0.errors); /* -ENOENT is not an error */
	for (int w = 0; w < 2; w++) {
		buckets = 0;
		for (int b = 0; b <= STORE_LAT_BUCKETS; b++)
			buckets += st.bucket[w][b];
		assert_int_equal(buckets, st.count[w]);
		assert_true(st.sum[w] >= 0.0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_open_creates_schema),
		T(test_open_is_wal_with_foreign_keys),
		T(test_reopen_keeps_data),
		T(test_open_refuses_newer_schema),
		T(test_open_bad_path),
		T(test_migrates_old_schema_with_data),
		T(test_every_field_has_a_column),
		T(test_column_names),
		T(test_site_crud),
		T(test_zone_crud),
		T(test_node_crud_all_fields),
		T(test_duplicate_mac),
		T(test_duplicate_name),
		T(test_update_to_duplicate_mac),
		T(test_delete_referenced_site),
		T(test_insert_with_missing_reference),
		T(test_failed_insert_leaves_store_unchanged),
		T(test_failed_delete_leaves_store_unchanged),
		T(test_failed_publish_leaves_store_unchanged),
		T(test_list_pagination),
		T(test_list_callback_stops),
		T(test_list_callback_may_use_store),
		T(test_list_filters),
		T(test_version_publish),
		T(test_version_publish_commit_fails),
		T(test_version_publish_duplicate),
		T(test_version_latest),
		T(test_version_latest_debian_order),
		T(test_version_latest_all_excluded),
		T(test_version_pinned_by),
		T(test_token_create_and_lookup),
		T(test_token_touch_once_a_minute),
		T(test_agent_token_use_writes_once),
		T(test_node_heartbeat_group_commit),
		T(test_reads_do_not_wait_for_the_writer),
		T(test_count_nodes_by_state),
		T(test_stats_count_reads_and_writes),
		/* Last: under UBSan a failure here aborts the whole binary. */
		T(test_list_largest_limit),
#undef T
	};
	log_set_level((enum log_level)(LOG_ERR_ + 1));
	return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
