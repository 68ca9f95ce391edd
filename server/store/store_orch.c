// SPDX-License-Identifier: Apache-2.0
/* Store queries of the orchestrator: rollouts, their nodes, pool members (store.h). */
#include "store-internal.h"

#define ROLLOUT_COLS                                                                                              \
	"id, pool_id, image_id, version, status, error_code, message, started_by, started_by_name,"              \
	" cancel_requested, batches, batch_started_at, batch_done_at, batch_seconds, started_at, completed_at,"   \
	" canary_done, bake_until, extension"

static void text(sqlite3_stmt *st, int col, char *buf, size_t size)
{
	const unsigned char *t = sqlite3_column_text(st, col);
	snprintf(buf, size, "%s", t ? (const char *)t : "");
}

static void rollout_row(sqlite3_stmt *st, struct bw_rollout *r)
{
	memset(r, 0, sizeof(*r));
	r->id = sqlite3_column_int64(st, 0);
	r->pool = sqlite3_column_int64(st, 1);
	r->image = sqlite3_column_int64(st, 2);
	text(st, 3, r->version, sizeof(r->version));
	text(st, 4, r->status, sizeof(r->status));
	text(st, 5, r->error_code, sizeof(r->error_code));
	text(st, 6, r->message, sizeof(r->message));
	text(st, 7, r->started_by, sizeof(r->started_by));
	text(st, 8, r->started_by_name, sizeof(r->started_by_name));
	r->cancel_requested = sqlite3_column_int64(st, 9) != 0;
	r->batches = sqlite3_column_int64(st, 10);
	r->batch_started_at = sqlite3_column_int64(st, 11);
	r->batch_done_at = sqlite3_column_int64(st, 12);
	r->batch_seconds = sqlite3_column_int64(st, 13);
	r->started_at = sqlite3_column_int64(st, 14);
	r->completed_at = sqlite3_column_int64(st, 15);
	r->canary_done = sqlite3_column_int64(st, 16) != 0;
	r->bake_until = sqlite3_column_int64(st, 17);
	text(st, 18, r->extension, sizeof(r->extension));
}

/* Binds the mutable fields of r as ?2..?10 and ?16..?17. */
static void rollout_bind(sqlite3_stmt *st, const struct bw_rollout *r)
{
	sqlite3_bind_text(st, 2, r->status, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 3, r->error_code, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 4, r->message, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 5, r->cancel_requested);
	sqlite3_bind_int64(st, 6, r->batches);
	sqlite3_bind_int64(st, 7, r->batch_started_at);
	sqlite3_bind_int64(st, 8, r->batch_done_at);
	sqlite3_bind_int64(st, 9, r->batch_seconds);
	sqlite3_bind_int64(st, 10, r->completed_at);
	sqlite3_bind_int64(st, 16, r->canary_done);
	sqlite3_bind_int64(st, 17, r->bake_until);
}

int store_rollout_insert(struct store *s, struct bw_rollout *r)
{
	struct op o = store_op_begin(s, 1);
	sqlite3_stmt *st;
	int rc = store_prepare(s,
				    "INSERT INTO rollouts (pool_id, status, error_code, message, cancel_requested, batches,"
				    " batch_started_at, batch_done_at, batch_seconds, completed_at, image_id, version,"
				    " started_by, started_by_name, started_at, canary_done, bake_until, extension)"
				    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)", -1, &st);
	int r2;

	if (rc != SQLITE_OK)
		return store_op_end(&o, store_sql_fail(s, rc, NULL));
	sqlite3_bind_int64(st, 1, r->pool);
	rollout_bind(st, r);
	sqlite3_bind_int64(st, 11, r->image);
	sqlite3_bind_text(st, 12, r->version, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 13, r->started_by, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 14, r->started_by_name, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 15, r->started_at);
	sqlite3_bind_text(st, 18, r->extension, -1, SQLITE_TRANSIENT);
	r2 = store_step_done(s, st, NULL);
	if (r2 == 0)
		r->id = sqlite3_last_insert_rowid(store_db(s));
	return store_op_end(&o, r2);
}

int store_rollout_update(struct store *s, const struct bw_rollout *r)
{
	struct op o = store_op_begin(s, 1);
	sqlite3_stmt *st;
	int rc = store_prepare(s,
				    "UPDATE rollouts SET status = ?2, error_code = ?3, message = ?4, cancel_requested = ?5,"
				    " batches = ?6, batch_started_at = ?7, batch_done_at = ?8, batch_seconds = ?9,"
				    " completed_at = ?10, canary_done = ?16, bake_until = ?17 WHERE id = ?1", -1, &st);

	if (rc != SQLITE_OK)
		return store_op_end(&o, store_sql_fail(s, rc, NULL));
	sqlite3_bind_int64(st, 1, r->id);
	rollout_bind(st, r);
	return store_op_end(&o, store_step_done(s, st, NULL));
}

/* Runs a rollout query with one or two int64 parameters; cb per row. */
static int rollout_query(struct store *s, const char *where, int64_t a, int64_t b, int64_t limit,
			 int (*cb)(const struct bw_rollout *r, void *userdata), void *userdata)
{
	struct op o = store_op_begin(s, 0);
	char sql[512];
	sqlite3_stmt *st;
	struct bw_rollout r;
	int rc, ret = 0, n = 0;

	snprintf(sql, sizeof(sql), "SELECT " ROLLOUT_COLS " FROM rollouts WHERE %s ORDER BY id DESC LIMIT ?3", where);
	if ((rc = store_prepare(s, sql, -1, &st)) != SQLITE_OK)
		return store_op_end(&o, store_sql_fail(s, rc, NULL));
	sqlite3_bind_int64(st, 1, a);
	sqlite3_bind_int64(st, 2, b);
	sqlite3_bind_int64(st, 3, limit > 0 ? limit : -1);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		rollout_row(st, &r);
		n++;
		if ((ret = cb(&r, userdata)) != 0)
			break;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		ret = store_sql_fail(s, rc, NULL);
	store_release(s, st);
	return store_op_end(&o, ret < 0 ? ret : n == 0 ? -ENOENT : 0);
}

static int copy_one(const struct bw_rollout *r, void *userdata)
{
	*(struct bw_rollout *)userdata = *r;
	return 1;
}

int store_rollout_get(struct store *s, int64_t id, struct bw_rollout *ret)
{
	return rollout_query(s, "id = ?1 AND ?2 = ?2", id, 0, 1, copy_one, ret);
}

int store_rollout_running(struct store *s, int64_t pool, struct bw_rollout *ret)
{
	return rollout_query(s, "pool_id = ?1 AND status = 'RollingForward' AND ?2 = ?2", pool, 0, 1, copy_one, ret);
}

int store_rollout_list(struct store *s, int64_t pool, int64_t since, int64_t limit,
		       int (*cb)(const struct bw_rollout *r, void *userdata), void *userdata)
{
	int r = rollout_query(s, pool ? "pool_id = ?1 AND started_at >= ?2" : "?1 = ?1 AND started_at >= ?2", pool,
			      since, limit, cb, userdata);
	return r == -ENOENT ? 0 : r;
}

int store_rollout_node_put(struct store *s, const struct bw_rollout_node *n)
{
	struct op o = store_op_begin(s, 1);
	sqlite3_stmt *st;
	int rc = store_prepare(s,
				    "INSERT OR REPLACE INTO rollout_nodes (rollout_id, node_id, phase, batch, phase_at,"
				    " started_at, finished_at, prev_slot, prev_image_id, prev_version, reason, written_at)"
				    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)", -1, &st);

	if (rc != SQLITE_OK)
		return store_op_end(&o, store_sql_fail(s, rc, NULL));
	sqlite3_bind_int64(st, 1, n->rollout);
	sqlite3_bind_int64(st, 2, n->node);
	sqlite3_bind_text(st, 3, n->phase, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 4, n->batch);
	sqlite3_bind_int64(st, 5, n->phase_at);
	sqlite3_bind_int64(st, 6, n->started_at);
	sqlite3_bind_int64(st, 7, n->finished_at);
	sqlite3_bind_text(st, 8, n->prev_slot, -1, SQLITE_TRANSIENT);
	if (n->prev_image)
		sqlite3_bind_int64(st, 9, n->prev_image);
	sqlite3_bind_text(st, 10, n->prev_version, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 11, n->reason, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 12, n->written_at);
	return store_op_end(&o, store_step_done(s, st, NULL));
}

int store_rollout_nodes(struct store *s, int64_t rollout, int (*cb)(const struct bw_rollout_node *n, void *userdata),
			void *userdata)
{
	struct op o = store_op_begin(s, 0);
	sqlite3_stmt *st;
	struct bw_rollout_node n;
	int rc = store_prepare(s,
				    "SELECT r.rollout_id, r.node_id, n.name, r.phase, r.batch, r.phase_at, r.started_at,"
				    " r.finished_at, r.prev_slot, COALESCE(r.prev_image_id, 0), r.prev_version, r.reason, r.written_at"
				    " FROM rollout_nodes r JOIN nodes n ON n.id = r.node_id WHERE r.rollout_id = ?1"
				    " ORDER BY r.node_id", -1, &st);
	int ret = 0;

	if (rc != SQLITE_OK)
		return store_op_end(&o, store_sql_fail(s, rc, NULL));
	sqlite3_bind_int64(st, 1, rollout);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		memset(&n, 0, sizeof(n));
		n.rollout = sqlite3_column_int64(st, 0);
		n.node = sqlite3_column_int64(st, 1);
		text(st, 2, n.name, sizeof(n.name));
		text(st, 3, n.phase, sizeof(n.phase));
		n.batch = sqlite3_column_int64(st, 4);
		n.phase_at = sqlite3_column_int64(st, 5);
		n.started_at = sqlite3_column_int64(st, 6);
		n.finished_at = sqlite3_column_int64(st, 7);
		text(st, 8, n.prev_slot, sizeof(n.prev_slot));
		n.prev_image = sqlite3_column_int64(st, 9);
		text(st, 10, n.prev_version, sizeof(n.prev_version));
		text(st, 11, n.reason, sizeof(n.reason));
		n.written_at = sqlite3_column_int64(st, 12);
		if ((ret = cb(&n, userdata)) != 0)
			break;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		ret = store_sql_fail(s, rc, NULL);
	store_release(s, st);
	return store_op_end(&o, ret < 0 ? ret : 0);
}

int store_pool_members(struct store *s, int64_t pool, int (*cb)(const struct bw_member *m, void *userdata),
		       void *userdata)
{
	struct op o = store_op_begin(s, 0);
	sqlite3_stmt *st;
	struct bw_member m;
	int rc = store_prepare(s,
				    "SELECT n.id, n.name, COALESCE(n.zone_id, 0), n.update_domain,"
				    " COALESCE(n.fault_domain, r.fault_domain, -1), n.quarantined, n.maintenance,"
				    " n.reimage_failures, COALESCE(n.installed_image_id, 0), n.installed_version, n.active_slot,"
				    " n.hw_model, COALESCE(z.site_id, 0), COALESCE(s.paired_with_id, 0)"
				    " FROM nodes n LEFT JOIN racks r ON r.id = n.rack_id LEFT JOIN zones z ON z.id = n.zone_id"
				    " LEFT JOIN sites s ON s.id = z.site_id WHERE n.pool_id = ?1 ORDER BY n.id", -1, &st);
	int ret = 0;

	if (rc != SQLITE_OK)
		return store_op_end(&o, store_sql_fail(s, rc, NULL));
	sqlite3_bind_int64(st, 1, pool);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		memset(&m, 0, sizeof(m));
		m.id = sqlite3_column_int64(st, 0);
		text(st, 1, m.name, sizeof(m.name));
		m.zone = sqlite3_column_int64(st, 2);
		m.update_domain = sqlite3_column_int64(st, 3);
		m.fault_domain = sqlite3_column_int64(st, 4);
		m.quarantined = sqlite3_column_int64(st, 5) != 0;
		m.maintenance = sqlite3_column_int64(st, 6) != 0;
		m.reimage_failures = sqlite3_column_int64(st, 7);
		m.installed_image = sqlite3_column_int64(st, 8);
		text(st, 9, m.installed_version, sizeof(m.installed_version));
		text(st, 10, m.active_slot, sizeof(m.active_slot));
		text(st, 11, m.hw_model, sizeof(m.hw_model));
		m.site = sqlite3_column_int64(st, 12);
		m.paired_site = sqlite3_column_int64(st, 13);
		if ((ret = cb(&m, userdata)) != 0)
			break;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		ret = store_sql_fail(s, rc, NULL);
	store_release(s, st);
	return store_op_end(&o, ret < 0 ? ret : 0);
}

int store_node_set_failures(struct store *s, int64_t node, int64_t failures, bool quarantined)
{
	struct op o = store_op_begin(s, 1);
	sqlite3_stmt *st;
	int rc = store_prepare(s,
				    "UPDATE nodes SET reimage_failures = ?2, quarantined = ?3, updated_at = ?4 WHERE id = ?1", -1, &st);

	if (rc != SQLITE_OK)
		return store_op_end(&o, store_sql_fail(s, rc, NULL));
	sqlite3_bind_int64(st, 1, node);
	sqlite3_bind_int64(st, 2, failures);
	sqlite3_bind_int64(st, 3, quarantined);
	sqlite3_bind_int64(st, 4, s->now());
	return store_op_end(&o, store_step_done(s, st, NULL));
}

int store_pools_following(struct store *s, int64_t image, int (*cb)(int64_t pool, void *userdata), void *userdata)
{
	struct op o = store_op_begin(s, 0);
	sqlite3_stmt *st;
	int rc = store_prepare(s,
				    "SELECT id FROM pools WHERE image_id = ?1 AND image_version = 'latest'"
				    " AND auto_upgrade != 0 ORDER BY id", -1, &st);
	int ret = 0;

	if (rc != SQLITE_OK)
		return store_op_end(&o, store_sql_fail(s, rc, NULL));
	sqlite3_bind_int64(st, 1, image);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if ((ret = cb(sqlite3_column_int64(st, 0), userdata)) != 0)
			break;
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		ret = store_sql_fail(s, rc, NULL);
	store_release(s, st);
	return store_op_end(&o, ret < 0 ? ret : 0);
}
