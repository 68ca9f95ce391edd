// SPDX-License-Identifier: Apache-2.0
/*
 * The orchestrator against time alone (server/orch/orch.h): maintenance
 * windows and rollout_timeout, over a pool of healthy nodes whose world
 * does nothing but answer (tests/unit/test_orch_sim.c has the full world).
 *   - outside its maintenance window a rollout starts no batch, for days;
 *     the first batch starts in the first step inside the window;
 *   - past rollout_timeout it ends Faulted RollingUpgradeTimeout between
 *     batches, with no batch started after the limit.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "log.h"
#include "orch.h"
#include "testutil.h"
#include "window.h"

#define NODES 4

struct world {
	int64_t image;
	int reimages;
	int64_t written_at[NODES + 1]; /* by node id - id0 */
	int64_t id0;
};

static struct world W;

static int64_t now_(void *ctx)
{
	(void)ctx;
	return fake_now;
}

/* Healthy on 1.0; a node asked to reimage has its 2.0 written 60 s later and is Healthy on it 60 s after. */
static void observe(void *ctx, const struct orch_req *q, struct orch_obs *ob)
{
	int64_t w = W.written_at[q->node - W.id0];
	(void)ctx;
	memset(ob, 0, sizeof(*ob));
	ob->hb = OHB_HEALTHY;
	ob->hb_at = fake_now;
	ob->image = W.image;
	snprintf(ob->version, sizeof(ob->version), "%s", w && fake_now >= w + 60 ? "2.0" : "1.0");
	if (w)
		ob->task = fake_now >= w ? OT_WRITTEN : OT_WRITING;
}

static int reimage(void *ctx, const struct orch_req *q, char *err, size_t size)
{
	(void)ctx;
	(void)err;
	(void)size;
	W.reimages++;
	W.written_at[q->node - W.id0] = fake_now + 60;
	return 0;
}

static int rollback(void *ctx, const struct orch_req *q, char *err, size_t size)
{
	(void)ctx;
	(void)q;
	snprintf(err, size, "no rollback expected");
	return -EINVAL;
}

/* A pool of NODES nodes on 1.0, in one update domain each, and 2.0 published. */
static struct store_fx *setup(struct bw_pool *pool, const char *windows)
{
	static const char *const versions[] = { "1.0", "2.0" };
	struct store_fx *fx = NULL;

	memset(&W, 0, sizeof(W));
	log_set_level(LOG_ERR_);
	assert_int_equal(store_fx_setup((void **)&fx, "orch_timeout"), 0);
	W.id0 = orch_fx_pool(fx->s, versions, 2, pool, windows, NODES, 1);
	W.image = pool->image;
	return fx;
}

static struct orch *make(struct store_fx *fx, int64_t rollout_timeout)
{
	struct orch_env env = { .now = now_, .observe = observe, .reimage = reimage, .rollback = rollback };
	struct orch_config cfg = { .reimage_timeout = 1800, .quarantine_after = 3, .rollout_timeout = rollout_timeout };
	struct orch *o;
	assert_int_equal(orch_new(fx->s, &env, &cfg, &o), 0);
	return o;
}

static int batch_started(const struct bw_rollout_node *x, void *userdata)
{
	int64_t *first = userdata;
	if (x->batch == 1)
		*first = x->started_at;
	return 0;
}

static void test_window(void **state)
{
	struct bw_pool pool;
	/* fake_now starts at 1700000000: Tuesday 2023-11-14 22:13:20 UTC. The window: Thursdays 01:00-03:00. */
	struct store_fx *fx = setup(&pool, "Thu 01:00-03:00");
	struct orch *o = make(fx, 0);
	struct window_set ws;
	struct bw_rollout r;
	struct orch_err e;
	char why[64];
	int64_t first = 0, opens;
	(void)state;

	assert_int_equal(window_parse(pool.maintenance_windows, &ws, why, sizeof(why)), 0);
	assert_false(window_open(&ws, fake_now));
	opens = window_next_open(&ws, fake_now);
	assert_int_equal(opens % 86400, 3600); /* 01:00 */
	assert_int_equal(orch_start(o, pool.id, "2.0", "user", "t", &r, &e), 0);
	while (fake_now < opens + 3 * 86400) {
		assert_true(orch_step(o) >= 0);
		assert_int_equal(store_rollout_get(fx->s, r.id, &r), 0);
		if (r.batches > 0 && !first) {
			first = r.batch_started_at;
			/* the first step inside the window */
			assert_true(window_open(&ws, first));
			assert_true(first >= opens && first < opens + 300);
		}
		if (r.batches > 0)
			assert_true(window_open(&ws, r.batch_started_at)); /* every batch starts inside */
		if (!str_eq(r.status, "RollingForward"))
			break;
		fake_now += 300;
	}
	assert_string_equal(r.status, "Completed");
	assert_int_equal(r.batches, NODES);
	assert_int_equal(W.reimages, NODES);
	/* 4 batches of 2 minutes fit in the 2-hour window: all in the first one */
	assert_int_equal(store_rollout_nodes(fx->s, r.id, batch_started, &first), 0);
	assert_true(r.completed_at < opens + 7200);
	orch_free(o);
	store_fx_teardown((void **)&fx);
}

static void test_timeout(void **state)
{
	struct bw_pool pool;
	struct store_fx *fx = setup(&pool, "Thu 01:00-03:00");
	struct orch *o = make(fx, 86400);
	struct bw_rollout r;
	struct orch_err e;
	int64_t t0 = fake_now;
	(void)state;

	assert_int_equal(orch_start(o, pool.id, "2.0", "platform", NULL, &r, &e), 0);
	while (fake_now < t0 + 5 * 86400) {
		assert_true(orch_step(o) >= 0);
		assert_int_equal(store_rollout_get(fx->s, r.id, &r), 0);
		if (!str_eq(r.status, "RollingForward"))
			break;
		fake_now += 600;
	}
	/* The window (Thursday 01:00) comes after the day of rollout_timeout: nothing ever started. */
	assert_string_equal(r.status, "Faulted");
	assert_string_equal(r.error_code, "RollingUpgradeTimeout");
	assert_int_equal(r.batches, 0);
	assert_int_equal(W.reimages, 0);
	assert_true(r.completed_at > t0 + 86400 && r.completed_at <= t0 + 86400 + 600);
	orch_free(o);
	store_fx_teardown((void **)&fx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_window),
		cmocka_unit_test(test_timeout),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
