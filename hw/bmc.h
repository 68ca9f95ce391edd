/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bmc: the discipline bootwaved keeps with BMCs, over the drivers of hw.h.
 * What operators of large fleets ask of a provisioning system:
 *   - at most one command in flight per BMC: jobs for one BMC queue in
 *     order, and a worker never waits on a busy BMC (it takes the next BMC
 *     that has work), so a BMC that hangs delays only its own node;
 *   - sessions reused: one login per BMC, kept while it has jobs queued and
 *     between jobs, logged out after idle_close_ms or when the global cap
 *     needs the slot (the least recently used idle one), by a closer thread,
 *     so a logout to a BMC that stopped answering delays no job;
 *   - a global cap on open sessions (max_sessions), across all BMCs: a BMC
 *     without a session waits in line for a slot (holding no worker), and
 *     one that ran SESSION_STREAK jobs in a row while others waited gives
 *     its session up;
 *   - bounded time: each exchange has the node's timeout; failures that may
 *     pass (no answer, timeout, session gone) are retried with exponential
 *     backoff, at most `retries` times; a power cycle or reset is not
 *     repeated once it may have reached the BMC;
 *   - a polling budget: a power status or health poll of a BMC polled less
 *     than min_poll_ms ago is answered from the last result (marked
 *     cached) unless the job asks for a fresh one.
 * Thread-safe. Jobs run on the pool's worker threads.
 */
#pragma once

#include "hw.h"

#include <stdbool.h>
#include <stdint.h>

struct bmc_limits {
	unsigned workers;       /* threads running jobs (default 16) */
	unsigned max_sessions;  /* open sessions across all BMCs (default 64) */
	unsigned min_poll_ms;   /* polling budget per BMC (default 10000; 0: none) */
	unsigned retries;       /* retries of a failure that may pass (default 2) */
	unsigned backoff_ms;    /* the first retry's delay, doubled each time (default 500) */
	unsigned idle_close_ms; /* idle sessions are logged out after this (default 60000) */
};

enum bmc_op { BMC_POWER_STATUS, BMC_POWER, BMC_SET_BOOT, BMC_GET_BOOT, BMC_HEALTH };

struct bmc_job {
	/* in: what to do, where */
	struct hw_target target;
	enum bmc_op op;
	enum hw_power_action action; /* BMC_POWER */
	struct hw_boot boot;         /* BMC_SET_BOOT */
	uint64_t sel_marker;         /* BMC_HEALTH */
	bool fresh;                  /* bypass the polling budget */
	/* Optional: asked on the worker right before the job is sent (it may have
	 * waited behind a BMC that did not answer); false: not sent, rc is
	 * -ECANCELED with err.step "skipped" and the reason written in why. */
	bool (*wanted)(struct bmc_job *j, void *userdata, char *why, size_t size);
	/* out, when done() is called */
	int rc; /* 0 or a negative errno, as hw.h */
	struct hw_err err;
	enum hw_power power; /* BMC_POWER_STATUS, BMC_HEALTH */
	struct hw_boot boot_read;
	struct hw_health health;
	bool cached;       /* answered from the polling budget's last result */
	unsigned attempts; /* exchanges tried */
	/* called once on a worker thread; the job is the caller's again */
	void (*done)(struct bmc_job *j, void *userdata);
	void *userdata;
	struct bmc_job *next; /* the pool's */
};

struct bmc_stats {
	unsigned open_sessions;     /* now */
	unsigned max_open_sessions; /* the most ever open at once */
	unsigned max_busy;          /* the most BMCs with a job in flight at once */
	uint64_t logins, jobs, cached, evictions;
};

struct bmc_pool;

/* NULL limits: the defaults. */
int bmc_pool_new(const struct bmc_limits *limits, struct bmc_pool **ret);
/* Ends every job: those running finish, those not started end with -ECANCELED
 * (not sent); logs every session out, joins the workers. NULL is fine. */
void bmc_pool_free(struct bmc_pool *p);

/* Queues j (the caller keeps ownership; it must stay valid until done()). -EINVAL: no driver of that name. */
int bmc_submit(struct bmc_pool *p, struct bmc_job *j);
/* Submits j and waits for it; returns j->rc. */
int bmc_run(struct bmc_pool *p, struct bmc_job *j);

void bmc_pool_stats(struct bmc_pool *p, struct bmc_stats *ret);
const char *bmc_op_name(enum bmc_op op);
