// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests of server/orch/planner.c: batch sizes and thresholds at their
 * boundaries (pools of 1, 5, 6, 10, 11, 99, 100 nodes), and whole rollouts
 * over random pools (zones, update and fault domains, health) in which
 * every batch is checked against every rule: its size, one update domain,
 * one zone unless cross_zone, the fault domain cap, no node twice, no
 * quarantined node, domains in order, every node upgraded once.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "planner.h"

static const struct plan_policy defaults = {
	.max_batch_percent = 20, .max_unhealthy_percent = 20, .max_unhealthy_upgraded_percent = 20,
};

static void test_batch_size(void **state)
{
	static const size_t pools[] = { 1, 5, 6, 10, 11, 99, 100 };
	static const size_t want[] = { 1, 1, 1, 2, 2, 19, 20 };
	(void)state;

	for (size_t i = 0; i < sizeof(pools) / sizeof(pools[0]); i++)
		assert_int_equal(plan_batch_size(pools[i], 20), want[i]);
	assert_int_equal(plan_batch_size(100, 100), 100);
	assert_int_equal(plan_batch_size(6, 100), 6);
	assert_int_equal(plan_batch_size(5, 100), 1); /* 5 or fewer: one at a time */
	assert_int_equal(plan_batch_size(50, 1), 1);  /* floor(0.5), at least 1 */
	assert_int_equal(plan_batch_size(199, 1), 1);
	assert_int_equal(plan_batch_size(200, 1), 2);
}

static void test_over(void **state)
{
	(void)state;
	assert_false(plan_over(1, 5, 20)); /* exactly 20%: allowed */
	assert_true(plan_over(2, 5, 20));
	assert_false(plan_over(20, 100, 20));
	assert_true(plan_over(21, 100, 20));
	assert_false(plan_over(0, 1, 0));
	assert_true(plan_over(1, 1, 0));
	assert_false(plan_over(1, 1, 100));
	assert_false(plan_over(0, 0, 0)); /* nothing counted: nothing exceeded */
	assert_false(plan_over(2, 11, 19)); /* 18.2% */
	assert_true(plan_over(3, 11, 19));  /* 27.3% */
}

static struct plan_node *pool(size_t n)
{
	struct plan_node *v = calloc(n, sizeof(*v));
	assert_non_null(v);
	for (size_t i = 0; i < n; i++)
		v[i] = (struct plan_node){ .id = (int64_t)i + 1, .healthy = true };
	return v;
}

static void test_thresholds(void **state)
{
	struct plan_node *v = pool(10);
	size_t batch[10], len;
	(void)state;

	/* 2 of 10 unhealthy at 20%: at the boundary, it goes. */
	v[0].healthy = v[1].healthy = false;
	assert_int_equal(plan_next(&defaults, v, 10, true, batch, &len), PLAN_BATCH);
	assert_int_equal(len, 2);
	/* 3 of 10: stopped, before the first batch or in the rollout. */
	v[2].healthy = false;
	assert_int_equal(plan_next(&defaults, v, 10, true, batch, &len), PLAN_STOP_BEFORE);
	assert_int_equal(len, 0);
	assert_int_equal(plan_next(&defaults, v, 10, false, batch, &len), PLAN_STOP_IN);
	assert_string_equal(plan_error_code(PLAN_STOP_BEFORE), "MaxUnhealthyInstancePercentExceededBeforeRollingUpgrade");
	assert_string_equal(plan_error_code(PLAN_STOP_IN), "MaxUnhealthyInstancePercentExceededInRollingUpgrade");
	/* Quarantined nodes are not counted: 1 of 8. */
	v[1].quarantined = v[2].quarantined = true;
	assert_int_equal(plan_next(&defaults, v, 10, false, batch, &len), PLAN_BATCH);
	for (size_t k = 0; k < len; k++)
		assert_false(v[batch[k]].quarantined);

	/* After a batch: 1 of 5 upgraded unhealthy is 20%, 2 of 5 stops. */
	memset(v, 0, 10 * sizeof(*v));
	for (size_t i = 0; i < 10; i++)
		v[i].healthy = true;
	for (size_t i = 0; i < 5; i++)
		v[i].done = v[i].upgraded = true;
	v[0].healthy = false;
	assert_int_equal(plan_next(&defaults, v, 10, false, batch, &len), PLAN_BATCH);
	v[1].healthy = false;
	assert_int_equal(plan_next(&defaults, v, 10, false, batch, &len), PLAN_STOP_UPGRADED);
	assert_string_equal(plan_error_code(PLAN_STOP_UPGRADED),
			    "MaxUnhealthyUpgradedInstancePercentExceededInRollingUpgrade");
	/* Even when nothing is left to do, the last batch is judged. */
	for (size_t i = 5; i < 10; i++)
		v[i].done = true;
	assert_int_equal(plan_next(&defaults, v, 10, false, batch, &len), PLAN_STOP_UPGRADED);
	v[1].healthy = true;
	assert_int_equal(plan_next(&defaults, v, 10, false, batch, &len), PLAN_COMPLETE);
	assert_string_equal(plan_error_code(PLAN_COMPLETE), "");
	free(v);
}

static void test_order_and_priority(void **state)
{
	struct plan_node *v = pool(12);
	struct plan_policy p = defaults;
	size_t batch[12], len;
	(void)state;

	/* Update domains 2,1,0,2,1,0...; zones 1 and 2. */
	for (size_t i = 0; i < 12; i++) {
		v[i].update_domain = 2 - (int)(i % 3);
		v[i].zone = 1 + (int64_t)(i % 2);
	}
	assert_int_equal(plan_next(&p, v, 12, true, batch, &len), PLAN_BATCH);
	assert_int_equal(len, 2); /* floor(12 * 20%) */
	for (size_t k = 0; k < len; k++) {
		assert_int_equal(v[batch[k]].update_domain, 0);
		assert_int_equal(v[batch[k]].zone, 1); /* lowest zone of UD 0 first */
	}
	/* An unhealthy node in UD 2, zone 2 (node 3): its domain goes first. */
	v[3].healthy = false;
	p.prioritize_unhealthy = true;
	assert_int_equal(plan_next(&p, v, 12, true, batch, &len), PLAN_BATCH);
	assert_true(len >= 1);
	assert_int_equal(batch[0], 3);
	for (size_t k = 0; k < len; k++) {
		assert_int_equal(v[batch[k]].update_domain, 2);
		assert_int_equal(v[batch[k]].zone, 2);
	}
	free(v);
}

/* A whole rollout over a random pool; every batch checked against every rule. */
static void rollout(size_t n, const struct plan_policy *p, unsigned seed)
{
	struct plan_node *v = pool(n);
	size_t *batch = calloc(n, sizeof(*batch)), len, upgraded = 0, quarantined = 0, batches = 0;
	unsigned *seen = calloc(n, sizeof(*seen));
	int last_ud = -1;
	bool first = true;
	enum plan_verdict verdict;

	assert_non_null(batch);
	assert_non_null(seen);
	for (size_t i = 0; i < n; i++) {
		v[i].zone = rand_r(&seed) % 3;
		v[i].update_domain = rand_r(&seed) % 5;
		v[i].fault_domain = rand_r(&seed) % 7;
		v[i].quarantined = rand_r(&seed) % 23 == 0;
		v[i].done = rand_r(&seed) % 11 == 0; /* already on the target */
		quarantined += v[i].quarantined;
	}
	while ((verdict = plan_next(p, v, n, first, batch, &len)) == PLAN_BATCH) {
		size_t fd_count[7] = { 0 };
		first = false;
		batches++;
		assert_true(len >= 1);
		assert_true(len <= plan_batch_size(n - quarantined, p->max_batch_percent));
		/* update domains in ascending order */
		assert_true(v[batch[0]].update_domain >= last_ud);
		last_ud = v[batch[0]].update_domain;
		for (size_t k = 0; k < len; k++) {
			struct plan_node *x = &v[batch[k]];
			assert_false(x->quarantined);
			assert_false(x->done);
			assert_int_equal(x->update_domain, v[batch[0]].update_domain);
			if (!p->cross_zone)
				assert_int_equal(x->zone, v[batch[0]].zone);
			fd_count[x->fault_domain]++;
			if (p->max_per_fault_domain)
				assert_true(fd_count[x->fault_domain] <= p->max_per_fault_domain);
			assert_int_equal(seen[batch[k]]++, 0);
		}
		for (size_t k = 0; k < len; k++)
			v[batch[k]].done = v[batch[k]].upgraded = true;
		upgraded += len;
		assert_true(batches <= n);
	}
	assert_int_equal(verdict, PLAN_COMPLETE);
	for (size_t i = 0; i < n; i++)
		assert_true(v[i].done || v[i].quarantined);
	free(seen);
	free(batch);
	free(v);
}

static void test_rollouts(void **state)
{
	static const size_t sizes[] = { 1, 5, 6, 10, 11, 99, 100, 1000 };
	struct plan_policy p = defaults;
	(void)state;

	for (unsigned seed = 1; seed <= 20; seed++)
		for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			p = defaults;
			rollout(sizes[i], &p, seed);
			p.cross_zone = true;
			rollout(sizes[i], &p, seed);
			p.cross_zone = false;
			p.max_per_fault_domain = 1 + seed % 3;
			rollout(sizes[i], &p, seed);
			p.max_batch_percent = 1 + seed * 5;
			rollout(sizes[i], &p, seed);
		}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_batch_size),
		cmocka_unit_test(test_over),
		cmocka_unit_test(test_thresholds),
		cmocka_unit_test(test_order_and_priority),
		cmocka_unit_test(test_rollouts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
