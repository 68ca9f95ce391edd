// SPDX-License-Identifier: Apache-2.0
/*
 * Automatic extension upgrades (server/orch/orch.h, orch_ext_check and the
 * rollouts of one extension) under a virtual clock, with the real store and
 * a small simulated world: ten nodes in five update domains, each running
 * extensions at some version; a run takes 30 s; a "bad" version's run fails,
 * a "sick" one runs but leaves the node Unhealthy.
 *   - a new minor version rolls out by itself, batch by batch (never two
 *     update domains, never more than the batch size in flight), and the
 *     pool then runs it; a new major version never does;
 *   - a bad version: the first batch fails, each node gets its previous
 *     version back, the rollout is Faulted, and the version is not tried
 *     again before the retry interval (3 days), then is; fixed, it completes;
 *   - a sick version (healthy run, unhealthy node): rolled back too;
 *   - one extension failing does not hold another one's upgrade;
 *   - a new OS latest published while an extension rolls out starts its
 *     rollout when that one ends.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "log.h"
#include "orch.h"
#include "testutil.h"

#define NODES 10
#define EXTS 2
#define RUN_S 30

struct run {
	char ext[NAME_MAX_LEN + 1], version[VERSION_MAX_LEN + 1];
	int64_t created, done_at;
	bool ok;
};

struct wnode {
	char ver[EXTS][VERSION_MAX_LEN + 1]; /* what the node runs of each extension */
	struct run runs[64];
	size_t n_runs;
};

static struct world {
	int64_t id0, image;
	struct wnode n[NODES];
	const char *names[EXTS];
	char bad[8][32], sick[8][32]; /* "ext@version" */
	size_t n_bad, n_sick;
	int runs, rollbacks;
} W;

static int64_t now_(void *ctx)
{
	(void)ctx;
	return fake_now;
}

static int ext_index(const char *name)
{
	for (int e = 0; e < EXTS; e++)
		if (str_eq(W.names[e], name))
			return e;
	fail_msg("unknown extension %s", name);
	return -1;
}

static bool listed(char (*set)[32], size_t n, const char *ext, const char *version)
{
	char key[32];
	snprintf(key, sizeof(key), "%s@%s", ext, version);
	for (size_t i = 0; i < n; i++)
		if (str_eq(set[i], key))
			return true;
	return false;
}

/* Runs that ended by now take effect. */
static void settle(struct wnode *n)
{
	for (size_t i = 0; i < n->n_runs; i++) {
		struct run *r = &n->runs[i];
		if (r->done_at && fake_now >= r->done_at && r->ok) {
			snprintf(n->ver[ext_index(r->ext)], sizeof(n->ver[0]), "%s", r->version);
			r->done_at = -r->done_at; /* applied once */
		}
	}
}

static void observe(void *ctx, const struct orch_req *q, struct orch_obs *ob)
{
	struct wnode *n = &W.n[q->node - W.id0];
	bool sick = false;
	(void)ctx;

	settle(n);
	memset(ob, 0, sizeof(*ob));
	for (int e = 0; e < EXTS; e++)
		sick |= listed(W.sick, W.n_sick, W.names[e], n->ver[e]);
	ob->hb = sick ? OHB_UNHEALTHY : OHB_HEALTHY;
	ob->hb_at = fake_now;
	ob->image = W.image;
	snprintf(ob->version, sizeof(ob->version), "%s", q->extension ? n->ver[ext_index(q->extension)] : "1.0");
	if (!q->extension || q->since <= 0)
		return;
	for (size_t i = n->n_runs; i-- > 0;) {
		const struct run *r = &n->runs[i];
		if (!str_eq(r->ext, q->extension) || !str_eq(r->version, q->version) || r->created < q->since)
			continue;
		int64_t done = r->done_at < 0 ? -r->done_at : r->done_at;
		ob->task = fake_now < done ? OT_WRITING : r->ok ? OT_WRITTEN : OT_FAILED;
		if (ob->task == OT_FAILED)
			snprintf(ob->task_reason, sizeof(ob->task_reason), "run exited with status 1");
		return;
	}
}

static int queue_run(const struct orch_req *q)
{
	struct wnode *n = &W.n[q->node - W.id0];
	assert_non_null(q->extension);
	/* Idempotent, as the contract says: a run of this version since then is reused. */
	for (size_t i = 0; i < n->n_runs; i++)
		if (str_eq(n->runs[i].ext, q->extension) && str_eq(n->runs[i].version, q->version) &&
		    n->runs[i].created >= q->since && n->runs[i].ok)
			return 0;
	assert_true(n->n_runs < 64);
	struct run *r = &n->runs[n->n_runs++];
	snprintf(r->ext, sizeof(r->ext), "%s", q->extension);
	snprintf(r->version, sizeof(r->version), "%s", q->version);
	r->created = fake_now;
	r->done_at = fake_now + RUN_S;
	r->ok = !listed(W.bad, W.n_bad, q->extension, q->version);
	W.runs++;
	return 0;
}

static int reimage(void *ctx, const struct orch_req *q, char *err, size_t size)
{
	(void)ctx;
	(void)err;
	(void)size;
	return queue_run(q);
}

static int rollback(void *ctx, const struct orch_req *q, char *err, size_t size)
{
	(void)ctx;
	(void)err;
	(void)size;
	W.rollbacks++;
	return queue_run(q);
}

static void add_version(struct store *s, int64_t ext, const char *version)
{
	struct bw_extension_version v;
	struct store_err err = { .field = "" };
	model_init(&model_extension_version, &v);
	v.extension = ext;
	snprintf(v.version, sizeof(v.version), "%s", version);
	snprintf(v.sha256, sizeof(v.sha256), "%064d", 7);
	snprintf(v.artifact, sizeof(v.artifact), "%s.tar", version);
	assert_int_equal(store_insert(s, &model_extension_version, &v, &err), 0);
}

static int64_t ext_ids[EXTS];

/* A pool of NODES nodes (two per update domain) running extensions "agent" and "logs" at 1.0. */
static struct store_fx *setup(struct bw_pool *pool)
{
	static const char *const versions[] = { "1.0" };
	struct store_fx *fx = NULL;
	struct store_err err = { .field = "" };

	memset(&W, 0, sizeof(W));
	W.names[0] = "agent";
	W.names[1] = "logs";
	log_set_level(LOG_ERR_);
	assert_int_equal(store_fx_setup((void **)&fx, "orch_ext"), 0);
	W.id0 = orch_fx_pool(fx->s, versions, 1, pool, "", NODES, 2);
	W.image = pool->image;
	for (int e = 0; e < EXTS; e++) {
		struct bw_extension x;
		struct bw_pool_extension pe;
		model_init(&model_extension, &x);
		snprintf(x.name, sizeof(x.name), "%s", W.names[e]);
		assert_int_equal(store_insert(fx->s, &model_extension, &x, &err), 0);
		ext_ids[e] = x.id;
		add_version(fx->s, x.id, "1.0");
		model_init(&model_pool_extension, &pe);
		pe.pool = pool->id;
		snprintf(pe.name, sizeof(pe.name), "%s", W.names[e]);
		snprintf(pe.version, sizeof(pe.version), "1.0");
		pe.auto_upgrade = true;
		assert_int_equal(store_insert(fx->s, &model_pool_extension, &pe, &err), 0);
	}
	for (int i = 0; i < NODES; i++)
		for (int e = 0; e < EXTS; e++)
			snprintf(W.n[i].ver[e], sizeof(W.n[i].ver[e]), "1.0");
	return fx;
}

static struct orch *make(struct store_fx *fx)
{
	struct orch_env env = { .now = now_, .observe = observe, .reimage = reimage, .rollback = rollback };
	struct orch_config cfg = { .reimage_timeout = 1800, .quarantine_after = 3 };
	struct orch *o;
	assert_int_equal(orch_new(fx->s, &env, &cfg, &o), 0);
	return o;
}

/* The batch rules over the nodes in flight of a rollout, after every step. */
struct inflight {
	int n;
	int64_t ud;
	bool mixed;
};

static int count_inflight(const struct bw_rollout_node *x, void *userdata)
{
	struct inflight *f = userdata;
	enum orch_phase p = orch_phase_parse(x->phase);
	if (!orch_phase_inflight(p) || p == PH_ROLLING_BACK)
		return 0;
	int64_t ud = (x->node - W.id0) / 2;
	if (f->n && ud != f->ud)
		f->mixed = true;
	f->ud = ud;
	f->n++;
	return 0;
}

static int last_rollout(const struct bw_rollout *r, void *userdata)
{
	*(struct bw_rollout *)userdata = *r;
	return 1;
}

/*
 * Steps every 10 s until nothing has rolled forward for 70 s (so the
 * once-a-minute automatic check had its turn), or limit seconds, checking
 * the rules at each step.
 */
static void run_until_idle(struct orch *o, struct store *s, int64_t limit)
{
	int64_t end = fake_now + limit, idle_since = 0;
	while (fake_now < end) {
		struct bw_rollout r = { 0 };
		int left = orch_step(o);
		assert_true(left >= 0);
		if (store_rollout_list(s, 0, 0, 1, last_rollout, &r) == 0 && str_eq(r.status, "RollingForward")) {
			struct inflight f = { 0 };
			assert_int_equal(store_rollout_nodes(s, r.id, count_inflight, &f), 0);
			assert_true(f.n <= 2); /* max_batch_percent 20 of 10 nodes */
			assert_false(f.mixed); /* never two update domains at once */
		}
		if (left > 0)
			idle_since = 0;
		else if (!idle_since)
			idle_since = fake_now;
		else if (fake_now - idle_since >= 70)
			return;
		fake_now += 10;
	}
}

static struct bw_pool_extension pool_ext(struct store *s, int64_t pool, const char *name)
{
	struct bw_pool_extension pe;
	assert_int_equal(store_get_by_key(s, &model_pool_extension, pool, name, &pe), 0);
	return pe;
}

static int count_phase(const struct bw_rollout_node *x, void *userdata)
{
	int *c = userdata;
	c[orch_phase_parse(x->phase)]++;
	return 0;
}

static void test_minor_upgrade_and_no_major(void **state)
{
	struct bw_pool pool;
	struct store_fx *fx = setup(&pool);
	struct orch *o = make(fx);
	struct bw_rollout r = { 0 };
	struct bw_pool_extension pe;
	int phases[PH_N + 1] = { 0 };
	(void)state;

	add_version(fx->s, ext_ids[0], "2.0"); /* a new major: never automatic */
	assert_int_equal(orch_ext_check(o), 0);
	add_version(fx->s, ext_ids[0], "1.1");
	add_version(fx->s, ext_ids[0], "1.2");
	assert_int_equal(orch_ext_check(o), 1); /* the newest of major 1 */
	run_until_idle(o, fx->s, 86400);
	assert_int_equal(store_rollout_list(fx->s, 0, 0, 1, last_rollout, &r), 0);
	assert_string_equal(r.status, "Completed");
	assert_string_equal(r.extension, "agent");
	assert_string_equal(r.version, "1.2");
	assert_string_equal(r.started_by, "platform");
	assert_int_equal(r.batches, 5);
	assert_int_equal(store_rollout_nodes(fx->s, r.id, count_phase, phases), 0);
	assert_int_equal(phases[PH_SUCCEEDED], NODES);
	for (int i = 0; i < NODES; i++) {
		assert_string_equal(W.n[i].ver[0], "1.2");
		assert_string_equal(W.n[i].ver[1], "1.0"); /* the other extension untouched */
	}
	pe = pool_ext(fx->s, pool.id, "agent");
	assert_string_equal(pe.version, "1.2");
	assert_string_equal(pe.previous_version, "1.0");
	/* Nothing newer of major 1: nothing starts, now or a week later. */
	fake_now += 7 * 86400;
	assert_int_equal(orch_ext_check(o), 0);
	assert_int_equal(W.rollbacks, 0);
	orch_free(o);
	store_fx_teardown((void **)&fx);
}

static void test_bad_version_rollback_and_retry(void **state)
{
	struct bw_pool pool;
	struct store_fx *fx = setup(&pool);
	struct orch *o = make(fx);
	struct bw_rollout r = { 0 };
	struct bw_pool_extension pe;
	int phases[PH_N + 1] = { 0 };
	int64_t t_fault;
	(void)state;

	snprintf(W.bad[W.n_bad++], 32, "agent@1.1");
	add_version(fx->s, ext_ids[0], "1.1");
	assert_int_equal(orch_ext_check(o), 1);
	run_until_idle(o, fx->s, 86400);
	assert_int_equal(store_rollout_list(fx->s, 0, 0, 1, last_rollout, &r), 0);
	assert_string_equal(r.status, "Faulted");
	assert_string_equal(r.error_code, "MaxUnhealthyUpgradedInstancePercentExceededInRollingUpgrade");
	assert_int_equal(store_rollout_nodes(fx->s, r.id, count_phase, phases), 0);
	/* The first batch (2 nodes) failed and got 1.0 back; nothing else was touched. */
	assert_int_equal(phases[PH_ROLLED_BACK], 2);
	assert_int_equal(phases[PH_PENDING], NODES - 2);
	assert_int_equal(W.rollbacks, 2);
	for (int i = 0; i < NODES; i++)
		assert_string_equal(W.n[i].ver[0], "1.0");
	pe = pool_ext(fx->s, pool.id, "agent");
	assert_string_equal(pe.version, "1.0");
	assert_string_equal(pe.failed_version, "1.1");
	t_fault = r.completed_at;
	assert_int_equal(pe.retry_after, t_fault + 3 * 86400);
	/* Not again before the retry interval: checked every minute of the virtual clock for 3 days. */
	while (fake_now < t_fault + 3 * 86400 - 60) {
		assert_int_equal(orch_step(o), 0);
		fake_now += 60;
	}
	assert_int_equal(store_rollout_list(fx->s, 0, 0, 1, last_rollout, &r), 0);
	assert_string_equal(r.status, "Faulted");
	/* Fixed meanwhile: the retry after 3 days completes. */
	W.n_bad = 0;
	fake_now = t_fault + 3 * 86400;
	assert_true(orch_step(o) >= 1);
	run_until_idle(o, fx->s, 86400);
	assert_int_equal(store_rollout_list(fx->s, 0, 0, 1, last_rollout, &r), 0);
	assert_string_equal(r.status, "Completed");
	assert_string_equal(r.version, "1.1");
	assert_true(r.started_at >= t_fault + 3 * 86400);
	pe = pool_ext(fx->s, pool.id, "agent");
	assert_string_equal(pe.version, "1.1");
	assert_string_equal(pe.failed_version, "");
	for (int i = 0; i < NODES; i++)
		assert_string_equal(W.n[i].ver[0], "1.1");
	orch_free(o);
	store_fx_teardown((void **)&fx);
}

static void test_sick_version_rolled_back(void **state)
{
	struct bw_pool pool;
	struct store_fx *fx = setup(&pool);
	struct orch *o = make(fx);
	struct bw_rollout r = { 0 };
	int phases[PH_N + 1] = { 0 };
	(void)state;

	pool.health_timeout = 120;
	{
		bool mask[MODEL_MAX_FIELDS] = { false };
		mask[model_field(&model_pool, "health_timeout") - model_pool.fields] = true;
		assert_int_equal(store_update(fx->s, &model_pool, &pool, mask, NULL), 0);
	}
	snprintf(W.sick[W.n_sick++], 32, "logs@1.1");
	add_version(fx->s, ext_ids[1], "1.1");
	assert_int_equal(orch_ext_check(o), 1);
	run_until_idle(o, fx->s, 86400);
	assert_int_equal(store_rollout_list(fx->s, 0, 0, 1, last_rollout, &r), 0);
	assert_string_equal(r.extension, "logs");
	assert_string_equal(r.status, "Faulted");
	assert_int_equal(store_rollout_nodes(fx->s, r.id, count_phase, phases), 0);
	assert_int_equal(phases[PH_ROLLED_BACK], 2);
	for (int i = 0; i < NODES; i++)
		assert_string_equal(W.n[i].ver[1], "1.0");
	assert_string_equal(pool_ext(fx->s, pool.id, "logs").failed_version, "1.1");
	orch_free(o);
	store_fx_teardown((void **)&fx);
}

static void test_one_failing_does_not_hold_another(void **state)
{
	struct bw_pool pool;
	struct store_fx *fx = setup(&pool);
	struct orch *o = make(fx);
	struct bw_rollout r = { 0 };
	(void)state;

	snprintf(W.bad[W.n_bad++], 32, "agent@1.1");
	add_version(fx->s, ext_ids[0], "1.1");
	add_version(fx->s, ext_ids[1], "1.3");
	/* Both are due; one rollout per pool at a time, so the steps take them one after the other. */
	run_until_idle(o, fx->s, 7200);
	assert_int_equal(store_rollout_list(fx->s, 0, 0, 1, last_rollout, &r), 0);
	assert_string_equal(r.status, "Completed");
	assert_string_equal(r.extension, "logs");
	assert_string_equal(pool_ext(fx->s, pool.id, "logs").version, "1.3");
	assert_string_equal(pool_ext(fx->s, pool.id, "agent").version, "1.0");
	assert_string_equal(pool_ext(fx->s, pool.id, "agent").failed_version, "1.1");
	for (int i = 0; i < NODES; i++) {
		assert_string_equal(W.n[i].ver[0], "1.0");
		assert_string_equal(W.n[i].ver[1], "1.3");
	}
	/* A newer minor of the failed one does not wait for the retry of the old one. */
	add_version(fx->s, ext_ids[0], "1.2");
	W.n_bad = 0;
	fake_now += 120;
	run_until_idle(o, fx->s, 3600);
	assert_int_equal(store_rollout_list(fx->s, 0, 0, 1, last_rollout, &r), 0);
	assert_string_equal(r.extension, "agent");
	assert_string_equal(r.version, "1.2");
	assert_string_equal(r.status, "Completed");
	orch_free(o);
	store_fx_teardown((void **)&fx);
}

static void test_manual_start_and_skip(void **state)
{
	struct bw_pool pool;
	struct store_fx *fx = setup(&pool);
	struct orch *o = make(fx);
	struct bw_rollout r;
	struct orch_err e;
	int phases[PH_N + 1] = { 0 };
	(void)state;

	add_version(fx->s, ext_ids[1], "2.0");
	snprintf(W.n[3].ver[1], sizeof(W.n[3].ver[1]), "2.0"); /* one node has it already */
	assert_int_equal(orch_start_extension(o, pool.id, "logs", "9.9", "user", "t", &r, &e), -ENOENT);
	assert_string_equal(e.field, "version");
	assert_int_equal(orch_start_extension(o, pool.id, "nope", NULL, "user", "t", &r, &e), -ENOENT);
	assert_string_equal(e.field, "extension");
	/* A user may move to a new major. */
	assert_int_equal(orch_start_extension(o, pool.id, "logs", "2.0", "user", "t", &r, &e), 0);
	assert_int_equal(orch_start_extension(o, pool.id, "agent", NULL, "user", "t", NULL, &e), -EEXIST);
	assert_string_equal(e.code, "rollout_running");
	run_until_idle(o, fx->s, 86400);
	assert_int_equal(store_rollout_get(fx->s, r.id, &r), 0);
	assert_string_equal(r.status, "Completed");
	assert_int_equal(store_rollout_nodes(fx->s, r.id, count_phase, phases), 0);
	assert_int_equal(phases[PH_SKIPPED], 1);
	assert_int_equal(phases[PH_SUCCEEDED], NODES - 1);
	assert_string_equal(pool_ext(fx->s, pool.id, "logs").version, "2.0");
	orch_free(o);
	store_fx_teardown((void **)&fx);
}

/* A new OS latest published while an extension rolls out: its rollout starts when that one ends. */
static void test_os_latest_after_extension(void **state)
{
	struct bw_pool pool;
	struct store_fx *fx = setup(&pool);
	struct orch *o = make(fx);
	struct bw_rollout r, cur;
	struct orch_err e;
	struct bw_image_version v;
	struct store_err err = { .field = "" };
	bool mask[MODEL_MAX_FIELDS] = { false };
	(void)state;

	pool.auto_upgrade = true;
	mask[model_field(&model_pool, "auto_upgrade") - model_pool.fields] = true;
	assert_int_equal(store_update(fx->s, &model_pool, &pool, mask, NULL), 0);
	assert_string_equal(pool.image_version, "latest");
	/* The pool's last OS rollout: to 1.0, where every node is. */
	assert_int_equal(orch_start(o, pool.id, "1.0", "platform", NULL, &r, &e), 0);
	run_until_idle(o, fx->s, 600);
	assert_int_equal(store_rollout_get(fx->s, r.id, &r), 0);
	assert_string_equal(r.status, "Completed");
	add_version(fx->s, ext_ids[0], "1.1");
	assert_int_equal(orch_ext_check(o), 1);
	assert_int_equal(store_rollout_running(fx->s, pool.id, &cur), 0);
	assert_string_equal(cur.extension, "agent");
	model_init(&model_image_version, &v);
	v.image = W.image;
	snprintf(v.version, sizeof(v.version), "2.0");
	snprintf(v.sha256, sizeof(v.sha256), "%064d", 2);
	snprintf(v.artifact, sizeof(v.artifact), "rootfs.img");
	assert_int_equal(store_insert(fx->s, &model_image_version, &v, &err), 0);
	assert_int_equal(orch_published(o, W.image, "2.0"), 0); /* busy: not now */
	for (int i = 0; i < 1000; i++) {
		assert_true(orch_step(o) >= 0);
		assert_int_equal(store_rollout_get(fx->s, cur.id, &r), 0);
		if (!str_eq(r.status, "RollingForward"))
			break;
		fake_now += 10;
	}
	assert_string_equal(r.status, "Completed");
	assert_int_equal(store_rollout_running(fx->s, pool.id, &cur), 0);
	assert_string_equal(cur.extension, "");
	assert_string_equal(cur.version, "2.0");
	assert_string_equal(cur.started_by, "platform");
	orch_free(o);
	store_fx_teardown((void **)&fx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_minor_upgrade_and_no_major),
		cmocka_unit_test(test_bad_version_rollback_and_retry),
		cmocka_unit_test(test_sick_version_rolled_back),
		cmocka_unit_test(test_one_failing_does_not_hold_another),
		cmocka_unit_test(test_manual_start_and_skip),
		cmocka_unit_test(test_os_latest_after_extension),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
