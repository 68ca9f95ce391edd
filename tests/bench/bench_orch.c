// SPDX-License-Identifier: Apache-2.0
/*
 * The orchestrator's cost (server/orch/orch.h): a complete rollout of a
 * 10,000-node pool (4 zones, 5 update domains, 8 fault domains per zone,
 * 20% batches, a few slow, never-healthy and flapping nodes, auto_rollback)
 * in the simulated world of tests/unit/orch_simworld.h, under a virtual
 * clock stepped every 30 s, with the real store (SQLite, WAL) on a file.
 * Prints the CPU time spent in orch_step (the orchestrator: its store
 * transactions, health gates, planner) over the whole rollout, per step and
 * per node, next to the CPU time of the simulated world around it. No peer
 * runs here: Ironic, MAAS and Tinkerbell have no rolling upgrade of a pool
 * to compare with; bench_planner gives the planner's own time per decision.
 *
 * Usage: bench_orch [NODES]
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "log.h"
#include "../unit/testutil.h"
#include "../unit/orch_simworld.h"

static size_t n_nodes = 10000;
static int64_t zone_id[4];

static double cpu(void) { return clock_seconds(CLOCK_PROCESS_CPUTIME_ID); }
static double wall(void) { return clock_seconds(CLOCK_MONOTONIC); }

static void spec(struct world *w, size_t i, struct world_node_spec *sp, void *userdata)
{
	int z = (int)sim_range(w, 0, 3);
	unsigned roll = (unsigned)sim_range(w, 0, 999);
	(void)userdata;
	sp->zone = zone_id[z];
	sp->ud = (int)(i % 5);
	sp->fd = z * 8 + (int)sim_range(w, 0, 7);
	sp->flags = roll < 30 ? SB_SLOW : roll < 40 ? SB_NEVER : roll < 45 ? SB_FLAP : 0;
	sp->ver = 0;
}

static void bench(void **state)
{
	static const char *const vers[] = { "1.0", "2.0" };
	struct store_fx *fx = NULL;
	struct store_err err = { .field = "" };
	struct bw_site site;
	struct bw_pool pool;
	struct world w;
	struct orch *o;
	struct orch_env env;
	struct orch_config cfg = { .reimage_timeout = 1200, .quarantine_after = 3 };
	struct orch_err oe;
	struct bw_rollout r;
	struct orch_counts c;
	double orch_cpu = 0, t0 = cpu(), w0 = wall();
	int64_t steps = 0, v0;
	(void)state;

	log_set_level(LOG_ERR_); /* the rollout's own log is not the measure */
	assert_int_equal(store_fx_setup((void **)&fx, "bench_orch"), 0);
	model_init(&model_site, &site);
	snprintf(site.name, sizeof(site.name), "dc1");
	assert_int_equal(store_insert(fx->s, &model_site, &site, &err), 0);
	for (int z = 0; z < 4; z++) {
		struct bw_zone zone;
		model_init(&model_zone, &zone);
		snprintf(zone.name, sizeof(zone.name), "z%d", z);
		zone.site = site.id;
		assert_int_equal(store_insert(fx->s, &model_zone, &zone, &err), 0);
		zone_id[z] = zone.id;
	}
	model_init(&model_pool, &pool);
	snprintf(pool.name, sizeof(pool.name), "bench");
	pool.max_batch_percent = 20;
	pool.pause_between_batches = 60;
	pool.health_timeout = 600;
	pool.heartbeat_timeout = 120;
	world_init(&w, fx->s, vers, 2, &pool, n_nodes, 20261130, spec, NULL);
	printf("bench_orch: %zu nodes in the store after %.1f s\n", n_nodes, wall() - w0);
	env = world_env(&w);
	assert_int_equal(orch_new(fx->s, &env, &cfg, &o), 0);
	v0 = fake_now;
	t0 = cpu();
	w0 = wall();
	{
		double c0 = cpu();
		assert_int_equal(orch_start(o, pool.id, "2.0", "user", "bench", &r, &oe), 0);
		orch_cpu += cpu() - c0;
	}
	for (;;) {
		double c0;
		int left;
		world_sync(&w, fake_now);
		c0 = cpu();
		left = orch_step(o);
		orch_cpu += cpu() - c0;
		assert_true(left >= 0);
		steps++;
		if (left == 0)
			break;
		fake_now += 30;
		assert_true(steps < 100000);
	}
	assert_int_equal(store_rollout_get(fx->s, r.id, &r), 0);
	assert_int_equal(orch_counts(o, r.id, &c), 0);
	printf("bench_orch: rollout %s%s%s: %lld batches over %.1f h of virtual time, %lld steps;"
	       " %lld succeeded, %lld rolled back, %lld rollback-failed, %lld failed\n",
	       r.status, r.error_code[0] ? " " : "", r.error_code, (long long)r.batches,
	       (double)(fake_now - v0) / 3600, (long long)steps, (long long)c.successful, (long long)c.rolled_back,
	       (long long)c.rollback_failed, (long long)(c.failed - c.rolled_back - c.rollback_failed));
	printf("bench_orch: complete %zu-node rollout: orchestrator CPU %.2f s (%.2f ms per step, %.0f us per node);"
	       " world + orchestrator CPU %.2f s, wall %.2f s\n",
	       n_nodes, orch_cpu, 1000 * orch_cpu / (double)steps, 1e6 * orch_cpu / (double)n_nodes, cpu() - t0,
	       wall() - w0);
	orch_free(o);
	world_free(&w);
	store_fx_teardown((void **)&fx);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = { cmocka_unit_test(bench) };

	if (argc > 1)
		n_nodes = (size_t)strtoul(argv[1], NULL, 10);
	if (n_nodes < 10 || n_nodes > 100000) {
		fprintf(stderr, "usage: bench_orch [NODES]  (10-100000)\n");
		return 2;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
