// SPDX-License-Identifier: Apache-2.0
/*
 * Store queries behind the custom data of pools and nodes and the NoCloud
 * metadata that bootwaved serves to the installed OS (see store.h, "Custom
 * data and metadata"). A blob belongs to one pool or node: the table has
 * no foreign key (one table, two owner kinds), so a write checks that its
 * owner exists in the same statement, and triggers of schema v6 remove
 * the blob with its owner.
 */
#include <limits.h>

#include "store-internal.h"

/* The table of an owner kind and its name in custom_data.owner; NULL for an unknown kind. */
static const char *owner_name(enum store_owner owner, const char **ret_table)
{
	switch (owner) {
	case STORE_OWNER_POOL:
		*ret_table = "pools";
		return "pool";
	case STORE_OWNER_NODE:
		*ret_table = "nodes";
		return "node";
	}
	return NULL;
}

int store_custom_data_get(struct store *s, enum store_owner owner, int64_t id, uint8_t **ret_data,
			  size_t *ret_len)
{
	const char *table, *name = owner_name(owner, &table);
	sqlite3_stmt *st = NULL;
	uint8_t *copy = NULL;
	size_t len = 0;
	struct op o;
	int rc, r = -ENOENT;

	if (!name)
		return -EINVAL;
	o = store_op_begin(s, 0);
	rc = sqlite3_prepare_v2(store_db(s), "SELECT data FROM custom_data WHERE owner = ?1 AND owner_id = ?2", -1, &st,
				NULL);
	if (rc != SQLITE_OK)
		return store_op_end(&o, store_sql_fail(s, rc, NULL));
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const void *p = sqlite3_column_blob(st, 0);
		int n = sqlite3_column_bytes(st, 0);
		/* One byte more, so that an empty blob is a valid pointer too. */
		copy = malloc((size_t)(n > 0 ? n : 0) + 1);
		if (!copy)
			r = -ENOMEM;
		else {
			len = (size_t)(n > 0 ? n : 0);
			if (len)
				memcpy(copy, p, len);
			r = 0;
		}
	} else if (rc != SQLITE_DONE)
		r = store_sql_fail(s, rc, NULL);
	sqlite3_finalize(st);
	if (r == 0) {
		*ret_data = copy;
		*ret_len = len;
	}
	return store_op_end(&o, r);
}

int store_custom_data_put(struct store *s, enum store_owner owner, int64_t id, const void *data, size_t len)
{
	const char *table, *name = owner_name(owner, &table);
	char sql[256];
	sqlite3_stmt *st = NULL;
	struct op o;
	int rc, r;

	if (!name)
		return -EINVAL;
	if (len > INT_MAX)
		return -E2BIG;
	/* table is one of two constants above, never input. */
	snprintf(sql, sizeof(sql),
		 "INSERT INTO custom_data (owner, owner_id, data, updated_at)"
		 " SELECT ?1, ?2, ?3, ?4 WHERE EXISTS (SELECT 1 FROM %s WHERE id = ?2)"
		 " ON CONFLICT (owner, owner_id) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at",
		 table);
	o = store_op_begin(s, 1);
	rc = sqlite3_prepare_v2(store_db(s), sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return store_op_end(&o, store_sql_fail(s, rc, NULL));
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, id);
	/* A zero-length blob, not NULL: the column is NOT NULL. */
	sqlite3_bind_blob(st, 3, len ? data : "", (int)len, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 4, s->now());
	r = store_step_done(s, st, NULL);
	if (r == 0 && sqlite3_changes(store_db(s)) == 0)
		r = -ENOENT; /* the owner is gone */
	return store_op_end(&o, r);
}

int store_custom_data_delete(struct store *s, enum store_owner owner, int64_t id)
{
	const char *table, *name = owner_name(owner, &table);
	sqlite3_stmt *st = NULL;
	struct op o;
	int rc, r;

	if (!name)
		return -EINVAL;
	o = store_op_begin(s, 1);
	rc = sqlite3_prepare_v2(store_db(s), "DELETE FROM custom_data WHERE owner = ?1 AND owner_id = ?2", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return store_op_end(&o, store_sql_fail(s, rc, NULL));
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, id);
	r = store_step_done(s, st, NULL);
	if (r == 0 && sqlite3_changes(store_db(s)) == 0)
		r = -ENOENT;
	return store_op_end(&o, r);
}

int store_slot_task(struct store *s, int64_t node_id, const char *slot, int64_t *ret_task)
{
	struct op o = store_op_begin(s, 0);
	sqlite3_stmt *st = NULL;
	int64_t id = 0;
	int rc, r = -ENOENT;

	rc = sqlite3_prepare_v2(store_db(s),
				"SELECT id FROM tasks WHERE node_id = ?1 AND kind = 'reimage' AND state = 'succeeded'"
				" AND slot = ?2 ORDER BY id DESC LIMIT 1",
				-1, &st, NULL);
	if (rc != SQLITE_OK)
		return store_op_end(&o, store_sql_fail(s, rc, NULL));
	sqlite3_bind_int64(st, 1, node_id);
	sqlite3_bind_text(st, 2, slot, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		id = sqlite3_column_int64(st, 0);
		r = 0;
	} else if (rc != SQLITE_DONE)
		r = store_sql_fail(s, rc, NULL);
	sqlite3_finalize(st);
	if (r == 0)
		*ret_task = id;
	return store_op_end(&o, r);
}
