// SPDX-License-Identifier: Apache-2.0
/*
 * The orchestrator (server/orch/orch.c) in a simulated world under a
 * virtual clock (orch_simworld.h): the real store, the real planner, N
 * simulated nodes that are healthy, slow, never healthy on a new version,
 * flapping, behind a failing or silent BMC, failing in the agent, falling
 * back to their old slot, never provisioned, or unhealthy before the
 * rollout. After every orch_step the rollout's rows in the store are
 * checked against every rule and against the world's truth (check_step): each node moves at most one phase, only the
 * current batch is in flight, a batch keeps to its size, to one update
 * domain, to one zone unless cross_zone and to max_per_fault_domain, comes
 * in the planner's order, never starts during a pause, after a cancel, or
 * while too much of the pool (or of the upgraded nodes) is unhealthy;
 * succeeded nodes run the target and rolled-back ones their previous
 * version; a rollout that stops does so for the reason its error code
 * names, and one that rolls forward with nothing in flight is pausing,
 * baking its canaries, or outside its maintenance windows.
 *
 * The canaries, the maintenance windows and the phases across sites are
 * checked the same way, with the rules stated again here (never taken
 * from orch.c): while the canaries run, every batch is one node of a
 * hardware model no member upgraded in this rollout has, and they end
 * (canary_done, bake_until = now + canary_bake) only when every model of
 * the current phase's nodes to do had one; no batch starts before
 * bake_until, nor at a time outside the windows (ref_open, a reference of
 * lib/window.h through gmtime); sites in id order each go in the first
 * phase holding no site paired with them (no zone: no site, the first
 * phase); a batch is of the current phase (the first with nodes to do),
 * never of two phases nor of two paired sites, and none starts after a
 * node of an earlier phase failed: that rollout is Faulted
 * PreviousPhaseFailedInRollingUpgrade. What the rules decide between
 * batches (Completed, Faulted) is decided at once, whatever the window
 * or the bake; only the pause after a batch defers it. The pool's members
 * are the test's truth too: nodes move between pools mid-rollout, one
 * that leaves finishes its step and is not counted any more, one that
 * joins is upgraded in a later batch.
 *
 * The tests: those rules over several policies (test_rules); the thresholds
 * at their boundaries for pools of 1, 5, 6, 10, 11, 99 and 100 nodes;
 * whole rollouts of 1,000 nodes (three sites, two of them paired, three
 * hardware models, canaries with a bake, maintenance windows) and of
 * 10,000 nodes; cancel and manual starts; quarantine; canaries of three
 * models, one of them failing; maintenance windows over several days;
 * paired sites; a failed earlier phase; nodes moving between pools.
 * BW_SIM_SEED=<n> replays a seed (printed first); BW_SIM_LOG=1 shows the
 * orchestrator's log; BW_SIM_ONLY=<pattern> runs the tests it matches.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "model.h"
#include "orch.h"
#include "planner.h"
#include "store.h"
#include "testutil.h"
#include "orch_simworld.h"

static uint64_t base_seed = 20251122;

static const char *const vers[] = { "1.0", "2.0", "3.0", "4.0", "5.0", "6.0", "7.0", "8.0", "9.0" };

/* ---- the checker ---- */

/* What the checker last saw of a node's row. */
struct srow {
	enum orch_phase phase;
	int64_t batch;
	int prev_slot, prev_ver;
};

#define SIM_MAX_SITES 8

/* A maintenance window as a test writes it beside the pool's text, for the reference check: days
 * first..last (0 Monday .. 6 Sunday; first > last wraps), start to end in minutes of the day (end at
 * or before start: it ends the next day). */
struct ref_window {
	int first, last, start, end;
};

struct sim {
	struct store_fx *fx;
	struct store *s;
	struct world w;
	struct orch *o;
	struct orch_config cfg;
	struct bw_pool pool; /* as of the rollout's start */
	int64_t dt;          /* virtual seconds between steps */
	int64_t idle_dt;     /* ... when the rollout has nothing in flight (0: dt) */
	int64_t restart_every; /* steps between restarts of the orchestrator (0: never) */
	int64_t steps;
	/* the rollout under check */
	int64_t rid;
	int target;
	struct bw_rollout r, r_now;
	struct srow *row;
	bool *healthy; /* world truth just before the step */
	bool *quar;    /* the store's quarantine flags */
	size_t *fresh; /* the nodes that started a batch in this step */
	size_t n_fresh, rows, inflight, prev_inflight, ph[PH_N];
	int64_t last_done;     /* when its last batch finished (0: none yet) */
	int64_t batch_seconds; /* the sum of its finished batches' durations */
	bool cancel_asked;
	/* The pool's shape, which the world does not know: its sites (ids ascending), the site each
	 * names as paired_with (store id, 0: none), and each node's site (index, -1: no zone). */
	int n_sites;
	int64_t site_id[SIM_MAX_SITES], site_paired[SIM_MAX_SITES];
	int *site_of;
	/* The pool's maintenance windows, as the test wrote them (none: always open). */
	const struct ref_window *win;
	size_t n_win;
	/* The pool's members now: the test moves nodes, the store must agree (read_member). */
	bool *member;
	bool quar_fresh; /* quar[] was read in this step */
	/* The rollout's rows: every member at its start, then every node in a batch. */
	bool *has_row;
	size_t n_rows, new_rows;
	/* What the new rules leave behind, for the tests to look at. */
	bool was_open;            /* the window at the last step */
	int64_t openings;         /* the windows that opened since the rollout started */
	int64_t closed_inflight;  /* windows that closed on a batch in flight */
	int64_t *batch_at;        /* batch k started at batch_at[k] */
	int64_t *batch_opening;   /* ... in the window opened openings-th */
	int64_t canary_end_at;    /* when canary_done was set (0: not yet) */
};

/* The rules of planner.h, stated again here, so that the checks do not take them from the code they check. */
static size_t rule_batch_size(size_t n, int64_t percent)
{
	size_t size = n * (size_t)percent / 100;

	if (n <= 5)
		return 1; /* one at a time */
	return size > 0 ? size : 1;
}

/* More than percent of total (exactly percent is allowed; nothing counted: nothing exceeded). */
static bool rule_over(size_t unhealthy, size_t total, int64_t percent)
{
	return total > 0 && unhealthy * 100 > (size_t)percent * total;
}

static bool phase_upgraded(enum orch_phase p)
{
	return p == PH_SUCCEEDED || p == PH_FAILED || p == PH_ROLLED_BACK || p == PH_ROLLBACK_FAILED;
}

static bool phase_failed(enum orch_phase p) { return p == PH_FAILED || p == PH_ROLLED_BACK || p == PH_ROLLBACK_FAILED; }

static bool ref_day_in(int d, int first, int last) { return first <= last ? d >= first && d <= last : d >= first || d <= last; }

/* Whether t is inside one of the pool's windows (lib/window.h's rule, restated through gmtime). */
static bool ref_open(const struct sim *m, int64_t t)
{
	if (!m->n_win)
		return true;
	for (size_t k = 0; k < m->n_win; k++) {
		const struct ref_window *w = &m->win[k];
		/* A window that started today, or yesterday and runs past midnight. */
		for (int64_t back = 0; back <= 1; back++) {
			time_t day = (time_t)((t / 86400 - back) * 86400);
			int64_t from = (int64_t)day + w->start * 60;
			int64_t to = (int64_t)day + (w->end > w->start ? w->end : w->end + 1440) * 60;
			struct tm tm;
			assert_non_null(gmtime_r(&day, &tm));
			if (ref_day_in((tm.tm_wday + 6) % 7, w->first, w->last) && t >= from && t < to)
				return true;
		}
	}
	return false;
}

/* Paired: either names the other as paired_with. */
static bool sites_paired(const struct sim *m, int a, int b)
{
	return a >= 0 && b >= 0 && a != b && (m->site_paired[a] == m->site_id[b] || m->site_paired[b] == m->site_id[a]);
}

/* The phase changes one step can make. */
static bool edge_ok(enum orch_phase a, enum orch_phase b)
{
	if (a == b)
		return true;
	switch (a) {
	case PH_PENDING:
		return b == PH_POWERING;
	case PH_POWERING:
		return b == PH_IMAGING || b == PH_BOOTING || b == PH_FAILED || b == PH_ROLLING_BACK;
	case PH_IMAGING:
		return b == PH_BOOTING || b == PH_FAILED || b == PH_ROLLING_BACK;
	case PH_BOOTING:
		return b == PH_WAITING_HEALTH || b == PH_RUNNING_EXTENSIONS || b == PH_SUCCEEDED || b == PH_FAILED ||
		       b == PH_ROLLING_BACK;
	case PH_WAITING_HEALTH:
		return b == PH_RUNNING_EXTENSIONS || b == PH_SUCCEEDED || b == PH_FAILED || b == PH_ROLLING_BACK;
	case PH_RUNNING_EXTENSIONS:
		return b == PH_SUCCEEDED || b == PH_FAILED || b == PH_ROLLING_BACK;
	case PH_ROLLING_BACK:
		return b == PH_ROLLED_BACK || b == PH_ROLLBACK_FAILED;
	default:
		return false;
	}
}

static bool on_version(const struct sim_node *n, int ver) { return n->active >= 0 && n->slot_ver[n->active] == ver; }

static size_t idx_of(struct sim *m, int64_t node)
{
	if (node < m->w.id0 || (size_t)(node - m->w.id0) >= m->w.n)
		fail_msg("rollout %" PRId64 ": a row for node %" PRId64 ", not a member", m->rid, node);
	return (size_t)(node - m->w.id0);
}

struct members {
	struct sim *m;
	size_t n;
};

static int read_member(const struct bw_member *b, void *userdata)
{
	struct members *l = userdata;
	struct sim *m = l->m;
	size_t i = idx_of(m, b->id);
	const struct sim_node *n = &m->w.nodes[i];
	int v = n->active >= 0 ? n->slot_ver[n->active] : -1, s = m->site_of[i];
	char model[16];

	if (!m->member[i])
		fail_msg("node %s is a member of pool %" PRId64 " in the store, not in the test", b->name, m->pool.id);
	l->n++;
	m->quar[i] = b->quarantined;
	/* The store's row is the world's mirror: what a node boots and runs is what bootwaved says it does. */
	if (!str_eq(b->active_slot, slot_name(n->active)) || !str_eq(b->installed_version, v >= 0 ? m->w.ver[v] : "") ||
	    b->zone != n->zone || b->update_domain != n->ud || b->fault_domain != (n->fd >= 0 ? n->fd : -1))
		fail_msg("node %s: the store says slot %s version %s zone %" PRId64 " ud %" PRId64 " fd %" PRId64
			 ", the world slot %s version %s",
			 b->name, b->active_slot, b->installed_version, b->zone, b->update_domain, b->fault_domain,
			 slot_name(n->active), v >= 0 ? m->w.ver[v] : "");
	/* And the pool's shape as the test made it. */
	model[0] = '\0';
	if (n->model >= 0)
		snprintf(model, sizeof(model), "hw%d", n->model);
	if (!str_eq(b->hw_model, model) || b->site != (s >= 0 ? m->site_id[s] : 0) ||
	    b->paired_site != (s >= 0 ? m->site_paired[s] : 0))
		fail_msg("node %s: the store says model '%s' site %" PRId64 " paired with %" PRId64 ", the test '%s' %" PRId64
			 " %" PRId64,
			 b->name, b->hw_model, b->site, b->paired_site, model, s >= 0 ? m->site_id[s] : 0,
			 s >= 0 ? m->site_paired[s] : 0);
	return 0;
}

/* Reads the members' quarantine flags (once a step), checking that the store's members are the test's. */
static size_t read_quarantine(struct sim *m)
{
	struct members l = { .m = m };
	size_t nonq = 0, members = 0;

	if (!m->quar_fresh) {
		assert_int_equal(store_pool_members(m->s, m->pool.id, read_member, &l), 0);
		for (size_t i = 0; i < m->w.n; i++)
			members += m->member[i];
		if (l.n != members)
			fail_msg("pool %" PRId64 ": %zu members in the store, %zu in the test", m->pool.id, l.n, members);
		m->quar_fresh = true;
	}
	for (size_t i = 0; i < m->w.n; i++)
		nonq += m->member[i] && !m->quar[i];
	return nonq;
}

/* A member still to upgrade: pending, not quarantined, and not one that joined already on the target
 * (which has no row, and needs none). */
static bool is_todo(const struct sim *m, size_t i)
{
	return m->member[i] && !m->quar[i] && m->row[i].phase == PH_PENDING &&
	       (m->has_row[i] || !on_version(&m->w.nodes[i], m->target));
}

/* The phases across sites, from the members' sites and the rows (quar[] read). */
struct phases {
	int of_site[SIM_MAX_SITES];
	int cur;            /* the current phase: the first with a node to do (-1: none) */
	bool failed_before; /* a member of an earlier phase than cur failed in this rollout */
};

static int phase_of(const struct sim *m, const struct phases *ph, size_t i)
{
	return m->site_of[i] < 0 ? 0 : ph->of_site[m->site_of[i]];
}

static struct phases phases_of(const struct sim *m)
{
	struct phases ph = { .cur = -1 };
	bool present[SIM_MAX_SITES] = { false };

	for (size_t i = 0; i < m->w.n; i++)
		if (m->member[i] && m->site_of[i] >= 0)
			present[m->site_of[i]] = true;
	/* Sites in id order, each in the first phase that holds no site paired with it. */
	for (int a = 0; a < m->n_sites; a++) {
		int p = 0;
		bool clash = true;
		if (!present[a])
			continue;
		while (clash) {
			clash = false;
			for (int b = 0; b < a; b++)
				if (present[b] && ph.of_site[b] == p && sites_paired(m, a, b))
					clash = true;
			p += clash;
		}
		ph.of_site[a] = p;
	}
	for (size_t i = 0; i < m->w.n; i++)
		if (is_todo(m, i) && (ph.cur < 0 || phase_of(m, &ph, i) < ph.cur))
			ph.cur = phase_of(m, &ph, i);
	for (size_t i = 0; i < m->w.n && ph.cur > 0; i++)
		if (m->member[i] && phase_failed(m->row[i].phase) && phase_of(m, &ph, i) < ph.cur)
			ph.failed_before = true;
	return ph;
}

/* The hardware models of the members upgraded in this rollout but those in batch `but`: the canaries
 * so far, while they run (bit k: "hw<k>"; bit 31: no model). */
static uint32_t canary_models(const struct sim *m, int64_t but)
{
	uint32_t seen = 0;

	for (size_t i = 0; i < m->w.n; i++)
		if (m->member[i] && m->row[i].batch > 0 && m->row[i].batch != but)
			seen |= m->w.nodes[i].model >= 0 ? 1u << m->w.nodes[i].model : 1u << 31;
	return seen;
}

static uint32_t model_bit(const struct sim *m, size_t i)
{
	return m->w.nodes[i].model >= 0 ? 1u << m->w.nodes[i].model : 1u << 31;
}

/*
 * Whether node i counts as unhealthy for the thresholds (docs/architecture.md, "Orchestrator"):
 * what the world says of it just before the step, except that a node whose upgrade failed in
 * this rollout counts as unhealthy (rolled back or not), and a pending node never provisioned
 * (no image installed) does not count against max_unhealthy_percent.
 */
static bool counts_unhealthy(const struct sim *m, size_t i)
{
	enum orch_phase p = m->row[i].phase;

	if (p == PH_FAILED || p == PH_ROLLED_BACK || p == PH_ROLLBACK_FAILED)
		return true;
	if (p == PH_PENDING && m->w.nodes[i].active < 0)
		return false;
	return !m->healthy[i];
}

/* The pool-wide and the upgraded nodes' health, from the world's truth before the step. */
struct truth {
	size_t nonq;
	size_t unhealthy;        /* as the rules count them (counts_unhealthy) */
	size_t truly_unhealthy;  /* as the world says (failed upgrades or not; never provisioned ones left out) */
	size_t upgraded, upgraded_unhealthy, todo, todo_unhealthy;
};

static struct truth truth_of(struct sim *m)
{
	struct truth t = { .nonq = read_quarantine(m) };

	for (size_t i = 0; i < m->w.n; i++) {
		enum orch_phase p = m->row[i].phase;
		bool bad = counts_unhealthy(m, i);
		/* Only the members count: a node that left is not counted, whatever it did. */
		if (!m->member[i] || m->quar[i])
			continue;
		t.unhealthy += bad;
		t.truly_unhealthy += !m->healthy[i] && !(p == PH_PENDING && m->w.nodes[i].active < 0);
		if (phase_upgraded(p)) {
			t.upgraded++;
			t.upgraded_unhealthy += bad;
		}
		if (is_todo(m, i)) {
			t.todo++;
			t.todo_unhealthy += bad;
		}
	}
	return t;
}

/* A node's update domain and (unless cross_zone) zone, as one key of the upgrade order. */
static int64_t key_of(const struct sim *m, size_t i)
{
	return (int64_t)m->w.nodes[i].ud * 1000000 + (m->pool.cross_zone ? 0 : m->w.nodes[i].zone);
}

static bool fd_capped(const struct sim *m, const unsigned *in_fd, size_t i)
{
	int fd = m->w.nodes[i].fd;
	return fd >= 0 && m->pool.max_per_fault_domain > 0 && in_fd[fd] >= (unsigned)m->pool.max_per_fault_domain;
}

/* A batch started in this step: every rule of planner.h and of the canaries, windows and phases, against
 * the world's truth. */
static void check_batch(struct sim *m, const struct bw_rollout *r)
{
	static unsigned in_fd[1024];
	struct truth t;
	struct phases ph;
	size_t size, len = m->n_fresh;
	int64_t key, lead = INT64_MAX, lead_unhealthy = INT64_MAX, last_id = 0;
	bool has_healthy = false, has_unhealthy = false;
	/* The canaries run until the rollout says they are done (m->r: the rollout before the step). */
	bool canary = m->pool.canary && !m->r.canary_done;
	int bphase;

	/* The fresh nodes were pending when the planner saw them: count them so (until the end). */
	for (size_t k = 0; k < len; k++)
		m->row[m->fresh[k]].phase = PH_PENDING;
	t = truth_of(m);
	ph = phases_of(m);
	size = rule_batch_size(t.nonq, m->pool.max_batch_percent);
	if (len == 0 || len > size)
		fail_msg("rollout %" PRId64 ", batch %" PRId64 ": %zu nodes, the size is %zu (%zu nodes not quarantined)",
			 m->rid, r->batches, len, size, t.nonq);
	if (m->cancel_asked)
		fail_msg("rollout %" PRId64 ": batch %" PRId64 " started after a cancel", m->rid, r->batches);
	if (r->batches > 1 && fake_now < m->last_done + m->pool.pause_between_batches)
		fail_msg("rollout %" PRId64 ": batch %" PRId64 " started at %" PRId64 ", %" PRId64
			 " s after the last one finished (pause %" PRId64 ")",
			 m->rid, r->batches, fake_now, fake_now - m->last_done, m->pool.pause_between_batches);
	/* The bake, as the rollout wrote it and as the test counts it from the canaries' end. */
	if (fake_now < m->r.bake_until || (m->canary_end_at && fake_now < m->canary_end_at + m->pool.canary_bake))
		fail_msg("rollout %" PRId64 ": batch %" PRId64 " started at %" PRId64 ", the canaries bake until %" PRId64
			 " (done at %" PRId64 ", bake %" PRId64 " s)",
			 m->rid, r->batches, fake_now, m->r.bake_until, m->canary_end_at, m->pool.canary_bake);
	if (!ref_open(m, fake_now))
		fail_msg("rollout %" PRId64 ": batch %" PRId64 " started at %" PRId64 ", outside the windows '%s'", m->rid,
			 r->batches, fake_now, m->pool.maintenance_windows);
	if (ph.failed_before)
		fail_msg("rollout %" PRId64 ": batch %" PRId64 " started in phase %d after a node of an earlier phase failed",
			 m->rid, r->batches, ph.cur);
	/* The world's truth alone, and as the rules count it (which counts more nodes unhealthy). */
	if (rule_over(t.truly_unhealthy, t.nonq, m->pool.max_unhealthy_percent) ||
	    rule_over(t.unhealthy, t.nonq, m->pool.max_unhealthy_percent))
		fail_msg("rollout %" PRId64 ": batch %" PRId64 " started with %zu (world: %zu) of %zu nodes unhealthy "
			 "(max %" PRId64 "%%)",
			 m->rid, r->batches, t.unhealthy, t.truly_unhealthy, t.nonq, m->pool.max_unhealthy_percent);
	if (r->batches > 1 &&
	    rule_over(t.upgraded_unhealthy, t.upgraded, m->pool.max_unhealthy_upgraded_percent))
		fail_msg("rollout %" PRId64 ": batch %" PRId64 " started with %zu of %zu upgraded nodes unhealthy", m->rid,
			 r->batches, t.upgraded_unhealthy, t.upgraded);

	memset(in_fd, 0, sizeof(in_fd));
	key = key_of(m, m->fresh[0]);
	bphase = phase_of(m, &ph, m->fresh[0]);
	for (size_t k = 0; k < len; k++) {
		size_t i = m->fresh[k];
		const struct sim_node *n = &m->w.nodes[i];
		if (!is_todo(m, i))
			fail_msg("rollout %" PRId64 ": node n%05zu in batch %" PRId64 " is not to do (member %d, quarantined "
				 "%d, row %d, on the target %d)",
				 m->rid, i, r->batches, m->member[i], m->quar[i], m->has_row[i], on_version(n, m->target));
		if (n->ud != m->w.nodes[m->fresh[0]].ud)
			fail_msg("rollout %" PRId64 ": batch %" PRId64 " mixes update domains %d and %d", m->rid, r->batches,
				 n->ud, m->w.nodes[m->fresh[0]].ud);
		if (!m->pool.cross_zone && n->zone != m->w.nodes[m->fresh[0]].zone)
			fail_msg("rollout %" PRId64 ": batch %" PRId64 " mixes zones", m->rid, r->batches);
		if (n->fd >= 0 && ++in_fd[n->fd] > (unsigned)m->pool.max_per_fault_domain && m->pool.max_per_fault_domain > 0)
			fail_msg("rollout %" PRId64 ": batch %" PRId64 " has %u nodes of fault domain %d (max %" PRId64 ")",
				 m->rid, r->batches, in_fd[n->fd], n->fd, m->pool.max_per_fault_domain);
		/* Phases: one, the current one; never two paired sites. */
		if (phase_of(m, &ph, i) != bphase || bphase != ph.cur)
			fail_msg("rollout %" PRId64 ": batch %" PRId64 " takes node n%05zu of phase %d (and phase %d), the "
				 "current phase is %d",
				 m->rid, r->batches, i, phase_of(m, &ph, i), bphase, ph.cur);
		for (size_t l = 0; l < k; l++)
			if (sites_paired(m, m->site_of[i], m->site_of[m->fresh[l]]))
				fail_msg("rollout %" PRId64 ": batch %" PRId64 " takes nodes of paired sites %d and %d", m->rid,
					 r->batches, m->site_of[i], m->site_of[m->fresh[l]]);
		has_healthy |= !counts_unhealthy(m, i);
		has_unhealthy |= counts_unhealthy(m, i);
		if (n->id > last_id)
			last_id = n->id;
	}
	if (m->batch_at) {
		m->batch_at[r->batches] = fake_now;
		m->batch_opening[r->batches] = m->openings;
	}
	if (canary) {
		/* One node, of a model no member upgraded in this rollout has: where in the phase is not a rule. */
		size_t i = m->fresh[0];
		if (len != 1 || (canary_models(m, r->batches) & model_bit(m, i)))
			fail_msg("rollout %" PRId64 ": canary batch %" PRId64 " of %zu nodes, the first of model %d, which "
				 "had its canary: %d",
				 m->rid, r->batches, len, m->w.nodes[i].model,
				 (canary_models(m, r->batches) & model_bit(m, i)) != 0);
		for (size_t k = 0; k < len; k++)
			m->row[m->fresh[k]].phase = PH_POWERING;
		return;
	}
	/* The order: the lowest (update domain, zone) of the current phase still to do; with
	 * prioritize_unhealthy the lowest holding an unhealthy node, if any. */
	for (size_t i = 0; i < m->w.n; i++) {
		int64_t ki = key_of(m, i);
		if (!is_todo(m, i) || phase_of(m, &ph, i) != ph.cur)
			continue;
		if (ki < lead)
			lead = ki;
		if (counts_unhealthy(m, i) && ki < lead_unhealthy)
			lead_unhealthy = ki;
	}
	if (m->pool.prioritize_unhealthy && lead_unhealthy != INT64_MAX)
		lead = lead_unhealthy;
	if (key != lead)
		fail_msg("rollout %" PRId64 ": batch %" PRId64 " is in domain %" PRId64 ", the next one is %" PRId64, m->rid,
			 r->batches, key, lead);
	if (m->pool.prioritize_unhealthy && lead_unhealthy != INT64_MAX && !has_unhealthy)
		fail_msg("rollout %" PRId64 ": batch %" PRId64 " has no unhealthy node, prioritize_unhealthy is on", m->rid,
			 r->batches);
	/* Filled as far as the rules allow, in pool order (unhealthy ones first when prioritized). */
	for (size_t i = 0; i < m->w.n; i++) {
		if (!is_todo(m, i) || phase_of(m, &ph, i) != ph.cur || m->row[i].batch == r->batches ||
		    key_of(m, i) != key)
			continue;
		if (len < size && !fd_capped(m, in_fd, i))
			fail_msg("rollout %" PRId64 ": batch %" PRId64 " of %zu (size %zu) left out node n%05zu of its domain",
				 m->rid, r->batches, len, size, i);
		if (!m->pool.prioritize_unhealthy && m->w.nodes[i].id < last_id && !fd_capped(m, in_fd, i))
			fail_msg("rollout %" PRId64 ": batch %" PRId64 " skipped node n%05zu (pool order)", m->rid,
				 r->batches, i);
		if (m->pool.prioritize_unhealthy && has_healthy && counts_unhealthy(m, i) && !fd_capped(m, in_fd, i))
			fail_msg("rollout %" PRId64 ": batch %" PRId64 " took a healthy node before unhealthy n%05zu", m->rid,
				 r->batches, i);
	}
	for (size_t k = 0; k < len; k++)
		m->row[m->fresh[k]].phase = PH_POWERING;
}

static int scan_row(const struct bw_rollout_node *x, void *userdata)
{
	struct sim *m = userdata;
	size_t i = idx_of(m, x->node);
	const struct sim_node *n = &m->w.nodes[i];
	struct srow *sr = &m->row[i];
	enum orch_phase p = orch_phase_parse(x->phase);

	if (p == PH_N)
		fail_msg("node %s: phase '%s'", x->name, x->phase);
	if (!edge_ok(sr->phase, p))
		fail_msg("rollout %" PRId64 ", node %s: %s -> %s in one step", m->rid, x->name, orch_phase_name(sr->phase),
			 orch_phase_name(p));
	/* A row is written for every member when the rollout starts, then only for a node whose batch starts. */
	if (!m->has_row[i]) {
		if (!(sr->phase == PH_PENDING && p == PH_POWERING))
			fail_msg("rollout %" PRId64 ": a row for node %s appeared %s", m->rid, x->name, x->phase);
		m->new_rows++;
	}
	m->rows++;
	m->ph[p]++;
	if (sr->phase == PH_PENDING && p == PH_POWERING) {
		/* Its batch starts: what it ran is written down before it is touched. */
		if (x->batch != m->r_now.batches)
			fail_msg("node %s started in batch %" PRId64 ", the rollout is at %" PRId64, x->name, x->batch,
				 m->r_now.batches);
		int pv = n->active >= 0 ? n->slot_ver[n->active] : -1;
		if (slot_of(x->prev_slot) != n->active || x->prev_image != (pv >= 0 ? m->w.image : 0) ||
		    world_ver(&m->w, x->prev_version) != pv)
			fail_msg("node %s: previous slot %s version %s recorded, it runs slot %s", x->name, x->prev_slot,
				 x->prev_version, slot_name(n->active));
		sr->batch = x->batch;
		sr->prev_slot = slot_of(x->prev_slot);
		sr->prev_ver = world_ver(&m->w, x->prev_version);
		m->fresh[m->n_fresh++] = i;
	} else if (x->batch != sr->batch)
		fail_msg("node %s: batch %" PRId64 " became %" PRId64, x->name, sr->batch, x->batch);
	if ((p == PH_PENDING || p == PH_SKIPPED) && x->batch != 0)
		fail_msg("node %s: %s in batch %" PRId64, x->name, x->phase, x->batch);
	if (orch_phase_inflight(p)) {
		m->inflight++;
		if (x->batch != m->r_now.batches)
			fail_msg("node %s of batch %" PRId64 " in flight (%s) in batch %" PRId64, x->name, x->batch, x->phase,
				 m->r_now.batches);
	}
	switch (p) {
	case PH_SUCCEEDED:
		if (!on_version(n, m->target) || !n->os_on || n->run_ver != m->target)
			fail_msg("node %s succeeded but runs %s", x->name, n->run_ver >= 0 ? m->w.ver[n->run_ver] : "nothing");
		break;
	case PH_ROLLED_BACK:
		if (n->rolled_back_in != m->rid || n->active != sr->prev_slot || !n->os_on || n->run_slot != sr->prev_slot ||
		    n->run_ver != sr->prev_ver)
			fail_msg("node %s rolled back but runs slot %s version %s", x->name, slot_name(n->run_slot),
				 n->run_ver >= 0 ? m->w.ver[n->run_ver] : "nothing");
		/* fall through */
	case PH_ROLLING_BACK:
	case PH_ROLLBACK_FAILED:
		if (!m->pool.auto_rollback || sr->prev_slot < 0)
			fail_msg("node %s: %s without auto_rollback and a previous slot", x->name, x->phase);
		break;
	case PH_FAILED:
		if (m->pool.auto_rollback && sr->prev_slot >= 0)
			fail_msg("node %s failed and was not rolled back (auto_rollback)", x->name);
		break;
	case PH_SKIPPED:
		if (!on_version(n, m->target))
			fail_msg("node %s skipped, not on the target", x->name);
		break;
	default:
		break;
	}
	sr->phase = p;
	return 0;
}

/* After every step: the rollout's rows and row against the rules and the world. */
static void check_step(struct sim *m)
{
	struct bw_rollout r;
	size_t old_inflight;
	bool done_now, open = ref_open(m, fake_now);

	assert_int_equal(store_rollout_get(m->s, m->rid, &r), 0);
	if (!str_eq(m->r.status, "RollingForward")) {
		/* Finished: nothing moves any more. */
		assert_string_equal(r.status, m->r.status);
		assert_int_equal(r.batches, m->r.batches);
		return;
	}
	m->r_now = r;
	m->quar_fresh = false;
	m->rows = m->inflight = m->n_fresh = m->new_rows = 0;
	memset(m->ph, 0, sizeof(m->ph));
	assert_int_equal(store_rollout_nodes(m->s, m->rid, scan_row, m), 0);
	if (m->rows != m->n_rows + m->new_rows)
		fail_msg("rollout %" PRId64 ": %zu rows, %zu expected (%zu new)", m->rid, m->rows, m->n_rows + m->new_rows,
			 m->new_rows);
	/* The windows the clock went through (before check_batch notes the one a batch starts in). */
	if (open && !m->was_open)
		m->openings++;
	if (!open && m->was_open && m->prev_inflight)
		m->closed_inflight++;
	m->was_open = open;
	/* The batch in flight before the step finished in it: its duration is on the record (and the
	 * pause before the next one counts from now, so this comes before check_batch). */
	old_inflight = m->inflight - m->n_fresh;
	done_now = m->prev_inflight && !old_inflight;
	if (done_now) {
		m->batch_seconds += fake_now - m->r.batch_started_at;
		m->last_done = fake_now;
		/* (A batch that started in the same step may have reset batch_done_at: the pause between
		 * batches is checked in check_batch against last_done.) */
		if ((!m->n_fresh && r.batch_done_at != fake_now) || r.batch_seconds != m->batch_seconds)
			fail_msg("rollout %" PRId64 ": batch %" PRId64 " done at %" PRId64 " (record: %" PRId64
				 "), batches took %" PRId64 " s (record: %" PRId64 ")",
				 m->rid, m->r.batches, fake_now, r.batch_done_at, m->batch_seconds, r.batch_seconds);
	}
	if (r.batches != m->r.batches) {
		if (r.batches != m->r.batches + 1)
			fail_msg("rollout %" PRId64 ": from batch %" PRId64 " to %" PRId64 " in one step", m->rid, m->r.batches,
				 r.batches);
		check_batch(m, &r);
	} else if (m->n_fresh)
		fail_msg("rollout %" PRId64 ": %zu nodes started outside a new batch", m->rid, m->n_fresh);
	for (size_t k = 0; k < m->n_fresh; k++)
		if (!m->has_row[m->fresh[k]]) {
			m->has_row[m->fresh[k]] = true;
			m->n_rows++;
		}

	/* The canaries end once, between batches, when every model of the current phase's nodes to do had
	 * its canary; the bake runs from then. */
	if (r.canary_done != m->r.canary_done || r.bake_until != m->r.bake_until) {
		struct phases ph;
		uint32_t seen = canary_models(m, 0);

		if (!r.canary_done || m->r.canary_done || !m->pool.canary || m->inflight ||
		    r.bake_until != fake_now + m->pool.canary_bake)
			fail_msg("rollout %" PRId64 " at %" PRId64 ": canary_done %d -> %d, bake_until %" PRId64 " -> %" PRId64
				 " (canary %d, bake %" PRId64 " s, %zu in flight)",
				 m->rid, fake_now, m->r.canary_done, r.canary_done, m->r.bake_until, r.bake_until,
				 m->pool.canary, m->pool.canary_bake, m->inflight);
		read_quarantine(m);
		ph = phases_of(m);
		for (size_t i = 0; i < m->w.n; i++)
			if (is_todo(m, i) && phase_of(m, &ph, i) == ph.cur && !(seen & model_bit(m, i)))
				fail_msg("rollout %" PRId64 ": the canaries ended after batch %" PRId64 ", but model %d of "
					 "n%05zu (phase %d) had none",
					 m->rid, r.batches, m->w.nodes[i].model, i, ph.cur);
		m->canary_end_at = fake_now;
	}

	if (!str_eq(r.status, "RollingForward")) {
		struct truth t = truth_of(m);
		struct phases ph = phases_of(m);
		if (m->inflight || m->n_fresh)
			fail_msg("rollout %" PRId64 ": %s with %zu nodes in flight", m->rid, r.status, m->inflight);
		if (r.completed_at != fake_now)
			fail_msg("rollout %" PRId64 ": completed_at %" PRId64 ", now %" PRId64, m->rid, r.completed_at, fake_now);
		if (str_eq(r.status, "Completed")) {
			if (r.error_code[0] || t.todo ||
			    rule_over(t.upgraded_unhealthy, t.upgraded, m->pool.max_unhealthy_upgraded_percent))
				fail_msg("rollout %" PRId64 ": Completed '%s' with %zu to do, %zu of %zu upgraded unhealthy",
					 m->rid, r.error_code, t.todo, t.upgraded_unhealthy, t.upgraded);
		} else if (str_eq(r.status, "Cancelled")) {
			if (!m->cancel_asked || r.error_code[0])
				fail_msg("rollout %" PRId64 ": Cancelled '%s' unasked", m->rid, r.error_code);
		} else if (str_eq(r.status, "Faulted")) {
			bool pool_over = rule_over(t.unhealthy, t.nonq, m->pool.max_unhealthy_percent);
			bool up_over = rule_over(t.upgraded_unhealthy, t.upgraded,
						 m->pool.max_unhealthy_upgraded_percent);
			bool ok;
			if (str_eq(r.error_code, "MaxUnhealthyInstancePercentExceededBeforeRollingUpgrade"))
				ok = r.batches == 0 && pool_over && t.todo;
			else if (str_eq(r.error_code, "MaxUnhealthyInstancePercentExceededInRollingUpgrade"))
				ok = r.batches > 0 && pool_over && !up_over && t.todo;
			else if (str_eq(r.error_code, "MaxUnhealthyUpgradedInstancePercentExceededInRollingUpgrade"))
				ok = r.batches > 0 && up_over;
			else if (str_eq(r.error_code, "PreviousPhaseFailedInRollingUpgrade"))
				ok = r.batches > 0 && ph.failed_before;
			else
				ok = false;
			if (!ok)
				fail_msg("rollout %" PRId64 ": Faulted %s after batch %" PRId64 " with %zu of %zu unhealthy, "
					 "%zu of %zu upgraded unhealthy, %zu to do, phase %d, an earlier one failed: %d",
					 m->rid, r.error_code, r.batches, t.unhealthy, t.nonq, t.upgraded_unhealthy, t.upgraded,
					 t.todo, ph.cur, ph.failed_before);
		} else
			fail_msg("rollout %" PRId64 ": status '%s'", m->rid, r.status);
	} else if (!m->inflight) {
		/* Rolling forward with nothing in flight: only a pause between batches, the canaries' bake, a
		 * closed window, or the step that ended the canaries. */
		bool pause = r.batches > 0 && fake_now < m->last_done + m->pool.pause_between_batches;
		bool bake = r.canary_done && fake_now < r.bake_until;
		bool canary_end = r.canary_done && !m->r.canary_done;

		/* And what the rules decide between batches is decided at once, in a closed window or a bake
		 * too: only the pause after a batch (not the step it ended in) defers it. */
		if (!(pause && !done_now)) {
			struct truth t = truth_of(m);
			struct phases ph = phases_of(m);
			const char *due = NULL;
			if (!t.todo)
				due = "nothing is left to do";
			else if (r.batches > 0 &&
				 rule_over(t.upgraded_unhealthy, t.upgraded, m->pool.max_unhealthy_upgraded_percent))
				due = "too many upgraded nodes are unhealthy";
			else if (rule_over(t.unhealthy, t.nonq, m->pool.max_unhealthy_percent))
				due = "too many nodes are unhealthy";
			else if (ph.failed_before)
				due = "a node of an earlier phase failed";
			if (due)
				fail_msg("rollout %" PRId64 ": still rolling forward after batch %" PRId64 " at %" PRId64
					 " (%s): %s (%zu to do, %zu of %zu unhealthy, %zu of %zu upgraded unhealthy, phase %d)",
					 m->rid, r.batches, fake_now, done_now ? "it just finished" : "no pause", due, t.todo,
					 t.unhealthy, t.nonq, t.upgraded_unhealthy, t.upgraded, ph.cur);
		}
		if (m->cancel_asked || !(pause || bake || !open || canary_end))
			fail_msg("rollout %" PRId64 ": stalled after batch %" PRId64 " at %" PRId64 " (done at %" PRId64
				 ", pause %" PRId64 ", bake until %" PRId64 ", window open %d, cancel asked %d)",
				 m->rid, r.batches, fake_now, m->last_done, m->pool.pause_between_batches, r.bake_until, open,
				 m->cancel_asked);
	}
	m->r = r;
	m->prev_inflight = m->inflight;
}

/* ---- driving ---- */

static void sim_restart(struct sim *m)
{
	struct orch_env env = world_env(&m->w);

	orch_free(m->o);
	m->o = NULL;
	assert_int_equal(orch_new(m->s, &env, &m->cfg, &m->o), 0);
}

static bool running(const struct sim *m) { return str_eq(m->r.status, "RollingForward"); }

/* One step: the world up to now, its truth, orch_step, the checks, then the clock moves on. */
static void sim_step(struct sim *m)
{
	int left;

	world_sync(&m->w, fake_now);
	for (size_t i = 0; i < m->w.n; i++)
		m->healthy[i] = world_healthy(&m->w, i, m->pool.heartbeat_timeout, fake_now);
	left = orch_step(m->o);
	if (left < 0)
		fail_msg("orch_step: %s", strerror(-left));
	if (m->rid)
		check_step(m);
	m->steps++;
	if (m->restart_every && m->steps % m->restart_every == 0)
		sim_restart(m); /* as after a crash: the store is the only truth */
	/* Long closed windows and bakes go by in longer steps: nothing moves but the clock. */
	fake_now += m->idle_dt && m->rid && running(m) && !m->inflight ? m->idle_dt : m->dt;
}

static void sim_run(struct sim *m)
{
	int64_t limit = m->steps + 100000;

	while (running(m)) {
		sim_step(m);
		if (m->steps > limit)
			fail_msg("rollout %" PRId64 " still rolling forward after %" PRId64 " steps", m->rid, m->steps);
	}
}

static int start_row(const struct bw_rollout_node *x, void *userdata)
{
	struct sim *m = userdata;
	size_t i = idx_of(m, x->node);
	const struct sim_node *n = &m->w.nodes[i];
	enum orch_phase p = orch_phase_parse(x->phase);
	char why[64];

	if (!m->member[i])
		fail_msg("rollout %" PRId64 ": a row for node %s, not a member", m->rid, x->name);
	m->rows++;
	if (p < PH_N)
		m->ph[p]++;
	snprintf(why, sizeof(why), "already on %s", m->w.ver[m->target]);
	if (on_version(n, m->target) ? p != PH_SKIPPED || !str_eq(x->reason, why) : p != PH_PENDING)
		fail_msg("node %s starts %s ('%s') on %s, the target is %s", x->name, x->phase, x->reason,
			 n->active >= 0 ? m->w.ver[n->slot_ver[n->active]] : "nothing", m->w.ver[m->target]);
	if (x->batch)
		fail_msg("node %s starts in batch %" PRId64, x->name, x->batch);
	m->row[i] = (struct srow){ .phase = p, .prev_slot = -1, .prev_ver = -1 };
	m->has_row[i] = true;
	m->n_rows++;
	return 0;
}

/* Starts a rollout to vers[target] and checks its first rows: every member, skipped iff on the target. */
static void sim_start(struct sim *m, int target, const char *by, const char *by_name)
{
	struct orch_err err = { 0 };
	struct bw_rollout r;
	int rc;

	world_sync(&m->w, fake_now);
	rc = orch_start(m->o, m->pool.id, vers[target], by, by_name, &r, &err);
	if (rc < 0)
		fail_msg("orch_start: %d %s: %s", err.status, err.code, err.message);
	assert_int_equal(store_get(m->s, &model_pool, m->pool.id, &m->pool), 0);
	m->rid = r.id;
	m->target = target;
	assert_int_equal(store_rollout_get(m->s, r.id, &m->r), 0);
	assert_string_equal(m->r.status, "RollingForward");
	assert_string_equal(m->r.version, vers[target]);
	assert_string_equal(m->r.started_by, by);
	assert_string_equal(m->r.started_by_name, by_name ? by_name : "");
	assert_int_equal(m->r.batches, 0);
	assert_false(m->r.canary_done);
	assert_int_equal(m->r.bake_until, 0);
	m->rows = 0;
	m->n_rows = 0;
	memset(m->ph, 0, sizeof(m->ph));
	for (size_t i = 0; i < m->w.n; i++) {
		m->row[i] = (struct srow){ .phase = PH_PENDING, .prev_slot = -1, .prev_ver = -1 };
		m->has_row[i] = false;
	}
	assert_int_equal(store_rollout_nodes(m->s, r.id, start_row, m), 0);
	m->quar_fresh = false;
	read_quarantine(m); /* the members are the test's */
	for (size_t i = 0; i < m->w.n; i++)
		if (m->member[i] != m->has_row[i])
			fail_msg("rollout %" PRId64 ": node n%05zu, member %d, has a row %d", m->rid, i, m->member[i],
				 m->has_row[i]);
	m->last_done = 0;
	m->batch_seconds = 0;
	m->prev_inflight = 0;
	m->cancel_asked = false;
	m->was_open = ref_open(m, fake_now);
	m->openings = m->closed_inflight = 0;
	m->canary_end_at = 0;
}

static void sim_cancel(struct sim *m)
{
	struct orch_err err = { 0 };
	struct bw_rollout r;

	assert_int_equal(orch_cancel(m->o, m->pool.id, &r, &err), 0);
	assert_int_equal(r.id, m->rid);
	assert_true(r.cancel_requested);
	m->cancel_asked = true;
}

struct tally {
	size_t ph[PH_N];
	size_t reimaged, rolled_back, batched;
};

/* A rollout that finished: every node accounted for, the store, the counts and the world agree. */
static struct tally sim_end(struct sim *m)
{
	struct tally t;
	struct orch_counts c;
	json_t *j, *prog;

	memset(&t, 0, sizeof(t));
	assert_false(running(m));
	m->quar_fresh = false;
	read_quarantine(m); /* also: every node's row mirrors the world */
	assert_int_equal(orch_counts(m->o, m->rid, &c), 0);
	for (size_t i = 0; i < m->w.n; i++) {
		const struct sim_node *n = &m->w.nodes[i];
		enum orch_phase p = m->row[i].phase;

		if (m->has_row[i])
			t.ph[p]++;
		else if (p != PH_PENDING || m->row[i].batch)
			fail_msg("node n%05zu: %s in batch %" PRId64 " without a row", i, orch_phase_name(p), m->row[i].batch);
		t.batched += m->row[i].batch > 0;
		t.reimaged += n->reimaged_in == m->rid;
		t.rolled_back += n->rolled_back_in == m->rid;
		if (orch_phase_inflight(p))
			fail_msg("node n%05zu still %s", i, orch_phase_name(p));
		if ((n->reimaged_in == m->rid) != (m->row[i].batch > 0))
			fail_msg("node n%05zu: batch %" PRId64 ", reimaged in this rollout: %d", i, m->row[i].batch,
				 n->reimaged_in == m->rid);
		if ((n->rolled_back_in == m->rid) != (p == PH_ROLLED_BACK || p == PH_ROLLBACK_FAILED))
			fail_msg("node n%05zu: %s, rolled back in this rollout: %d", i, orch_phase_name(p),
				 n->rolled_back_in == m->rid);
		if (is_todo(m, i) && str_eq(m->r.status, "Completed"))
			fail_msg("node n%05zu still pending in a Completed rollout", i);
		if (p == PH_SUCCEEDED || p == PH_SKIPPED) {
			if (!on_version(n, m->target) || n->run_ver != m->target)
				fail_msg("node n%05zu %s, not on the target", i, orch_phase_name(p));
		}
		if (p == PH_ROLLED_BACK && (!on_version(n, m->row[i].prev_ver) || n->run_ver != m->row[i].prev_ver))
			fail_msg("node n%05zu rolled back, not on its previous version", i);
	}
	for (int p = 0; p < PH_N; p++)
		if ((size_t)c.phase[p] != t.ph[p])
			fail_msg("orch_counts: %" PRId64 " %s, the rows say %zu", c.phase[p], orch_phase_name((enum orch_phase)p),
				 t.ph[p]);
	assert_int_equal(t.rolled_back, t.ph[PH_ROLLED_BACK] + t.ph[PH_ROLLBACK_FAILED]);
	assert_int_equal(c.rolled_back + c.rollback_failed, t.rolled_back);
	assert_int_equal(t.reimaged, t.batched);
	assert_int_equal(c.successful + c.failed + c.pending + c.skipped + c.in_progress, m->n_rows);
	/* What the API shows. */
	j = orch_rollout_json(m->o, &m->r, false);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "status")), m->r.status);
	assert_string_equal(json_string_value(json_object_get(j, "error_code")), m->r.error_code);
	prog = json_object_get(j, "progress");
	assert_int_equal(json_integer_value(json_object_get(prog, "successful")), c.successful);
	assert_int_equal(json_integer_value(json_object_get(prog, "failed")), c.failed);
	assert_int_equal(json_integer_value(json_object_get(prog, "pending")), c.pending);
	assert_int_equal(json_integer_value(json_object_get(prog, "skipped")), c.skipped);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "rollback"), "rolled_back")),
			 c.rolled_back);
	json_decref(j);
	return t;
}

/* ---- worlds ---- */

/* How the nodes of a world are made: domains and behaviours (permille). */
struct mix {
	int zones, uds, fds; /* fds: fault domains per zone (0: none) */
	bool uds_in_turn;    /* update domain i % uds, not drawn */
	int64_t zone_id[8];
	unsigned slow, never, flap, bmc, silent, agent, fallback; /* one of these per node, at most */
	unsigned pre;        /* unhealthy on its version before the rollout */
	unsigned on_target;  /* already on the target */
	unsigned fresh;      /* never provisioned: empty disk */
	unsigned breaks;     /* its version turns unhealthy during the rollout */
	int base, target;
	/* Sites (0: one) and which site each zone is in (index); the site each names as paired_with
	 * (1 + index; 0: none); nodes in no zone (permille). */
	int sites, zone_site[8], paired[SIM_MAX_SITES];
	unsigned nozone;
	/* Hardware models (0: none, ""): drawn, or i % models. */
	int models;
	bool models_in_turn;
};

static void mix_spec(struct world *w, size_t i, struct world_node_spec *sp, void *userdata)
{
	const struct mix *x = userdata;
	int z = (int)sim_range(w, 0, x->zones - 1);
	unsigned roll = (unsigned)sim_range(w, 0, 999), acc = 0;
	static const unsigned flags[] = { SB_SLOW, SB_NEVER, SB_FLAP, SB_BMC_ERR, SB_SILENT, SB_AGENT_FAIL, SB_FALLBACK };
	const unsigned rates[] = { x->slow, x->never, x->flap, x->bmc, x->silent, x->agent, x->fallback };

	sp->zone = x->zone_id[z];
	sp->ud = x->uds_in_turn ? (int)(i % (size_t)x->uds) : (int)sim_range(w, 0, x->uds - 1);
	sp->fd = x->fds ? z * x->fds + (int)sim_range(w, 0, x->fds - 1) : -1;
	/* (Drawn only when asked for, so that the worlds of the other tests stay what their seeds made.) */
	if (x->nozone && sim_chance(w, x->nozone))
		sp->zone = 0;
	if (x->models)
		sp->model = x->models_in_turn ? (int)(i % (size_t)x->models) : (int)sim_range(w, 0, x->models - 1);
	for (size_t k = 0; k < ARRAY_SIZE(flags); k++) {
		acc += rates[k];
		if (roll < acc) {
			sp->flags = flags[k];
			break;
		}
	}
	sp->ver = sim_chance(w, x->on_target) ? x->target : sim_chance(w, x->fresh) ? -1 : x->base;
	sp->bad_ver = sim_chance(w, x->pre) ? sp->ver : -1;
}

/*
 * The one world of the running test, in static storage: a check that fails longjmps out of the
 * test, and the teardown (sim_teardown) still finds it to free it and remove its store.
 */
static struct sim the_sim;
static bool sim_live;

static void sim_close(struct sim *m);

static struct sim *sim_open(const char *name, struct bw_pool *pool, size_t n, uint64_t seed, struct mix *x,
			    const struct orch_config *cfg)
{
	struct sim *m = &the_sim;
	struct orch_env env;

	if (sim_live)
		sim_close(m);
	memset(m, 0, sizeof(*m));
	sim_live = true;
	assert_int_equal(store_fx_setup((void **)&m->fx, name), 0);
	m->s = m->fx->s;
	m->dt = 20;
	if (cfg)
		m->cfg = *cfg;
	m->row = calloc(n ? n : 1, sizeof(*m->row));
	m->healthy = calloc(n ? n : 1, sizeof(*m->healthy));
	m->quar = calloc(n ? n : 1, sizeof(*m->quar));
	m->fresh = calloc(n ? n : 1, sizeof(*m->fresh));
	m->site_of = calloc(n ? n : 1, sizeof(*m->site_of));
	m->member = calloc(n ? n : 1, sizeof(*m->member));
	m->has_row = calloc(n ? n : 1, sizeof(*m->has_row));
	m->batch_at = calloc(n + 2, sizeof(*m->batch_at));
	m->batch_opening = calloc(n + 2, sizeof(*m->batch_opening));
	assert_true(m->row && m->healthy && m->quar && m->fresh && m->site_of && m->member && m->has_row &&
		    m->batch_at && m->batch_opening);
	/* Sites (in id order), their pairs, and their zones. */
	if (x) {
		struct store_err err = { .field = "" };
		bool mask[MODEL_MAX_FIELDS] = { false };

		assert_true(x->models >= 0 && x->models <= 31); /* canary_models: one bit each */
		m->n_sites = x->sites ? x->sites : 1;
		assert_true(m->n_sites <= SIM_MAX_SITES && model_site.n_fields <= ARRAY_SIZE(mask));
		for (int k = 0; k < m->n_sites; k++) {
			struct bw_site site;
			model_init(&model_site, &site);
			snprintf(site.name, sizeof(site.name), "dc%d", k + 1);
			assert_int_equal(store_insert(m->s, &model_site, &site, &err), 0);
			assert_true(k == 0 || site.id > m->site_id[k - 1]);
			m->site_id[k] = site.id;
		}
		/* paired_with may name a later site: set once they all exist. */
		mask[model_field(&model_site, "paired_with") - model_site.fields] = true;
		for (int k = 0; k < m->n_sites; k++) {
			struct bw_site site;
			if (!x->paired[k])
				continue;
			assert_true(x->paired[k] >= 1 && x->paired[k] <= m->n_sites && x->paired[k] != k + 1);
			memset(&site, 0, sizeof(site));
			site.id = m->site_id[k];
			site.paired_with = m->site_paired[k] = m->site_id[x->paired[k] - 1];
			assert_int_equal(store_update(m->s, &model_site, &site, mask, &err), 0);
		}
		assert_true(x->zones >= 1 && x->zones <= 8);
		for (int z = 0; z < x->zones; z++) {
			struct bw_zone zone;
			assert_true(x->zone_site[z] >= 0 && x->zone_site[z] < m->n_sites);
			model_init(&model_zone, &zone);
			snprintf(zone.name, sizeof(zone.name), "z%d", z);
			zone.site = m->site_id[x->zone_site[z]];
			assert_int_equal(store_insert(m->s, &model_zone, &zone, &err), 0);
			x->zone_id[z] = zone.id;
		}
	}
	world_init(&m->w, m->s, vers, (int)ARRAY_SIZE(vers), pool, n, seed, mix_spec, x);
	m->pool = *pool;
	for (size_t i = 0; i < n; i++) {
		m->member[i] = true;
		m->site_of[i] = -1;
		for (int z = 0; x && z < x->zones; z++)
			if (m->w.nodes[i].zone == x->zone_id[z])
				m->site_of[i] = x->zone_site[z];
	}
	env = world_env(&m->w);
	assert_int_equal(orch_new(m->s, &env, &m->cfg, &m->o), 0);
	return m;
}

static void sim_close(struct sim *m)
{
	if (!sim_live)
		return;
	sim_live = false;
	orch_free(m->o);
	world_free(&m->w);
	free(m->row);
	free(m->healthy);
	free(m->quar);
	free(m->fresh);
	free(m->site_of);
	free(m->member);
	free(m->has_row);
	free(m->batch_at);
	free(m->batch_opening);
	if (m->fx)
		store_fx_teardown((void **)&m->fx);
	memset(m, 0, sizeof(*m));
}

static int sim_teardown(void **state)
{
	(void)state;
	sim_close(&the_sim);
	return 0;
}

/* A pool with the defaults of model.c, then the tests' policy. */
static struct bw_pool pool_of(unsigned batch, unsigned unhealthy, unsigned upgraded)
{
	struct bw_pool p;

	model_init(&model_pool, &p);
	p.max_batch_percent = batch;
	p.max_unhealthy_percent = unhealthy;
	p.max_unhealthy_upgraded_percent = upgraded;
	p.health_timeout = 420;
	p.heartbeat_timeout = 60;
	return p;
}

/* One zone, one update domain, every node healthy on vers[0]. */
static struct mix plain(void) { return (struct mix){ .zones = 1, .uds = 1, .target = 1 }; }

static const struct orch_config sim_cfg = { .reimage_timeout = 1200, .quarantine_after = 3 };

/* ---- 1. the rules, over several policies ---- */

struct rules_case {
	size_t n;
	int zones, uds, fds;
	unsigned batch, unhealthy, upgraded;
	int cap, pause;
	bool prioritize, cross_zone, rollback;
	int restart_every;
	unsigned bad; /* permille of each bad behaviour */
};

static const struct rules_case rules_cases[] = {
	{ 400, 3, 4, 5, 10, 20, 20, 0, 0, false, false, true, 0, 15 },
	{ 400, 3, 4, 5, 10, 20, 20, 4, 60, true, false, true, 0, 15 },
	{ 300, 3, 3, 4, 15, 10, 10, 3, 0, false, true, true, 37, 20 },
	{ 250, 2, 3, 4, 20, 25, 25, 0, 30, true, true, false, 0, 25 },
	{ 60, 2, 2, 3, 25, 15, 30, 2, 0, false, false, true, 11, 30 },
	{ 120, 4, 2, 2, 50, 40, 40, 5, 90, true, false, true, 0, 40 },
	/* tight thresholds: these may well stop */
	{ 200, 2, 2, 3, 10, 9, 20, 0, 0, false, false, true, 0, 40 },
	{ 150, 2, 3, 3, 20, 10, 3, 2, 30, true, true, true, 0, 40 },
	{ 100, 1, 4, 4, 10, 8, 30, 0, 0, false, false, false, 0, 40 },
};

static void test_rules(void **state)
{
	(void)state;
	for (size_t k = 0; k < ARRAY_SIZE(rules_cases); k++) {
		const struct rules_case *c = &rules_cases[k];
		struct mix x = { .zones = c->zones, .uds = c->uds, .fds = c->fds,
				 .slow = 100, .never = c->bad, .flap = c->bad, .bmc = c->bad, .silent = c->bad / 2,
				 .agent = c->bad / 2, .fallback = c->bad / 2, .pre = c->bad, .breaks = c->bad / 2,
				 .on_target = 30, .fresh = 10, .base = 0, .target = 1 };
		struct bw_pool p = pool_of(c->batch, c->unhealthy, c->upgraded);
		struct sim *m;
		struct tally t;

		p.max_per_fault_domain = c->cap ? c->cap : INT_NULL;
		p.pause_between_batches = c->pause;
		p.prioritize_unhealthy = c->prioritize;
		p.cross_zone = c->cross_zone;
		p.auto_rollback = c->rollback;
		m = sim_open("orchsim", &p, c->n, base_seed + k, &x, &sim_cfg);
		m->restart_every = c->restart_every;
		/* Some nodes' version breaks while the rollout runs. */
		for (size_t i = 0; i < m->w.n; i++)
			if (sim_chance(&m->w, x.breaks))
				m->w.nodes[i].break_at = fake_now + sim_range(&m->w, 0, 20000);
		sim_start(m, 1, "platform", NULL);
		sim_run(m);
		t = sim_end(m);
		printf("  rules %zu: %zu nodes: %s%s%s after %" PRId64 " batches: %zu succeeded, %zu rolled back, "
		       "%zu failed, %zu rollback-failed, %zu skipped, %zu pending\n",
		       k, c->n, m->r.status, m->r.error_code[0] ? " " : "", m->r.error_code, m->r.batches, t.ph[PH_SUCCEEDED],
		       t.ph[PH_ROLLED_BACK], t.ph[PH_FAILED], t.ph[PH_ROLLBACK_FAILED], t.ph[PH_SKIPPED], t.ph[PH_PENDING]);
		sim_close(m);
	}
}

/* ---- 2. the thresholds at their boundaries ---- */

static const size_t sizes[] = { 1, 5, 6, 10, 11, 99, 100 };
static const unsigned percents[] = { 20, 35 };

/* Before the first batch: floor(N * p%) unhealthy nodes go, one more stops the rollout. */
static void test_threshold_before(void **state)
{
	(void)state;
	for (size_t a = 0; a < ARRAY_SIZE(sizes); a++)
		for (size_t b = 0; b < ARRAY_SIZE(percents); b++)
			for (int extra = 0; extra <= 1; extra++) {
				size_t n = sizes[a], u = n * percents[b] / 100 + (size_t)extra, bad = 0;
				struct bw_pool p = pool_of(20, percents[b], 100);
				struct mix x = plain();
				struct sim *m;

				if (u > n)
					continue;
				m = sim_open("orchsim", &p, n, base_seed, &x, &sim_cfg);
				for (size_t i = 0; i < u; i++)
					m->w.nodes[i].bad_ver = 0;
				sim_start(m, 1, "platform", NULL);
				sim_step(m);
				for (size_t i = 0; i < n; i++)
					bad += !m->healthy[i];
				assert_int_equal(bad, u);
				if (extra) {
					assert_string_equal(m->r.status, "Faulted");
					assert_string_equal(m->r.error_code,
							    "MaxUnhealthyInstancePercentExceededBeforeRollingUpgrade");
					assert_int_equal(m->r.batches, 0);
					assert_int_equal(m->ph[PH_PENDING], n);
				} else {
					assert_string_equal(m->r.status, "RollingForward");
					assert_int_equal(m->r.batches, 1);
					sim_run(m);
					assert_string_equal(m->r.status, "Completed");
				}
				sim_end(m);
				sim_close(m);
			}
}

/* After a batch: floor(B * p%) of its B nodes unhealthy go on, one more stops the rollout. */
static void test_threshold_upgraded(void **state)
{
	(void)state;
	for (size_t a = 0; a < ARRAY_SIZE(sizes); a++)
		for (size_t b = 0; b < ARRAY_SIZE(percents); b++)
			for (int extra = 0; extra <= 1; extra++) {
				size_t n = sizes[a], size = rule_batch_size(n, 50);
				size_t u = size * percents[b] / 100 + (size_t)extra;
				struct bw_pool p = pool_of(50, 100, percents[b]);
				struct mix x = plain();
				struct sim *m;

				p.auto_rollback = false;
				m = sim_open("orchsim", &p, n, base_seed, &x, &sim_cfg);
				for (size_t i = 0; i < u; i++)
					m->w.nodes[i].flags |= SB_NEVER;
				sim_start(m, 1, "platform", NULL);
				sim_step(m);
				assert_int_equal(m->r.batches, 1);
				assert_int_equal(m->n_fresh, size);
				for (size_t i = 0; i < size; i++)
					assert_int_equal(m->row[i].batch, 1); /* the never-healthy ones are in it */
				while (running(m) && m->r.batches == 1)
					sim_step(m);
				assert_int_equal(m->ph[PH_FAILED], u);
				if (extra) {
					assert_string_equal(m->r.status, "Faulted");
					assert_string_equal(m->r.error_code,
							    "MaxUnhealthyUpgradedInstancePercentExceededInRollingUpgrade");
					assert_int_equal(m->r.batches, 1);
				} else {
					if (size < n)
						assert_int_equal(m->r.batches, 2);
					sim_run(m);
					assert_string_equal(m->r.status, "Completed");
				}
				sim_end(m);
				sim_close(m);
			}
}

/* Between batches: too many nodes of the pool turn unhealthy, the rollout stops at the next boundary. */
static void test_threshold_in(void **state)
{
	(void)state;
	for (int extra = 0; extra <= 1; extra++) {
		struct bw_pool p = pool_of(20, 20, 100);
		struct mix x = plain();
		struct sim *m;

		m = sim_open("orchsim", &p, 10, base_seed, &x, &sim_cfg);
		sim_start(m, 1, "platform", NULL);
		sim_step(m);
		assert_int_equal(m->r.batches, 1);
		/* 2 of 10 (20%, allowed) or 3 of 10 not in the batch break now. */
		for (size_t i = 8 - (size_t)extra; i < 10; i++)
			m->w.nodes[i].break_at = fake_now;
		while (running(m) && m->r.batches == 1)
			sim_step(m);
		if (extra) {
			assert_string_equal(m->r.status, "Faulted");
			assert_string_equal(m->r.error_code, "MaxUnhealthyInstancePercentExceededInRollingUpgrade");
			assert_int_equal(m->r.batches, 1);
		} else {
			assert_int_equal(m->r.batches, 2);
			sim_run(m);
			assert_string_equal(m->r.status, "Completed");
		}
		sim_end(m);
		sim_close(m);
	}
}

/* ---- 3. whole rollouts ---- */

static double wall(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void whole_print(struct sim *m, size_t n, const char *what, const struct tally *t, int64_t v0, double t0)
{
	printf("  whole %zu%s: %s%s%s, %" PRId64 " batches, %.1f h virtual, %zu succeeded, %zu rolled back, "
	       "%zu rollback-failed, %zu failed, %zu skipped, %zu pending; world: %" PRIu64 " reimages, %" PRIu64
	       " rollbacks, %" PRIu64 " BMC errors; %" PRId64 " steps, %.1f s wall\n",
	       n, what, m->r.status, m->r.error_code[0] ? " " : "", m->r.error_code, m->r.batches,
	       (double)(m->r.completed_at - v0) / 3600, t->ph[PH_SUCCEEDED], t->ph[PH_ROLLED_BACK],
	       t->ph[PH_ROLLBACK_FAILED], t->ph[PH_FAILED], t->ph[PH_SKIPPED], t->ph[PH_PENDING], m->w.reimage_calls,
	       m->w.rollback_calls, m->w.bmc_errors, m->steps, wall() - t0);
}

/* Open 19 hours a weekday and 12 on the weekend, in three windows, one of them every day of the weekend. */
static const struct ref_window whole_win[] = { { 0, 4, 0, 600 }, { 0, 4, 840, 1380 }, { 5, 6, 360, 1080 } };
static const char whole_win_spec[] = "Mon-Fri 00:00-10:00, Mon-Fri 14:00-23:00, Sat-Sun 06:00-18:00";

/*
 * A whole rollout over every behaviour. With features: three sites, the second paired with the
 * first (phases {dc1, dc3, no zone}, {dc2}), three hardware models, canaries with a bake, and
 * maintenance windows. A node of the first phase that fails stops the rollout before the second
 * (PreviousPhaseFailedInRollingUpgrade); the operator then mends the nodes that failed and starts
 * again, which goes through the mended ones, then the second phase with all its behaviours.
 */
static void whole(size_t n, int fds, int cap, int64_t dt, int restart_every, bool features)
{
	struct mix x = { .zones = 4, .uds = 5, .fds = fds, .slow = 100, .never = 10, .flap = 10, .bmc = 10,
			 .silent = 5, .agent = 5, .fallback = 3, .pre = 5, .on_target = 30, .fresh = 3, .base = 0, .target = 1 };
	struct bw_pool p = pool_of(10, 20, 20);
	struct sim *m;
	struct tally t;
	double t0 = wall();
	int64_t v0;

	p.max_per_fault_domain = cap;
	p.pause_between_batches = 120;
	p.auto_rollback = true;
	if (features) {
		x.sites = 3;
		x.zone_site[1] = 1;
		x.zone_site[2] = x.zone_site[3] = 2;
		x.paired[1] = 1;
		x.nozone = 20;
		x.models = 3;
		p.canary = true;
		p.canary_bake = 1800;
		snprintf(p.maintenance_windows, sizeof(p.maintenance_windows), "%s", whole_win_spec);
	}
	m = sim_open("orchsim", &p, n, base_seed + n, &x, &sim_cfg);
	m->dt = dt;
	m->restart_every = restart_every;
	if (features) {
		m->win = whole_win;
		m->n_win = ARRAY_SIZE(whole_win);
		m->idle_dt = 120;
	}
	v0 = fake_now;
	sim_start(m, 1, "platform", NULL);
	sim_run(m);
	t = sim_end(m);
	whole_print(m, n, "", &t, v0, t0);
	/* Stopped by a failed earlier phase, or by a failed canary: the operator mends the nodes that
	 * failed and starts again (at most twice more). */
	for (int round = 0; features && round < 2; round++) {
		struct phases ph = phases_of(m);
		size_t canaries = 0, in_later = 0, mended = 0;
		bool phase_stop = str_eq(m->r.error_code, "PreviousPhaseFailedInRollingUpgrade");
		bool canary_stop = str_eq(m->r.error_code, "MaxUnhealthyUpgradedInstancePercentExceededInRollingUpgrade") &&
				   !m->r.canary_done;

		assert_true(ph.of_site[0] == 0 && ph.of_site[1] == 1 && ph.of_site[2] == 0);
		for (int64_t k = 1; k <= m->r.batches && (!m->canary_end_at || m->batch_at[k] < m->canary_end_at); k++)
			canaries++;
		/* Three models: three canaries in the first rollout (fewer models may be left to do after). */
		if (canaries > 3 || (round == 0 && m->canary_end_at && canaries != 3))
			fail_msg("%zu canary batches, the canaries ended at %" PRId64, canaries, m->canary_end_at);
		for (size_t i = 0; i < m->w.n; i++)
			in_later += phase_of(m, &ph, i) > 0 && m->row[i].batch > 0;
		if (phase_stop || canary_stop)
			assert_int_equal(in_later, 0);
		else
			break;
		for (size_t i = 0; i < m->w.n; i++)
			if (phase_failed(m->row[i].phase)) {
				struct sim_node *nd = &m->w.nodes[i];
				nd->flags = 0;
				nd->bad_ver = -1;
				nd->break_at = SIM_NEVER;
				mended++;
			}
		assert_true(mended > 0);
		v0 = fake_now;
		sim_start(m, 1, "user", "ops");
		sim_run(m);
		t = sim_end(m);
		whole_print(m, n, " (mended, again)", &t, v0, t0);
	}
	if (!str_eq(m->r.status, "Completed") && !(str_eq(m->r.status, "Faulted") && m->r.error_code[0]))
		fail_msg("rollout ended %s '%s'", m->r.status, m->r.error_code);
	sim_close(m);
}

static void test_whole_1000(void **state)
{
	(void)state;
	whole(1000, 8, 6, 20, 97, true);
}

static void test_whole_10000(void **state)
{
	(void)state;
	whole(10000, 8, 65, 30, 0, false);
}

/* ---- 4. cancel and manual starts ---- */

/* A pool without nodes (found by fuzz_http): the rollout has nothing to do and completes. */
static void test_empty_pool(void **state)
{
	struct bw_pool p = pool_of(25, 20, 20);
	struct mix x = { .zones = 1, .uds = 1, .base = 0, .target = 1 };
	struct sim *m;
	(void)state;

	m = sim_open("orchsim", &p, 0, base_seed, &x, &sim_cfg);
	sim_start(m, 1, "user", NULL);
	sim_run(m);
	sim_end(m);
	assert_string_equal(m->r.status, "Completed");
}

static void test_cancel(void **state)
{
	struct bw_pool p = pool_of(25, 20, 20);
	struct mix x = { .zones = 1, .uds = 2, .uds_in_turn = true, .slow = 200, .base = 0, .target = 1 };
	struct orch_err err = { 0 };
	struct bw_rollout r;
	struct sim *m;
	struct tally t;
	bool mask[MODEL_MAX_FIELDS] = { false };
	(void)state;

	m = sim_open("orchsim", &p, 20, base_seed, &x, &sim_cfg);
	/* Nothing to cancel yet. */
	assert_int_equal(orch_cancel(m->o, m->pool.id, &r, &err), -ENOENT);
	assert_int_equal(err.status, 409);
	assert_string_equal(err.code, "nothing_running");

	sim_start(m, 1, "platform", NULL);
	for (int k = 0; k < 5; k++)
		sim_step(m);
	assert_int_equal(m->r.batches, 1);
	assert_int_equal(m->inflight, 5);
	/* One at a time. */
	memset(&err, 0, sizeof(err));
	assert_int_equal(orch_start(m->o, m->pool.id, vers[2], "user", "bob", &r, &err), -EEXIST);
	assert_int_equal(err.status, 409);
	assert_string_equal(err.code, "rollout_running");

	/* Cancel mid-batch: the batch finishes, no new one starts. */
	sim_cancel(m);
	assert_int_equal(store_rollout_get(m->s, m->rid, &r), 0);
	assert_true(r.cancel_requested);
	assert_string_equal(r.status, "RollingForward");
	sim_run(m);
	assert_string_equal(m->r.status, "Cancelled");
	assert_int_equal(m->r.batches, 1);
	t = sim_end(m);
	assert_int_equal(t.ph[PH_SUCCEEDED], 5);
	assert_int_equal(t.ph[PH_PENDING], 15);
	memset(&err, 0, sizeof(err));
	assert_int_equal(orch_cancel(m->o, m->pool.id, &r, &err), -ENOENT);
	assert_int_equal(err.status, 409);
	assert_string_equal(err.code, "nothing_running");

	/* A manual start to the same version skips the nodes already on it. */
	sim_start(m, 1, "user", "alice");
	assert_int_equal(m->ph[PH_SKIPPED], 5);
	assert_int_equal(m->ph[PH_PENDING], 15);
	sim_run(m);
	assert_string_equal(m->r.status, "Completed");
	t = sim_end(m);
	assert_int_equal(t.ph[PH_SKIPPED], 5);
	assert_int_equal(t.ph[PH_SUCCEEDED], 15);

	/* Cancel during the pause between batches: no new batch, Cancelled at once. */
	m->pool.pause_between_batches = 3600;
	mask[model_field(&model_pool, "pause_between_batches") - model_pool.fields] = true;
	assert_int_equal(store_update(m->s, &model_pool, &m->pool, mask, NULL), 0);
	sim_start(m, 2, "platform", NULL);
	while (m->r.batches < 1 || m->inflight)
		sim_step(m);
	assert_string_equal(m->r.status, "RollingForward");
	sim_step(m); /* pausing */
	assert_int_equal(m->r.batches, 1);
	sim_cancel(m);
	sim_step(m);
	assert_string_equal(m->r.status, "Cancelled");
	assert_int_equal(m->r.batches, 1);
	t = sim_end(m);
	assert_int_equal(t.ph[PH_SUCCEEDED], 5);
	sim_close(m);
}

/* ---- 5. quarantine ---- */

struct failures {
	int64_t node, failures;
	bool quarantined;
};

static int find_member(const struct bw_member *b, void *userdata)
{
	struct failures *f = userdata;
	if (b->id == f->node) {
		f->failures = b->reimage_failures;
		f->quarantined = b->quarantined;
	}
	return 0;
}

static struct failures failures_of(struct sim *m, size_t i)
{
	struct failures f = { .node = m->w.nodes[i].id, .failures = -1 };
	assert_int_equal(store_pool_members(m->s, m->pool.id, find_member, &f), 0);
	return f;
}

static void test_quarantine(void **state)
{
	struct bw_pool p = pool_of(20, 25, 100);
	struct mix x = plain();
	struct sim *m;
	struct tally t;
	const size_t bad = 2, other = 4;
	struct failures f;
	int target = 0;
	/* Whether node `bad` fails its reimage in each rollout: a success between breaks the row. */
	static const bool fails[] = { true, true, false, true, true, true };
	(void)state;

	assert_int_equal(sim_cfg.quarantine_after, 3);
	m = sim_open("orchsim", &p, 5, base_seed, &x, &sim_cfg);
	for (size_t k = 0; k < ARRAY_SIZE(fails); k++) {
		int64_t want = 0;
		if (fails[k])
			m->w.nodes[bad].flags |= SB_AGENT_FAIL;
		else
			m->w.nodes[bad].flags &= ~(unsigned)SB_AGENT_FAIL;
		sim_start(m, ++target, "platform", NULL);
		sim_run(m);
		assert_string_equal(m->r.status, "Completed");
		t = sim_end(m);
		assert_int_equal(m->row[bad].phase, fails[k] ? PH_ROLLED_BACK : PH_SUCCEEDED);
		for (size_t j = 0; j <= k; j++)
			want = fails[j] ? want + 1 : 0;
		f = failures_of(m, bad);
		if (f.failures != want || f.quarantined != (want >= 3))
			fail_msg("rollout %zu: %" PRId64 " failures in a row (want %" PRId64 "), quarantined %d", k + 1,
				 f.failures, want, f.quarantined);
		assert_int_equal(t.ph[PH_SUCCEEDED] + t.ph[PH_ROLLED_BACK], 5);
	}
	assert_true(m->quar[bad]);

	/* Now it dies, and another node is unhealthy: 2 of 5 (40%) would stop the rollout, but the
	 * quarantined one does not count: 1 of 4 is 25%, allowed. */
	world_set_down(&m->w, bad, fake_now);
	m->w.nodes[other].bad_ver = target;
	fake_now += 2 * m->pool.heartbeat_timeout;
	assert_true(rule_over(2, 5, 25) && !rule_over(1, 4, 25));
	sim_start(m, ++target, "platform", NULL);
	sim_step(m);
	assert_false(m->healthy[bad]);
	assert_false(m->healthy[other]);
	assert_string_equal(m->r.status, "RollingForward");
	assert_int_equal(m->r.batches, 1);
	sim_run(m);
	assert_string_equal(m->r.status, "Completed");
	t = sim_end(m);
	assert_int_equal(m->row[bad].phase, PH_PENDING);
	assert_int_equal(m->row[bad].batch, 0);
	assert_true(m->w.nodes[bad].reimaged_in != m->rid);
	assert_int_equal(t.ph[PH_SUCCEEDED], 4);
	assert_int_equal(t.ph[PH_PENDING], 1);
	sim_close(m);
}

/* ---- 6. canaries ---- */

/* The number of nodes in batch k of the rollout, and (ret_node) one of them. */
static size_t batch_nodes(const struct sim *m, int64_t k, size_t *ret_node)
{
	size_t len = 0;

	for (size_t i = 0; i < m->w.n; i++)
		if (m->row[i].batch == k) {
			len++;
			if (ret_node)
				*ret_node = i;
		}
	return len;
}

static void test_canary(void **state)
{
	struct mix x = { .zones = 2, .uds = 2, .models = 3, .models_in_turn = true, .base = 0, .target = 1 };
	struct bw_pool p = pool_of(20, 20, 20);
	struct sim *m;
	struct tally t;
	uint32_t seen = 0;
	size_t i = 0;
	(void)state;

	p.canary = true;
	p.canary_bake = 1800;
	p.pause_between_batches = 60;
	p.auto_rollback = true;

	/* Every model healthy: three canaries, one node of each model, one at a time; the bake; the waves. */
	m = sim_open("orchsim", &p, 30, base_seed, &x, &sim_cfg);
	sim_start(m, 1, "platform", NULL);
	sim_run(m);
	t = sim_end(m);
	assert_string_equal(m->r.status, "Completed");
	assert_int_equal(t.ph[PH_SUCCEEDED], 30);
	assert_true(m->r.canary_done);
	assert_true(m->canary_end_at > 0);
	assert_int_equal(m->r.bake_until, m->canary_end_at + 1800);
	for (int64_t k = 1; k <= 3; k++) {
		assert_int_equal(batch_nodes(m, k, &i), 1);
		assert_true(m->batch_at[k] < m->canary_end_at);
		seen |= model_bit(m, i);
	}
	assert_int_equal(seen, 7);
	/* The first wave starts once the bake is over (the checks saw no stall before it), and is wide. */
	assert_true(m->r.batches > 4);
	if (m->batch_at[4] < m->canary_end_at + 1800 || m->batch_at[4] >= m->canary_end_at + 1800 + m->dt)
		fail_msg("the first wave started at %" PRId64 ", the bake ended at %" PRId64, m->batch_at[4],
			 m->canary_end_at + 1800);
	assert_true(batch_nodes(m, 4, NULL) > 1);
	printf("  canaries: batches 1-3 of one node each, baked until +%" PRId64 " s, then %" PRId64 " waves\n",
	       m->r.bake_until - m->batch_at[3], m->r.batches - 3);
	sim_close(m);

	/* Model hw1 is broken on the new version: its canary fails, the rollout stops right there
	 * (upgraded unhealthy), and no other node of any model was touched. */
	m = sim_open("orchsim", &p, 30, base_seed, &x, &sim_cfg);
	for (size_t j = 0; j < m->w.n; j++)
		if (m->w.nodes[j].model == 1)
			m->w.nodes[j].flags |= SB_NEVER;
	sim_start(m, 1, "platform", NULL);
	sim_run(m);
	t = sim_end(m);
	assert_string_equal(m->r.status, "Faulted");
	assert_string_equal(m->r.error_code, "MaxUnhealthyUpgradedInstancePercentExceededInRollingUpgrade");
	assert_false(m->r.canary_done);
	assert_true(m->r.batches >= 1 && m->r.batches <= 3);
	for (int64_t k = 1; k <= m->r.batches; k++) {
		assert_int_equal(batch_nodes(m, k, &i), 1);
		if (k < m->r.batches) {
			assert_int_not_equal(m->w.nodes[i].model, 1);
			assert_int_equal(m->row[i].phase, PH_SUCCEEDED);
		} else {
			assert_int_equal(m->w.nodes[i].model, 1);
			assert_int_equal(m->row[i].phase, PH_ROLLED_BACK);
		}
	}
	for (size_t j = 0; j < m->w.n; j++)
		if (m->row[j].batch == 0 && (m->row[j].phase != PH_PENDING || m->w.nodes[j].reimaged_in == m->rid))
			fail_msg("node n%05zu (model %d) touched: %s", j, m->w.nodes[j].model, orch_phase_name(m->row[j].phase));
	assert_int_equal(t.batched, (size_t)m->r.batches);
	assert_int_equal(t.ph[PH_PENDING], 30 - (size_t)m->r.batches);
	sim_close(m);
}

/* ---- 7. maintenance windows ---- */

static void test_windows(void **state)
{
	/* Friday 2023-11-17 00:00 UTC. */
	const int64_t fri = 1700179200;
	static const struct ref_window win[] = { { 0, 4, 120, 300 }, { 5, 5, 1320, 120 } };
	static const struct {
		int64_t at;
		bool open;
	} cal[] = {
		{ 1700179200 - 86400 + 3 * 3600, true }, /* Thu 03:00 */
		{ 1700179200 + 2 * 3600 - 1, false },     /* Fri 01:59:59 */
		{ 1700179200 + 2 * 3600, true },          /* Fri 02:00 */
		{ 1700179200 + 5 * 3600 - 1, true },
		{ 1700179200 + 5 * 3600, false },                  /* Fri 05:00 */
		{ 1700179200 + 86400 + 3 * 3600, false },          /* Sat 03:00 */
		{ 1700179200 + 86400 + 22 * 3600 - 1, false },     /* Sat 21:59:59 */
		{ 1700179200 + 86400 + 22 * 3600, true },          /* Sat 22:00 */
		{ 1700179200 + 2 * 86400 + 3600, true },           /* Sun 01:00 */
		{ 1700179200 + 2 * 86400 + 2 * 3600, false },      /* Sun 02:00 */
		{ 1700179200 + 2 * 86400 + 22 * 3600, false },     /* Sun 22:00 */
		{ 1700179200 + 3 * 86400 + 2 * 3600 + 60, true },  /* Mon 02:01 */
	};
	struct mix x = { .zones = 1, .uds = 1, .slow = 300, .base = 0, .target = 1 };
	struct bw_pool p = pool_of(1, 20, 20);
	struct sim *m;
	int64_t periods = 0, last = -1;
	(void)state;

	p.pause_between_batches = 0; /* back to back: a window closes on a batch in flight */
	snprintf(p.maintenance_windows, sizeof(p.maintenance_windows), "Mon-Fri 02:00-05:00, Sat 22:00-02:00");
	m = sim_open("orchsim", &p, 80, base_seed, &x, &sim_cfg);
	m->win = win;
	m->n_win = ARRAY_SIZE(win);
	m->idle_dt = 300;
	/* The reference itself, against the calendar. */
	for (size_t k = 0; k < ARRAY_SIZE(cal); k++)
		if (ref_open(m, cal[k].at) != cal[k].open)
			fail_msg("ref_open(%" PRId64 ") is %d", cal[k].at, !cal[k].open);
	fake_now = fri - 3600; /* Thursday 23:00: closed */
	sim_start(m, 1, "platform", NULL);
	sim_run(m);
	sim_end(m);
	assert_string_equal(m->r.status, "Completed");
	/* Not before Friday's window, and at its first step. */
	if (m->batch_at[1] < fri + 2 * 3600 || m->batch_at[1] >= fri + 2 * 3600 + m->idle_dt)
		fail_msg("the first batch started at %" PRId64 ", Friday's window opens at %" PRId64, m->batch_at[1],
			 fri + 2 * 3600);
	for (int64_t k = 1; k <= m->r.batches; k++)
		if (m->batch_opening[k] != last) {
			periods++;
			last = m->batch_opening[k];
		}
	printf("  windows: %" PRId64 " batches in %" PRId64 " windows, %" PRId64 " closed on a batch in flight; "
	       "%.1f h virtual\n",
	       m->r.batches, periods, m->closed_inflight, (double)(m->r.completed_at - fri) / 3600);
	/* Several windows, closed ones between (Sat 22:00-02:00 across midnight among them), and batches
	 * that finished after their window closed. */
	assert_true(periods >= 3);
	assert_true(m->closed_inflight >= 2);
	sim_close(m);
}

/* ---- 8. phases across sites ---- */

static void test_sites(void **state)
{
	/* dc1; dc2 paired with dc1; dc3, which names dc4 as paired; dc4; nodes in no zone:
	 * phases {dc1, dc3, no zone}, {dc2, dc4}. */
	struct mix x = { .zones = 4, .uds = 2, .sites = 4, .zone_site = { 0, 1, 2, 3 }, .paired = { 0, 1, 4, 0 },
			 .nozone = 100, .base = 0, .target = 1 };
	struct bw_pool p = pool_of(20, 20, 20);
	struct sim *m;
	struct phases ph;
	struct tally t;
	int64_t last0 = 0, first1 = INT64_MAX;
	size_t nozone = 0;
	(void)state;

	p.cross_zone = true; /* the planner alone would mix the sites: only the phases keep them apart */
	m = sim_open("orchsim", &p, 80, base_seed, &x, &sim_cfg);
	m->restart_every = 13;
	sim_start(m, 1, "platform", NULL);
	ph = phases_of(m);
	assert_int_equal(ph.of_site[0], 0);
	assert_int_equal(ph.of_site[1], 1);
	assert_int_equal(ph.of_site[2], 0);
	assert_int_equal(ph.of_site[3], 1);
	for (size_t i = 0; i < m->w.n; i++)
		nozone += m->site_of[i] < 0;
	assert_true(nozone > 0);
	sim_run(m);
	t = sim_end(m);
	assert_string_equal(m->r.status, "Completed");
	assert_int_equal(t.ph[PH_SUCCEEDED], 80);
	for (size_t i = 0; i < m->w.n; i++) {
		if (phase_of(m, &ph, i) == 0 && m->row[i].batch > last0)
			last0 = m->row[i].batch;
		if (phase_of(m, &ph, i) == 1 && m->row[i].batch < first1)
			first1 = m->row[i].batch;
	}
	if (last0 >= first1)
		fail_msg("the first phase's last batch is %" PRId64 ", the second's first %" PRId64, last0, first1);
	printf("  sites: phases {dc1, dc3, %zu nodes in no zone} in batches 1-%" PRId64 ", {dc2, dc4} in %" PRId64
	       "-%" PRId64 "\n",
	       nozone, last0, first1, m->r.batches);
	sim_close(m);
}

static void set_windows(struct sim *m, const char *spec, const struct ref_window *win, size_t n)
{
	bool mask[MODEL_MAX_FIELDS] = { false };

	assert_true(model_pool.n_fields <= ARRAY_SIZE(mask));
	snprintf(m->pool.maintenance_windows, sizeof(m->pool.maintenance_windows), "%s", spec);
	mask[model_field(&model_pool, "maintenance_windows") - model_pool.fields] = true;
	assert_int_equal(store_update(m->s, &model_pool, &m->pool, mask, NULL), 0);
	m->win = win;
	m->n_win = n;
}

/* A node of the first phase fails: the second phase never starts. */
static void test_phase_failed(void **state)
{
	static const struct ref_window sunday[] = { { 6, 6, 0, 60 } };
	struct mix x = { .zones = 3, .uds = 1, .sites = 3, .zone_site = { 0, 1, 2 }, .paired = { 0, 1, 0 },
			 .base = 0, .target = 1 };
	struct bw_pool p = pool_of(20, 50, 50);
	(void)state;

	p.cross_zone = true;
	p.auto_rollback = true;
	/* 1: with a long pause between batches; 2: without, and the window closes while the first phase's
	 * last batch runs. Either way the rollout stops as the first phase's last batch ends. */
	for (int run = 1; run <= 2; run++) {
		struct sim *m;
		struct tally t;
		size_t bad = SIZE_MAX;

		p.pause_between_batches = run == 1 ? 1800 : 0;
		m = sim_open("orchsim", &p, 45, base_seed, &x, &sim_cfg);
		for (size_t i = 0; i < m->w.n && bad == SIZE_MAX; i++)
			if (m->site_of[i] == 0)
				bad = i;
		assert_true(bad != SIZE_MAX);
		m->w.nodes[bad].flags |= SB_NEVER;
		sim_start(m, 1, "platform", NULL);
		if (run == 2) {
			/* Until the first phase has nothing left to start. */
			for (;;) {
				struct phases ph;
				sim_step(m);
				assert_true(running(m));
				read_quarantine(m);
				ph = phases_of(m);
				if (m->inflight && ph.cur != 0)
					break;
			}
			set_windows(m, "Sun 00:00-01:00", sunday, ARRAY_SIZE(sunday));
			assert_false(ref_open(m, fake_now));
		}
		sim_run(m);
		t = sim_end(m);
		assert_string_equal(m->r.status, "Faulted");
		assert_string_equal(m->r.error_code, "PreviousPhaseFailedInRollingUpgrade");
		/* At once: as the batch ended, not after the pause, nor in the next window. */
		assert_int_equal(m->r.completed_at, m->last_done);
		assert_int_equal(m->row[bad].phase, PH_ROLLED_BACK);
		for (size_t i = 0; i < m->w.n; i++) {
			bool later = m->site_of[i] == 1;
			if (later ? m->row[i].phase != PH_PENDING || m->w.nodes[i].reimaged_in == m->rid
				  : m->row[i].phase == PH_PENDING)
				fail_msg("run %d: node n%05zu of dc%d: %s", run, i, m->site_of[i] + 1,
					 orch_phase_name(m->row[i].phase));
		}
		assert_true(t.ph[PH_PENDING] > 0);
		sim_close(m);
	}
}

/* ---- 9. nodes moving between pools ---- */

static int64_t other_pool(struct sim *m)
{
	struct bw_pool p = pool_of(20, 20, 20);
	struct store_err err = { .field = "" };

	p.image = m->w.image;
	snprintf(p.name, sizeof(p.name), "other");
	assert_int_equal(store_insert(m->s, &model_pool, &p, &err), 0);
	return p.id;
}

/* Moves node i to pool, in the world and in the test's truth. */
static void sim_move(struct sim *m, size_t i, int64_t pool)
{
	world_move(&m->w, i, pool);
	m->member[i] = pool == m->pool.id;
}

/*
 * A canary that leaves the pool while in flight finishes its step (it rolls back) and is not counted
 * any more: not against max_unhealthy_upgraded_percent (0 here: one counted failure stops the
 * rollout), nor as its model's canary. Nodes of the first phase that join while the second runs are
 * taken next; a pending node that leaves is never taken.
 */
static void test_move(void **state)
{
	struct mix x = { .zones = 2, .uds = 1, .sites = 2, .zone_site = { 0, 1 }, .paired = { 0, 1 }, .models = 2,
			 .models_in_turn = true, .base = 0, .target = 1 };
	struct bw_pool p = pool_of(25, 30, 0);
	const size_t n = 48;
	size_t join[3], n_join = 0, leaver = SIZE_MAX, c1, canaries = 0;
	int64_t other, b0;
	struct sim *m;
	struct tally t;
	(void)state;

	p.canary = true;
	p.canary_bake = 300;
	p.cross_zone = true;
	p.auto_rollback = true;
	m = sim_open("orchsim", &p, n, base_seed, &x, &sim_cfg);
	m->restart_every = 7;
	other = other_pool(m);
	/* The last three nodes of dc1 start in the other pool. */
	for (size_t i = n; i-- > 0 && n_join < 3;)
		if (m->site_of[i] == 0)
			join[n_join++] = i;
	assert_int_equal(n_join, 3);
	for (size_t k = 0; k < n_join; k++)
		sim_move(m, join[k], other);
	sim_start(m, 1, "platform", NULL);

	/* The first canary, in flight, is broken on the new version, and leaves. */
	while (running(m) && m->r.batches == 0)
		sim_step(m);
	assert_int_equal(m->n_fresh, 1);
	c1 = m->fresh[0];
	m->w.nodes[c1].flags |= SB_NEVER;
	sim_move(m, c1, other);
	while (running(m) && orch_phase_inflight(m->row[c1].phase))
		sim_step(m);
	assert_true(running(m));
	assert_int_equal(m->row[c1].phase, PH_ROLLED_BACK);
	assert_int_equal(m->w.nodes[c1].rolled_back_in, m->rid);

	/* Its model has a canary again, among the members. */
	while (running(m) && !m->canary_end_at)
		sim_step(m);
	assert_true(running(m));
	assert_true(canary_models(m, 0) & model_bit(m, c1));
	for (int64_t k = 1; k <= m->r.batches; k++)
		canaries += m->batch_at[k] < m->canary_end_at;
	assert_int_equal(canaries, 3);

	/* The second phase (dc2) runs: dc1's three join, a pending node of dc2 leaves. */
	while (running(m) && !(m->n_fresh && m->site_of[m->fresh[0]] == 1))
		sim_step(m);
	assert_true(running(m));
	b0 = m->r.batches;
	for (size_t k = 0; k < n_join; k++)
		sim_move(m, join[k], m->pool.id);
	for (size_t i = 0; i < n && leaver == SIZE_MAX; i++)
		if (m->member[i] && m->site_of[i] == 1 && m->row[i].phase == PH_PENDING)
			leaver = i;
	assert_true(leaver != SIZE_MAX);
	sim_move(m, leaver, other);
	sim_run(m);
	t = sim_end(m);
	assert_string_equal(m->r.status, "Completed");
	for (size_t k = 0; k < n_join; k++) {
		assert_true(m->has_row[join[k]]);
		assert_int_equal(m->row[join[k]].phase, PH_SUCCEEDED);
		assert_int_equal(m->row[join[k]].batch, b0 + 1); /* the first phase again, at once */
	}
	assert_int_equal(m->row[leaver].phase, PH_PENDING);
	assert_int_equal(m->row[leaver].batch, 0);
	assert_true(m->w.nodes[leaver].reimaged_in != m->rid);
	assert_false(m->member[c1]);
	assert_int_equal(t.ph[PH_ROLLED_BACK], 1);
	printf("  move: %" PRId64 " batches; the canary that left rolled back uncounted, 3 joined in batch %" PRId64
	       "\n",
	       m->r.batches, b0 + 1);
	sim_close(m);
}

int main(void)
{
	const char *seed = getenv("BW_SIM_SEED");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_rules, sim_teardown),
		cmocka_unit_test_teardown(test_threshold_before, sim_teardown),
		cmocka_unit_test_teardown(test_threshold_upgraded, sim_teardown),
		cmocka_unit_test_teardown(test_threshold_in, sim_teardown),
		cmocka_unit_test_teardown(test_empty_pool, sim_teardown),
		cmocka_unit_test_teardown(test_cancel, sim_teardown),
		cmocka_unit_test_teardown(test_quarantine, sim_teardown),
		cmocka_unit_test_teardown(test_canary, sim_teardown),
		cmocka_unit_test_teardown(test_windows, sim_teardown),
		cmocka_unit_test_teardown(test_sites, sim_teardown),
		cmocka_unit_test_teardown(test_phase_failed, sim_teardown),
		cmocka_unit_test_teardown(test_move, sim_teardown),
		cmocka_unit_test_teardown(test_whole_1000, sim_teardown),
		cmocka_unit_test_teardown(test_whole_10000, sim_teardown),
	};

	if (seed && *seed)
		base_seed = strtoull(seed, NULL, 0);
	if (getenv("BW_SIM_ONLY"))
		cmocka_set_test_filter(getenv("BW_SIM_ONLY"));
	printf("test_orch_sim: seed %" PRIu64 " (BW_SIM_SEED=%" PRIu64 " replays it)\n", base_seed, base_seed);
	if (!getenv("BW_SIM_LOG"))
		log_set_level(LOG_ERR_);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
