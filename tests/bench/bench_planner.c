// SPDX-License-Identifier: Apache-2.0
/*
 * The batch planner's cost (server/orch/planner.h): the time of one batch
 * decision over a pool of 100,000 nodes (3 zones, 20 update domains, 1,000
 * fault domains, 2% unhealthy), the mean over a whole rollout's decisions,
 * and the CPU time of planning a complete 10,000-node rollout. Prints its
 * figures last. The orchestrator around it (store writes, health gates) is
 * measured by bench_orch.
 *
 * Usage: bench_planner [NODES [ROLLOUT_NODES]]
 */
#include "planner.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(clockid_t c)
{
	struct timespec ts;
	clock_gettime(c, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct plan_node *make_pool(size_t n, unsigned seed)
{
	struct plan_node *v = calloc(n, sizeof(*v));
	if (!v)
		exit(1);
	for (size_t i = 0; i < n; i++)
		v[i] = (struct plan_node){ .id = (int64_t)i + 1,
					   .zone = rand_r(&seed) % 3,
					   .update_domain = rand_r(&seed) % 20,
					   .fault_domain = rand_r(&seed) % 1000,
					   .healthy = rand_r(&seed) % 50 != 0 };
	return v;
}

/* Plans a whole rollout; returns the number of decisions. */
static size_t rollout(const struct plan_policy *p, struct plan_node *v, size_t n, size_t *batch)
{
	size_t len, decisions = 0;
	bool first = true;

	while (plan_next(p, v, n, first, batch, &len) == PLAN_BATCH) {
		first = false;
		decisions++;
		for (size_t k = 0; k < len; k++)
			v[batch[k]].done = v[batch[k]].upgraded = true;
	}
	return decisions + 1;
}

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 100000;
	size_t m = argc > 2 ? strtoul(argv[2], NULL, 10) : 10000;
	struct plan_policy p = { .max_batch_percent = 20, .max_unhealthy_percent = 20,
				 .max_unhealthy_upgraded_percent = 20, .max_per_fault_domain = 2 };
	struct plan_node *v = make_pool(n, 1), *w;
	size_t *batch = calloc(n > m ? n : m, sizeof(*batch)), len = 0, decisions;
	double t0, one, all, cpu;

	if (!batch)
		return 1;
	/* One decision at the start, the most expensive (nothing is done yet). */
	t0 = now(CLOCK_MONOTONIC);
	for (int i = 0; i < 10; i++)
		plan_next(&p, v, n, true, batch, &len);
	one = (now(CLOCK_MONOTONIC) - t0) / 10;
	/* A whole rollout over the same pool. */
	t0 = now(CLOCK_MONOTONIC);
	decisions = rollout(&p, v, n, batch);
	all = now(CLOCK_MONOTONIC) - t0;
	/* The CPU time of planning a whole rollout of m nodes. */
	w = make_pool(m, 2);
	t0 = now(CLOCK_PROCESS_CPUTIME_ID);
	size_t m_decisions = rollout(&p, w, m, batch);
	cpu = now(CLOCK_PROCESS_CPUTIME_ID) - t0;

	printf("planner: %zu nodes, first batch of %zu: %.3f ms per decision\n", n, len, one * 1e3);
	printf("planner: %zu nodes, whole rollout: %zu decisions in %.3f s (%.3f ms each)\n", n, decisions, all,
	       all * 1e3 / (double)decisions);
	printf("planner: %zu-node rollout planned in %.3f s of CPU (%zu decisions)\n", m, cpu, m_decisions);
	free(w);
	free(v);
	free(batch);
	return 0;
}
