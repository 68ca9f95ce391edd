/* SPDX-License-Identifier: Apache-2.0 */
/*
 * planner: the batch decision of a rolling upgrade, as a pure function of a
 * pool's policy and its nodes' state (DESIGN.md, "Orchestrator semantics").
 * No store, no clock, no I/O: the orchestrator gathers the state, asks,
 * and writes the answer down before acting on it, so the same decision is
 * taken again after a crash and the simulation drives the very same code.
 *
 * The rules:
 *   - batch size = max(1, floor(N * max_batch_percent / 100)); a pool of 5
 *     or fewer nodes goes one node at a time; N counts the pool's nodes that
 *     are not quarantined;
 *   - before every batch, over the whole pool: more than
 *     max_unhealthy_percent of the nodes unhealthy stops the rollout
 *     (MaxUnhealthyInstancePercentExceededBeforeRollingUpgrade before the
 *     first batch, ...InRollingUpgrade later);
 *   - after every batch, over the upgraded nodes: more than
 *     max_unhealthy_upgraded_percent unhealthy stops it
 *     (MaxUnhealthyUpgradedInstancePercentExceededInRollingUpgrade);
 *   - a batch never spans two update domains, nor two zones unless
 *     cross_zone; at most max_per_fault_domain nodes of one fault domain
 *     per batch (0: no cap);
 *   - update domains go in ascending order (then zones); with
 *     prioritize_unhealthy, the domain holding the first unhealthy node
 *     that is still to do goes first, and its unhealthy nodes first;
 *   - quarantined nodes are neither upgraded nor counted.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct plan_policy {
	unsigned max_batch_percent;              /* 1-100 */
	unsigned max_unhealthy_percent;          /* 0-100 */
	unsigned max_unhealthy_upgraded_percent; /* 0-100 */
	unsigned max_per_fault_domain;           /* 0: no cap */
	bool prioritize_unhealthy;
	bool cross_zone;
};

struct plan_node {
	int64_t id;
	int64_t zone;
	int update_domain;
	int fault_domain; /* < 0: none (no cap applies) */
	bool done;        /* on the target version (upgraded, or was already) */
	bool upgraded;    /* upgraded by this rollout (counts for the after-batch check) */
	bool healthy;
	bool quarantined;
};

enum plan_verdict {
	PLAN_BATCH,           /* upgrade the nodes returned */
	PLAN_COMPLETE,        /* nothing left to do */
	PLAN_STOP_BEFORE,     /* MaxUnhealthyInstancePercentExceededBeforeRollingUpgrade */
	PLAN_STOP_IN,         /* MaxUnhealthyInstancePercentExceededInRollingUpgrade */
	PLAN_STOP_UPGRADED,   /* MaxUnhealthyUpgradedInstancePercentExceededInRollingUpgrade */
};

/* The error code a verdict stops the rollout with, or "" when it does not. */
const char *plan_error_code(enum plan_verdict v);

/* max(1, floor(n * percent / 100)), and 1 when n <= 5. */
size_t plan_batch_size(size_t n, unsigned percent);

/* Whether more than percent of total are unhealthy (exactly percent is fine). */
bool plan_over(size_t unhealthy, size_t total, unsigned percent);

/*
 * The next step of a rollout over nodes[0..n). first: no batch has run yet.
 * On PLAN_BATCH, the indexes (into nodes) of the batch are in ret_batch
 * (room for n) and their number in *ret_len. The after-batch check of the
 * upgraded nodes comes first, then the pool-wide one, then the choice.
 */
enum plan_verdict plan_next(const struct plan_policy *p, const struct plan_node *nodes, size_t n, bool first,
			    size_t *ret_batch, size_t *ret_len);
