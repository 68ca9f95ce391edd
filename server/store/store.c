// SPDX-License-Identifier: Apache-2.0
/*
 * The store on SQLite: opening and migrating, and the generic row operations
 * driven by the model tables of lib/model.h. The SQL of the generic
 * operations is assembled from field names, which are compile-time constants
 * of lib/model.c, never from input; every value is bound.
 */
#include "store-internal.h"

#include <stdarg.h>

#include "log.h"
#include "validate.h"

const double store_lat_bounds[STORE_LAT_BUCKETS] = { 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
						     0.01,   0.025,   0.05,   0.1,   0.5,    1.0 };

static int64_t clock_now(void) { return (int64_t)time(NULL); }

/* ---- locking and latency ---- */

/* The connection of this thread's innermost operation (any store); how many
 * operations on a read connection it has open, and whether it wrote inside
 * one: its snapshot (a statement of the outer read still stepping) would not
 * show that write, so its reads go to the writer's connection until the
 * outermost read ends. */
static __thread struct conn *tl_conn;
static __thread int tl_rdepth;
static __thread bool tl_dirty;

static unsigned long self_id(void) { return (unsigned long)pthread_self(); }

static bool holds_write(struct store *s) { return atomic_load(&s->w_owner) == self_id(); }

void store_wlock(struct store *s)
{
	pthread_mutex_lock(&s->lock);
	if (tl_rdepth)
		tl_dirty = true;
	if (s->w_depth++ == 0)
		atomic_store(&s->w_owner, self_id());
}

void store_wunlock(struct store *s)
{
	if (--s->w_depth == 0)
		atomic_store(&s->w_owner, 0UL);
	pthread_mutex_unlock(&s->lock);
}

static struct conn *cur_conn(struct store *s) { return tl_conn == &s->r && !holds_write(s) ? &s->r : &s->w; }

sqlite3 *store_db(struct store *s) { return cur_conn(s)->db; }

struct op store_op_begin(struct store *s, int write)
{
	struct op o = { .s = s, .write = write, .prev = tl_conn };
	if (!write && s->r.db && !holds_write(s) && !tl_dirty) {
		pthread_mutex_lock(&s->rlock);
		tl_rdepth++;
		o.conn = &s->r;
	} else {
		store_wlock(s);
		o.conn = &s->w;
	}
	tl_conn = o.conn;
	clock_gettime(CLOCK_MONOTONIC, &o.t0);
	return o;
}

int store_op_end(struct op *o, int r)
{
	struct timespec t1;
	struct store_stats *st = &o->s->stats;
	double d;
	size_t b;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	d = (double)(t1.tv_sec - o->t0.tv_sec) + (double)(t1.tv_nsec - o->t0.tv_nsec) / 1e9;
	for (b = 0; b < STORE_LAT_BUCKETS && d > store_lat_bounds[b]; b++)
		;
	pthread_mutex_lock(&o->s->stats_lock);
	st->bucket[o->write][b]++;
	st->count[o->write]++;
	st->sum[o->write] += d;
	if (r < 0 && r != -ENOENT && r != -EEXIST && r != -EBUSY)
		st->errors++;
	pthread_mutex_unlock(&o->s->stats_lock);
	tl_conn = o->prev;
	if (o->conn == &o->s->r) {
		if (--tl_rdepth == 0)
			tl_dirty = false;
		pthread_mutex_unlock(&o->s->rlock);
	} else
		store_wunlock(o->s);
	return r;
}

void store_get_stats(struct store *s, struct store_stats *ret)
{
	pthread_mutex_lock(&s->stats_lock);
	*ret = s->stats;
	pthread_mutex_unlock(&s->stats_lock);
}

void store_set_clock(struct store *s, int64_t (*now)(void)) { s->now = now ? now : clock_now; }

/* ---- errors ---- */

static void err_set(struct store_err *err, const char *field, const char *fmt, ...) _printf_(3, 4);
static void err_set(struct store_err *err, const char *field, const char *fmt, ...)
{
	va_list ap;
	if (!err)
		return;
	snprintf(err->field, sizeof(err->field), "%s", field ? field : "");
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
}

/*
 * Maps a failed step to an errno. For a UNIQUE violation SQLite says
 * "UNIQUE constraint failed: nodes.mac" (or "t.a, t.b" for a composite key):
 * the last column, without a reference's "_id", is the field at fault.
 */
int store_sql_fail(struct store *s, int rc, struct store_err *err)
{
	const char *msg = sqlite3_errmsg(store_db(s));

	if ((rc & 0xff) == SQLITE_CONSTRAINT) {
		int ext = sqlite3_extended_errcode(store_db(s));
		if (ext == SQLITE_CONSTRAINT_UNIQUE || ext == SQLITE_CONSTRAINT_PRIMARYKEY) {
			char col[64] = "";
			const char *dot = strrchr(msg, '.');
			if (dot) {
				snprintf(col, sizeof(col), "%s", dot + 1);
				size_t n = strlen(col);
				if (n > 3 && strcmp(col + n - 3, "_id") == 0)
					col[n - 3] = '\0';
			}
			err_set(err, col, "%s is already taken", col[0] ? col : "key");
			return -EEXIST;
		}
		if (ext == SQLITE_CONSTRAINT_FOREIGNKEY) {
			err_set(err, "", "still referenced by other records");
			return -EBUSY;
		}
	}
	err_set(err, "", "store: %s", msg);
	log_debug("store: %s", msg);
	return -EIO;
}

/* ---- SQL text ---- */

struct sqlbuf {
	char s[4096];
	size_t n;
};

static void sb_add(struct sqlbuf *b, const char *fmt, ...) _printf_(2, 3);
static void sb_add(struct sqlbuf *b, const char *fmt, ...)
{
	va_list ap;
	int r;
	va_start(ap, fmt);
	r = vsnprintf(b->s + b->n, sizeof(b->s) - b->n, fmt, ap);
	va_end(ap);
	/* The longest statement is far below 4 KiB; an overflow is a bug. */
	if (r < 0 || (size_t)r >= sizeof(b->s) - b->n)
		abort();
	b->n += (size_t)r;
}

void store_column_name(const struct field *f, char *buf, size_t size)
{
	if (f->type == FT_REF)
		snprintf(buf, size, "%s_id", f->name);
	else if (f->type == FT_SECRET)
		snprintf(buf, size, "%s_sealed", f->name);
	else
		snprintf(buf, size, "%s", f->name);
}

static void sb_columns(struct sqlbuf *b, const struct model *m)
{
	char col[80];
	for (size_t i = 0; i < m->n_fields; i++) {
		store_column_name(&m->fields[i], col, sizeof(col));
		sb_add(b, "%s%s", i ? ", " : "", col);
	}
}

/* ---- prepared statements, kept for reuse ---- */

static uint64_t sql_hash(const char *p, size_t n)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)p[i]) * 1099511628211ULL;
	return h;
}

int store_prepare(struct store *s, const char *sql, int len, sqlite3_stmt **ret)
{
	struct conn *c = cur_conn(s);
	size_t n = len < 0 ? strlen(sql) : (size_t)len;
	uint64_t h = sql_hash(sql, n);
	struct stmt_slot *slot = NULL, *lru = NULL;
	char *copy;
	int rc;

	for (size_t i = 0; i < STORE_STMT_CACHE; i++) {
		struct stmt_slot *x = &c->stmts[i];
		if (x->st && !x->busy && x->hash == h && x->len == n && memcmp(x->sql, sql, n) == 0) {
			x->busy = true;
			x->used = ++c->stmt_tick;
			*ret = x->st;
			return SQLITE_OK;
		}
		if (!x->st && !slot)
			slot = x;
		else if (x->st && !x->busy && (!lru || x->used < lru->used))
			lru = x;
	}
	rc = sqlite3_prepare_v3(c->db, sql, (int)n, SQLITE_PREPARE_PERSISTENT, ret, NULL);
	if (rc != SQLITE_OK)
		return rc;
	slot = slot ? slot : lru;
	/* Every slot busy (nested uses), or no memory: this one is not kept. */
	if (!slot || !(copy = malloc(n ? n : 1)))
		return rc;
	memcpy(copy, sql, n);
	if (slot->st) {
		sqlite3_finalize(slot->st);
		free(slot->sql);
	}
	*slot = (struct stmt_slot){ .hash = h, .used = ++c->stmt_tick, .sql = copy, .len = n, .st = *ret, .busy = true };
	return rc;
}

void store_release(struct store *s, sqlite3_stmt *st)
{
	struct conn *c = cur_conn(s);
	if (!st)
		return;
	for (size_t i = 0; i < STORE_STMT_CACHE; i++) {
		struct stmt_slot *x = &c->stmts[i];
		if (x->st == st && x->busy) {
			sqlite3_reset(st);
			sqlite3_clear_bindings(st);
			x->busy = false;
			return;
		}
	}
	sqlite3_finalize(st);
}

static void conn_clear(struct conn *c)
{
	for (size_t i = 0; i < STORE_STMT_CACHE; i++) {
		sqlite3_finalize(c->stmts[i].st);
		free(c->stmts[i].sql);
		c->stmts[i] = (struct stmt_slot){ 0 };
	}
}

void store_stmts_clear(struct store *s)
{
	conn_clear(&s->w);
	conn_clear(&s->r);
}

static int prepare(struct store *s, const struct sqlbuf *b, sqlite3_stmt **ret, struct store_err *err)
{
	int rc = store_prepare(s, b->s, (int)b->n, ret);
	if (rc != SQLITE_OK)
		return store_sql_fail(s, rc, err);
	return 0;
}

/* ---- fields <-> columns ---- */

static void bind_field(sqlite3_stmt *st, int idx, const struct field *f, const void *obj)
{
	const void *p = field_cptr(f, obj);

	if (field_is_string(f)) {
		sqlite3_bind_text(st, idx, p, -1, SQLITE_TRANSIENT);
		return;
	}
	switch (f->type) {
	case FT_INT: {
		int64_t v = *(const int64_t *)p;
		if (v == INT_NULL)
			sqlite3_bind_null(st, idx);
		else
			sqlite3_bind_int64(st, idx, v);
		break;
	}
	case FT_TIME:
	case FT_REF: {
		int64_t v = *(const int64_t *)p;
		if (v == 0)
			sqlite3_bind_null(st, idx);
		else
			sqlite3_bind_int64(st, idx, v);
		break;
	}
	case FT_BOOL:
		sqlite3_bind_int(st, idx, *(const bool *)p ? 1 : 0);
		break;
	case FT_SECRET: {
		const struct bw_secret *sec = p;
		if (sec->len == 0)
			sqlite3_bind_null(st, idx);
		else
			sqlite3_bind_blob(st, idx, sec->data, (int)sec->len, SQLITE_TRANSIENT);
		break;
	}
	default:
		abort();
	}
}

static void read_field(sqlite3_stmt *st, int col, const struct field *f, void *obj)
{
	void *p = field_ptr(f, obj);
	bool null = sqlite3_column_type(st, col) == SQLITE_NULL;

	if (field_is_string(f)) {
		const unsigned char *t = sqlite3_column_text(st, col);
		snprintf(p, f->size, "%s", t ? (const char *)t : "");
		return;
	}
	switch (f->type) {
	case FT_INT:
		*(int64_t *)p = null ? INT_NULL : sqlite3_column_int64(st, col);
		break;
	case FT_TIME:
	case FT_REF:
		*(int64_t *)p = null ? 0 : sqlite3_column_int64(st, col);
		break;
	case FT_BOOL:
		*(bool *)p = sqlite3_column_int(st, col) != 0;
		break;
	case FT_SECRET: {
		struct bw_secret *sec = p;
		int n = sqlite3_column_bytes(st, col);
		const void *d = sqlite3_column_blob(st, col);
		sec->len = 0;
		if (d && n > 0 && (size_t)n <= sizeof(sec->data)) {
			memcpy(sec->data, d, (size_t)n);
			sec->len = (size_t)n;
		}
		break;
	}
	default:
		abort();
	}
}

static void read_row(sqlite3_stmt *st, const struct model *m, void *obj)
{
	memset(obj, 0, m->size);
	for (size_t i = 0; i < m->n_fields; i++)
		read_field(st, (int)i, &m->fields[i], obj);
}

static int64_t *obj_id(void *obj) { return (int64_t *)obj; }

static void set_time(const struct model *m, void *obj, const char *name, int64_t t)
{
	const struct field *f = model_field(m, name);
	if (f)
		*(int64_t *)field_ptr(f, obj) = t;
}

/* ---- open, migrate, close ---- */

int store_exec(struct store *s, const char *sql, struct store_err *err)
{
	char *msg = NULL;
	int rc = sqlite3_exec(store_db(s), sql, NULL, NULL, &msg);
	if (rc != SQLITE_OK) {
		err_set(err, "", "store: %s", msg ? msg : sqlite3_errstr(rc));
		sqlite3_free(msg);
		return -EIO;
	}
	return 0;
}

static int pragma_int(struct store *s, const char *sql, int *ret)
{
	sqlite3_stmt *st;
	int r = -EIO;
	if (sqlite3_prepare_v2(store_db(s), sql, -1, &st, NULL) != SQLITE_OK)
		return -EIO;
	if (sqlite3_step(st) == SQLITE_ROW) {
		*ret = sqlite3_column_int(st, 0);
		r = 0;
	}
	sqlite3_finalize(st);
	return r;
}

static int version_collate(void *ud, int la, const void *a, int lb, const void *b)
{
	char sa[VERSION_MAX_LEN + 1], sb[VERSION_MAX_LEN + 1];
	(void)ud;
	snprintf(sa, sizeof(sa), "%.*s", la, (const char *)a);
	snprintf(sb, sizeof(sb), "%.*s", lb, (const char *)b);
	return version_cmp(sa, sb);
}

static int migrate(struct store *s, struct store_err *err)
{
	int v;

	if (pragma_int(s, "PRAGMA user_version", &v) < 0) {
		err_set(err, "", "store: cannot read the schema version: %s", sqlite3_errmsg(store_db(s)));
		return -EIO;
	}
	if (v > store_n_migrations) {
		err_set(err, "", "store schema version %d is newer than this bootwaved knows (%d)", v,
			store_n_migrations);
		return -EPROTO;
	}
	for (; v < store_n_migrations; v++) {
		char bump[64];
		int r;
		if ((r = store_exec(s, "BEGIN IMMEDIATE", err)) < 0)
			return r;
		snprintf(bump, sizeof(bump), "PRAGMA user_version = %d", v + 1);
		if ((r = store_exec(s, store_migrations[v], err)) < 0 || (r = store_exec(s, bump, err)) < 0 ||
		    (r = store_exec(s, "COMMIT", err)) < 0) {
			store_exec(s, "ROLLBACK", NULL);
			return r;
		}
		log_info("store: migrated schema to version %d", v + 1);
	}
	return 0;
}

static int conn_open(struct conn *c, const char *path, int flags, struct store_err *err)
{
	int rc = sqlite3_open_v2(path, &c->db, flags | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		err_set(err, "", "cannot open store %s: %s", path, c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
		return -EIO;
	}
	sqlite3_extended_result_codes(c->db, 1);
	sqlite3_busy_timeout(c->db, 5000);
	sqlite3_create_collation_v2(c->db, "version", SQLITE_UTF8, NULL, version_collate, NULL);
	return 0;
}

int store_open(const char *path, struct store **ret, struct store_err *err)
{
	struct store *s;
	char mode[16] = "";
	sqlite3_stmt *st;
	int r;

	s = calloc(1, sizeof(*s));
	if (!s) {
		err_set(err, "", "out of memory");
		return -ENOMEM;
	}
	/* Recursive: a store_list callback may look up other rows. */
	pthread_mutexattr_t attr;
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&s->lock, &attr);
	pthread_mutex_init(&s->rlock, &attr);
	pthread_mutex_init(&s->stats_lock, NULL);
	pthread_mutex_init(&s->hb_lock, NULL);
	pthread_cond_init(&s->hb_cond, NULL);
	pthread_mutexattr_destroy(&attr);
	s->now = clock_now;
	if ((r = conn_open(&s->w, path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, err)) < 0) {
		store_close(s);
		return r;
	}

	/* WAL: readers never block the writer; synchronous FULL: a committed
	 * orchestrator step survives a power cut, not only a crash. */
	if (sqlite3_prepare_v2(store_db(s), "PRAGMA journal_mode=WAL", -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			snprintf(mode, sizeof(mode), "%s", (const char *)sqlite3_column_text(st, 0));
		sqlite3_finalize(st);
	}
	if (strcmp(mode, "wal") != 0) {
		err_set(err, "", "cannot open store %s: %s", path,
			mode[0] ? "WAL journal mode refused" : sqlite3_errmsg(store_db(s)));
		store_close(s);
		return -EIO;
	}
	if ((r = store_exec(s, "PRAGMA foreign_keys=ON; PRAGMA synchronous=FULL", err)) < 0 ||
	    (r = migrate(s, err)) < 0 ||
	    /* Read-only: a write by mistake on it fails, it never bypasses lock. */
	    (r = conn_open(&s->r, path, SQLITE_OPEN_READONLY, err)) < 0) {
		store_close(s);
		return r;
	}
	*ret = s;
	return 0;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	store_stmts_clear(s);
	if (s->r.db)
		sqlite3_close_v2(s->r.db);
	if (s->w.db)
		sqlite3_close_v2(s->w.db);
	pthread_mutex_destroy(&s->lock);
	pthread_mutex_destroy(&s->rlock);
	pthread_mutex_destroy(&s->stats_lock);
	pthread_mutex_destroy(&s->hb_lock);
	pthread_cond_destroy(&s->hb_cond);
	free(s);
}

int store_schema_version(struct store *s)
{
	int v = -1;
	struct op o = store_op_begin(s, 0);
	pragma_int(s, "PRAGMA user_version", &v);
	store_op_end(&o, 0);
	return v;
}

int store_schema_latest(void) { return store_n_migrations; }

/* ---- generic rows ---- */

/* Runs a prepared statement that returns no rows. Releases it. */
int store_step_done(struct store *s, sqlite3_stmt *st, struct store_err *err)
{
	int rc = sqlite3_step(st), r = 0;
	if (rc != SQLITE_DONE)
		r = store_sql_fail(s, rc, err);
	store_release(s, st);
	return r;
}

/*
 * Inserts obj with fresh timestamps and sets its id; with hash, also the
 * tokens table's hash column. The caller holds the lock.
 */
static int insert_row(struct store *s, const struct model *m, void *obj, const uint8_t *hash,
		      struct store_err *err)
{
	struct sqlbuf b = { .n = 0 };
	sqlite3_stmt *st;
	int64_t now = s->now();
	int r;

	set_time(m, obj, "created_at", now);
	set_time(m, obj, "updated_at", now);
	sb_add(&b, "INSERT INTO %s (", m->plural);
	sb_columns(&b, m);
	sb_add(&b, "%s) VALUES (NULL", hash ? ", hash" : "");
	for (size_t i = 1; i < m->n_fields; i++)
		sb_add(&b, ", ?");
	sb_add(&b, "%s)", hash ? ", ?" : "");
	if ((r = prepare(s, &b, &st, err)) < 0)
		return r;
	for (size_t i = 1; i < m->n_fields; i++)
		bind_field(st, (int)i, &m->fields[i], obj);
	if (hash)
		sqlite3_bind_blob(st, (int)m->n_fields, hash, 32, SQLITE_TRANSIENT);
	if ((r = store_step_done(s, st, err)) == 0)
		*obj_id(obj) = sqlite3_last_insert_rowid(store_db(s));
	return r;
}

int store_insert(struct store *s, const struct model *m, void *obj, struct store_err *err)
{
	struct op o = store_op_begin(s, 1);
	return store_op_end(&o, insert_row(s, m, obj, NULL, err));
}

/* One row by "WHERE <where>" with the given binds (ints or text). */
static int get_where(struct store *s, const struct model *m, const char *where, int64_t i1,
		     const char *t2, void *ret)
{
	struct sqlbuf b = { .n = 0 };
	sqlite3_stmt *st;
	int r, rc;

	sb_add(&b, "SELECT ");
	sb_columns(&b, m);
	sb_add(&b, " FROM %s WHERE %s", m->plural, where);
	if ((r = prepare(s, &b, &st, NULL)) < 0)
		return r;
	sqlite3_bind_int64(st, 1, i1);
	if (t2)
		sqlite3_bind_text(st, 2, t2, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		read_row(st, m, ret);
		r = 0;
	} else if (rc == SQLITE_DONE)
		r = -ENOENT;
	else
		r = store_sql_fail(s, rc, NULL);
	store_release(s, st);
	return r;
}

int store_get_one(struct store *s, const struct model *m, void *ret, const char *sql, const char *fmt, ...)
{
	struct op o = store_op_begin(s, 0);
	sqlite3_stmt *st = NULL;
	int64_t id = 0;
	va_list ap;
	int r = -ENOENT, rc = store_prepare(s, sql, -1, &st);

	if (rc != SQLITE_OK)
		return store_op_end(&o, store_sql_fail(s, rc, NULL));
	va_start(ap, fmt);
	for (int i = 0; fmt[i]; i++) {
		if (fmt[i] == 't') {
			const char *t = va_arg(ap, const char *);
			if (t)
				sqlite3_bind_text(st, i + 1, t, -1, SQLITE_TRANSIENT);
		} else
			sqlite3_bind_int64(st, i + 1, va_arg(ap, int64_t));
	}
	va_end(ap);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		id = sqlite3_column_int64(st, 0);
	else if (rc != SQLITE_DONE)
		r = store_sql_fail(s, rc, NULL);
	store_release(s, st);
	if (id)
		r = store_get(s, m, id, ret);
	return store_op_end(&o, r);
}

int store_get(struct store *s, const struct model *m, int64_t id, void *ret)
{
	struct op o = store_op_begin(s, 0);
	return store_op_end(&o, get_where(s, m, "id = ?1", id, NULL, ret));
}

int store_get_by_key(struct store *s, const struct model *m, int64_t parent, const char *key, void *ret)
{
	char where[160];
	struct op o = store_op_begin(s, 0);

	if (m->parent)
		snprintf(where, sizeof(where), "%s_id = ?1 AND %s = ?2", m->parent, m->key);
	else
		snprintf(where, sizeof(where), "?1 = ?1 AND %s = ?2", m->key);
	return store_op_end(&o, get_where(s, m, where, parent, key, ret));
}

int store_key_of(struct store *s, const struct model *m, int64_t id, char *buf, size_t size)
{
	struct sqlbuf b = { .n = 0 };
	sqlite3_stmt *st;
	struct op o = store_op_begin(s, 0);
	int r, rc;

	sb_add(&b, "SELECT %s FROM %s WHERE id = ?1", m->key, m->plural);
	if ((r = prepare(s, &b, &st, NULL)) < 0)
		return store_op_end(&o, r);
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		snprintf(buf, size, "%s", (const char *)sqlite3_column_text(st, 0));
		r = 0;
	} else
		r = rc == SQLITE_DONE ? -ENOENT : store_sql_fail(s, rc, NULL);
	store_release(s, st);
	return store_op_end(&o, r);
}

int store_list(struct store *s, const struct model *m, const struct store_filter *filters,
	       size_t n_filters, int64_t after, int limit, store_row_cb cb, void *userdata,
	       bool *ret_more)
{
	struct sqlbuf b = { .n = 0 };
	sqlite3_stmt *st;
	_cleanup_free_ void *row = NULL;
	struct op o = store_op_begin(s, 0);
	char col[80];
	int r, rc, n = 0;

	row = malloc(m->size);
	if (!row)
		return store_op_end(&o, -ENOMEM);
	sb_add(&b, "SELECT ");
	sb_columns(&b, m);
	sb_add(&b, " FROM %s WHERE id > ?", m->plural);
	for (size_t i = 0; i < n_filters; i++) {
		store_column_name(filters[i].field, col, sizeof(col));
		sb_add(&b, " AND %s IS ?", col);
	}
	sb_add(&b, " ORDER BY id");
	if (limit > 0)
		sb_add(&b, " LIMIT %lld", (long long)limit + 1);
	if ((r = prepare(s, &b, &st, NULL)) < 0)
		return store_op_end(&o, r);
	sqlite3_bind_int64(st, 1, after);
	for (size_t i = 0; i < n_filters; i++) {
		const struct store_filter *f = &filters[i];
		if (f->sval)
			sqlite3_bind_text(st, (int)i + 2, f->sval, -1, SQLITE_TRANSIENT);
		else if ((f->field->type == FT_REF && f->ival == 0) ||
			 (f->field->type == FT_INT && f->ival == INT_NULL))
			sqlite3_bind_null(st, (int)i + 2);
		else
			sqlite3_bind_int64(st, (int)i + 2, f->ival);
	}
	if (ret_more)
		*ret_more = false;
	r = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (limit > 0 && n == limit) {
			if (ret_more)
				*ret_more = true;
			break;
		}
		read_row(st, m, row);
		n++;
		if ((r = cb(row, userdata)) != 0)
			break;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		r = store_sql_fail(s, rc, NULL);
	store_release(s, st);
	return store_op_end(&o, r);
}

int store_update(struct store *s, const struct model *m, void *obj, const bool *mask,
		 struct store_err *err)
{
	struct sqlbuf b = { .n = 0 };
	sqlite3_stmt *st;
	struct op o = store_op_begin(s, 1);
	const struct field *upd = model_field(m, "updated_at");
	char col[80];
	int r, idx = 1, nset = 0;

	set_time(m, obj, "updated_at", s->now());
	sb_add(&b, "UPDATE %s SET ", m->plural);
	for (size_t i = 1; i < m->n_fields; i++) {
		const struct field *f = &m->fields[i];
		bool on = mask ? mask[i] : !(f->flags & F_RO);
		if (!on && f != upd)
			continue;
		store_column_name(f, col, sizeof(col));
		sb_add(&b, "%s%s = ?", nset++ ? ", " : "", col);
	}
	sb_add(&b, " WHERE id = ?");
	if ((r = prepare(s, &b, &st, err)) < 0)
		return store_op_end(&o, r);
	for (size_t i = 1; i < m->n_fields; i++) {
		const struct field *f = &m->fields[i];
		bool on = mask ? mask[i] : !(f->flags & F_RO);
		if (on || f == upd)
			bind_field(st, idx++, f, obj);
	}
	sqlite3_bind_int64(st, idx, *obj_id(obj));
	if ((r = store_step_done(s, st, err)) == 0 && sqlite3_changes(store_db(s)) == 0)
		r = -ENOENT;
	return store_op_end(&o, r);
}

int store_delete(struct store *s, const struct model *m, int64_t id, struct store_err *err)
{
	struct sqlbuf b = { .n = 0 };
	sqlite3_stmt *st;
	struct op o = store_op_begin(s, 1);
	int r;

	sb_add(&b, "DELETE FROM %s WHERE id = ?", m->plural);
	if ((r = prepare(s, &b, &st, err)) < 0)
		return store_op_end(&o, r);
	sqlite3_bind_int64(st, 1, id);
	if ((r = store_step_done(s, st, err)) == 0 && sqlite3_changes(store_db(s)) == 0)
		r = -ENOENT;
	return store_op_end(&o, r);
}

/* ---- tokens ---- */

int store_token_create(struct store *s, struct bw_token *tok, const uint8_t hash[32],
		       struct store_err *err)
{
	struct op o = store_op_begin(s, 1);
	return store_op_end(&o, insert_row(s, &model_token, tok, hash, err));
}

int store_token_by_hash(struct store *s, const uint8_t hash[32], struct bw_token *ret)
{
	struct sqlbuf b = { .n = 0 };
	sqlite3_stmt *st;
	struct op o = store_op_begin(s, 0);
	int r, rc;

	sb_add(&b, "SELECT ");
	sb_columns(&b, &model_token);
	sb_add(&b, " FROM tokens WHERE hash = ?");
	if ((r = prepare(s, &b, &st, NULL)) < 0)
		return store_op_end(&o, r);
	sqlite3_bind_blob(st, 1, hash, 32, SQLITE_TRANSIENT);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		read_row(st, &model_token, ret);
		r = 0;
	} else
		r = rc == SQLITE_DONE ? -ENOENT : store_sql_fail(s, rc, NULL);
	store_release(s, st);
	return store_op_end(&o, r);
}

int store_token_touch(struct store *s, const struct bw_token *tok)
{
	sqlite3_stmt *st;
	struct op o;
	int64_t now = s->now();
	int r;

	if (tok->last_used_at && now - tok->last_used_at < 60)
		return 0;
	o = store_op_begin(s, 1);
	if (sqlite3_prepare_v2(store_db(s), "UPDATE tokens SET last_used_at = ?1 WHERE id = ?2", -1, &st,
			       NULL) != SQLITE_OK)
		return store_op_end(&o, store_sql_fail(s, SQLITE_ERROR, NULL));
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_int64(st, 2, tok->id);
	r = store_step_done(s, st, NULL);
	return store_op_end(&o, r);
}

static int count_query(struct store *s, const char *sql, int64_t *ret)
{
	sqlite3_stmt *st;
	int r = -EIO;
	if (sqlite3_prepare_v2(store_db(s), sql, -1, &st, NULL) != SQLITE_OK)
		return store_sql_fail(s, SQLITE_ERROR, NULL);
	if (sqlite3_step(st) == SQLITE_ROW) {
		*ret = sqlite3_column_int64(st, 0);
		r = 0;
	}
	sqlite3_finalize(st);
	return r;
}

int store_token_count(struct store *s, int64_t *ret)
{
	struct op o = store_op_begin(s, 0);
	return store_op_end(&o, count_query(s, "SELECT count(*) FROM tokens", ret));
}

/* ---- image versions ---- */

int store_version_publish(struct store *s, struct bw_image_version *v, int (*commit)(void *userdata),
			  void *userdata, struct store_err *err)
{
	struct op o = store_op_begin(s, 1);
	int r;

	if ((r = store_exec(s, "BEGIN IMMEDIATE", err)) < 0)
		return store_op_end(&o, r);
	if ((r = insert_row(s, &model_image_version, v, NULL, err)) < 0)
		goto rollback;
	if ((r = commit(userdata)) < 0) {
		err_set(err, "", "publishing the artifact failed: %s", strerror(-r));
		goto rollback;
	}
	if ((r = store_exec(s, "COMMIT", err)) < 0)
		goto rollback;
	return store_op_end(&o, 0);
rollback:
	store_exec(s, "ROLLBACK", NULL);
	return store_op_end(&o, r);
}

int store_version_latest(struct store *s, int64_t image_id, struct bw_image_version *ret)
{
	struct op o = store_op_begin(s, 0);
	return store_op_end(&o, get_where(s, &model_image_version,
				    "image_id = ?1 AND exclude_from_latest = 0"
				    " ORDER BY version COLLATE version DESC LIMIT 1",
				    image_id, NULL, ret));
}

int store_version_pinned_by(struct store *s, int64_t image_id, const char *version, char *pool,
			    size_t size)
{
	sqlite3_stmt *st;
	struct op o = store_op_begin(s, 0);
	int r, rc;

	if (sqlite3_prepare_v2(store_db(s),
			       "SELECT name FROM pools WHERE image_id = ?1 AND image_version = ?2"
			       " ORDER BY id LIMIT 1",
			       -1, &st, NULL) != SQLITE_OK)
		return store_op_end(&o, store_sql_fail(s, SQLITE_ERROR, NULL));
	sqlite3_bind_int64(st, 1, image_id);
	sqlite3_bind_text(st, 2, version, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		snprintf(pool, size, "%s", (const char *)sqlite3_column_text(st, 0));
		r = 0;
	} else
		r = rc == SQLITE_DONE ? -ENOENT : store_sql_fail(s, rc, NULL);
	sqlite3_finalize(st);
	return store_op_end(&o, r);
}

/* ---- metrics ---- */

int store_count_nodes_by_state(struct store *s, store_count_cb cb, void *userdata)
{
	sqlite3_stmt *st;
	struct op o = store_op_begin(s, 0);
	int rc;

	if (sqlite3_prepare_v2(store_db(s), "SELECT state, count(*) FROM nodes GROUP BY state ORDER BY state",
			       -1, &st, NULL) != SQLITE_OK)
		return store_op_end(&o, store_sql_fail(s, SQLITE_ERROR, NULL));
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		cb((const char *)sqlite3_column_text(st, 0), sqlite3_column_int64(st, 1), userdata);
	sqlite3_finalize(st);
	return store_op_end(&o, rc == SQLITE_DONE ? 0 : -EIO);
}
