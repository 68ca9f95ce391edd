// SPDX-License-Identifier: Apache-2.0
/*
 * planner: the batch decision of a rolling upgrade (planner.h). Linear in
 * the pool's size: one pass to count, one to find the domain that goes
 * next, one to fill the batch.
 */
#include "planner.h"

#include <stdlib.h>

/* Fault domains are 0-1023 (lib/model.c). */
#define PLAN_MAX_FD 1024

const char *plan_error_code(enum plan_verdict v)
{
	switch (v) {
	case PLAN_STOP_BEFORE:
		return "MaxUnhealthyInstancePercentExceededBeforeRollingUpgrade";
	case PLAN_STOP_IN:
		return "MaxUnhealthyInstancePercentExceededInRollingUpgrade";
	case PLAN_STOP_UPGRADED:
		return "MaxUnhealthyUpgradedInstancePercentExceededInRollingUpgrade";
	default:
		return "";
	}
}

size_t plan_batch_size(size_t n, unsigned percent)
{
	size_t size;

	if (n <= 5)
		return 1;
	size = n * percent / 100;
	return size ? size : 1;
}

bool plan_over(size_t unhealthy, size_t total, unsigned percent)
{
	/* unhealthy / total > percent / 100, in integers */
	return total && unhealthy * 100 > (size_t)percent * total;
}

/* Whether a comes before b in the order domains are upgraded. */
static bool before(const struct plan_node *a, const struct plan_node *b, bool cross_zone)
{
	if (a->update_domain != b->update_domain)
		return a->update_domain < b->update_domain;
	return !cross_zone && a->zone < b->zone;
}

enum plan_verdict plan_next(const struct plan_policy *p, const struct plan_node *nodes, size_t n, bool first,
			    size_t *ret_batch, size_t *ret_len)
{
	size_t total = 0, unhealthy = 0, upgraded = 0, upgraded_unhealthy = 0, size, len = 0;
	const struct plan_node *lead = NULL;
	unsigned in_fd[PLAN_MAX_FD] = { 0 }; /* batch members per fault domain */

	*ret_len = 0;
	for (size_t i = 0; i < n; i++) {
		const struct plan_node *x = &nodes[i];
		if (x->quarantined)
			continue;
		total++;
		unhealthy += !x->healthy;
		if (x->upgraded) {
			upgraded++;
			upgraded_unhealthy += !x->healthy;
		}
		if (x->done)
			continue;
		/* The domain that goes next: the first in order, or with
		 * prioritize_unhealthy the first holding an unhealthy node. */
		if (!lead)
			lead = x;
		else if (p->prioritize_unhealthy && !x->healthy && lead->healthy)
			lead = x;
		else if ((!p->prioritize_unhealthy || x->healthy == lead->healthy) && before(x, lead, p->cross_zone))
			lead = x;
	}
	if (!first && plan_over(upgraded_unhealthy, upgraded, p->max_unhealthy_upgraded_percent))
		return PLAN_STOP_UPGRADED;
	if (!lead)
		return PLAN_COMPLETE;
	if (plan_over(unhealthy, total, p->max_unhealthy_percent))
		return first ? PLAN_STOP_BEFORE : PLAN_STOP_IN;

	size = plan_batch_size(total, p->max_batch_percent);
	/* Unhealthy nodes of the domain first when asked, then in pool order. */
	for (int pass = p->prioritize_unhealthy ? 0 : 1; pass < 2 && len < size; pass++) {
		for (size_t i = 0; i < n && len < size; i++) {
			const struct plan_node *x = &nodes[i];
			unsigned fd = (unsigned)x->fault_domain % PLAN_MAX_FD;

			if (x->quarantined || x->done || x->update_domain != lead->update_domain ||
			    (!p->cross_zone && x->zone != lead->zone))
				continue;
			/* pass 0: the unhealthy ones; pass 1 (after a pass 0): the rest */
			if ((pass == 0 && x->healthy) || (pass == 1 && p->prioritize_unhealthy && !x->healthy))
				continue;
			/* A node in no fault domain (< 0) is under no cap. */
			if (x->fault_domain >= 0 && p->max_per_fault_domain && in_fd[fd] >= p->max_per_fault_domain)
				continue;
			if (x->fault_domain >= 0)
				in_fd[fd]++;
			ret_batch[len++] = i;
		}
	}
	*ret_len = len;
	return PLAN_BATCH;
}
