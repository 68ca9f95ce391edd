// SPDX-License-Identifier: Apache-2.0
/*
 * bmc: job queues per BMC, worker threads, session reuse with an idle LRU
 * and a global cap, retries with backoff, and the polling budget (bmc.h).
 *
 * Scheduling: a BMC with queued jobs waits in one of two ready queues, by
 * whether it holds a session. A worker takes a BMC only when it can run it
 * at once: one that holds a session, or one that does not when a session
 * slot is free or an idle session (a BMC without queued jobs) can be logged
 * out for it; the slot is reserved under the lock as the BMC is taken, so
 * no worker ever waits for a slot while holding a BMC. A BMC keeps its
 * session while it has jobs queued, so a burst to one BMC costs one login.
 * Logouts of evicted and idle sessions run on a closer thread: a BMC that
 * stopped answering delays nobody's job with its logout.
 *
 * Locking: p->mu guards the pool (index, ready queues, idle list, closer
 * queue, counters) and each entry's queue and flags. An entry marked busy
 * belongs to one thread, which alone touches its session and cached
 * answers, without the lock; no network exchange ever happens with p->mu
 * held.
 */
#include "bmc.h"

#include "u64map.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Jobs one BMC may run in a row on its session while others wait for one. */
#define SESSION_STREAK 8
/* A logout taking longer than this is not counted on to free its slot soon. */
#define STUCK_MS 500

struct entry {
	char key[sizeof(((struct hw_target *)0)->host) + 128];
	uint64_t hash;
	struct entry *hnext; /* same hash */
	struct entry *all_next;
	const struct hw_ops *ops;
	struct hw_session *sess;
	uint64_t sess_fp; /* of the target the session was opened with */
	struct bmc_job *head, *tail;
	bool busy, in_ready;
	unsigned streak; /* jobs run in a row on one session while others waited */
	struct entry *rnext;             /* ready queue */
	struct entry *iprev, *inext;     /* idle list (has a session, not busy) */
	bool in_idle;
	uint64_t last_used_ms;
	/* the polling budget */
	uint64_t status_ms, health_ms, health_marker;
	enum hw_power status;
	struct hw_health health;
};

/* A logout in flight, on its own thread. */
struct closing {
	struct bmc_pool *p;
	const struct hw_ops *ops;
	struct hw_session *sess;
	uint64_t start_ms;
	struct closing *prev, *next;
};

struct ready {
	struct entry *head, *tail;
};

struct bmc_pool {
	struct bmc_limits l;
	pthread_mutex_t mu;
	pthread_cond_t work, closer_cond;
	struct ready ready_sess, ready_new; /* BMCs with jobs: holding a session, or not */
	unsigned ready_new_n;
	struct closing *closing; /* logouts in flight (their sessions still count as open) */
	unsigned closing_n;
	struct entry *idle_head, *idle_tail; /* least recently used first */
	struct entry *all;
	struct u64map index; /* hash -> first entry */
	unsigned busy_n;
	struct bmc_stats st;
	bool stopping;
	pthread_t *threads;
	unsigned n_threads;
};

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(unsigned ms)
{
	nanosleep(&(struct timespec){ .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L }, NULL);
}

static uint64_t fnv(uint64_t h, const void *data, size_t len)
{
	const unsigned char *b = data;
	for (size_t i = 0; i < len; i++) {
		h ^= b[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* Everything a session depends on: a change (a new password) means a new login. */
static uint64_t target_fp(const struct hw_target *t)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	h = fnv(h, t->password, strnlen(t->password, sizeof(t->password)));
	h = fnv(h, &t->cipher_suite, sizeof(t->cipher_suite));
	h = fnv(h, &t->http, sizeof(t->http));
	h = fnv(h, &t->insecure, sizeof(t->insecure));
	h = fnv(h, t->ca_file, strnlen(t->ca_file, sizeof(t->ca_file)));
	return fnv(h, &t->timeout_ms, sizeof(t->timeout_ms));
}

const char *bmc_op_name(enum bmc_op op)
{
	static const char *const names[] = { "power status", "power", "set boot device", "get boot device", "health" };
	return (unsigned)op < 5 ? names[op] : "?";
}

/* ---- lists (p->mu held) ---- */

/* Queues e, which has jobs and is not busy, in the ready queue for its session state. */
static void ready_push(struct bmc_pool *p, struct entry *e)
{
	struct ready *q = e->sess ? &p->ready_sess : &p->ready_new;

	if (!e->sess)
		p->ready_new_n++;
	e->rnext = NULL;
	e->in_ready = true;
	if (q->tail)
		q->tail->rnext = e;
	else
		q->head = e;
	q->tail = e;
	pthread_cond_signal(&p->work);
}

static struct entry *ready_pop(struct ready *q)
{
	struct entry *e = q->head;
	if (e) {
		q->head = e->rnext;
		if (!q->head)
			q->tail = NULL;
		e->in_ready = false;
	}
	return e;
}

static void idle_remove(struct bmc_pool *p, struct entry *e)
{
	if (!e->in_idle)
		return;
	if (e->iprev)
		e->iprev->inext = e->inext;
	else
		p->idle_head = e->inext;
	if (e->inext)
		e->inext->iprev = e->iprev;
	else
		p->idle_tail = e->iprev;
	e->iprev = e->inext = NULL;
	e->in_idle = false;
}

static void idle_append(struct bmc_pool *p, struct entry *e)
{
	e->inext = NULL;
	e->iprev = p->idle_tail;
	if (p->idle_tail)
		p->idle_tail->inext = e;
	else
		p->idle_head = e;
	p->idle_tail = e;
	e->in_idle = true;
}

/* ---- sessions ---- */

static void *closer(void *arg)
{
	struct closing *c = arg;
	struct bmc_pool *p = c->p;

	c->ops->close(c->sess);
	pthread_mutex_lock(&p->mu);
	if (c->prev)
		c->prev->next = c->next;
	else
		p->closing = c->next;
	if (c->next)
		c->next->prev = c->prev;
	p->closing_n--;
	p->st.open_sessions--; /* only now: the cap holds from the BMCs' view */
	pthread_cond_broadcast(&p->work);
	pthread_cond_broadcast(&p->closer_cond);
	pthread_mutex_unlock(&p->mu);
	free(c);
	return NULL;
}

/* Logs e's session out on a thread of its own (p->mu held; e not busy, or
 * ours): a BMC that stopped answering holds its slot until the logout times
 * out, and nothing else. */
static void close_later(struct bmc_pool *p, struct entry *e)
{
	struct closing *c = calloc(1, sizeof(*c));
	pthread_attr_t attr;
	pthread_t t;

	if (c) {
		*c = (struct closing){ .p = p, .ops = e->ops, .sess = e->sess, .start_ms = now_ms(), .next = p->closing };
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		if (pthread_create(&t, &attr, closer, c) == 0) {
			if (p->closing)
				p->closing->prev = c;
			p->closing = c;
			p->closing_n++;
		} else {
			free(c);
			c = NULL;
		}
		pthread_attr_destroy(&attr);
	}
	if (!c) {
		/* No thread to spare: log out here (rare; p->mu is held meanwhile). */
		e->ops->close(e->sess);
		p->st.open_sessions--;
	}
	e->sess = NULL;
}

/* Reserves a session slot (p->mu held): true when one is free. When none
 * is, and the logouts already under way will not free one for each BMC
 * waiting, the least recently used idle session is logged out; a logout
 * that takes over STUCK_MS is not counted on (its BMC may have hung). */
static bool reserve_slot(struct bmc_pool *p)
{
	uint64_t t = now_ms();
	unsigned coming = 0;
	struct entry *v;

	if (p->st.open_sessions < p->l.max_sessions) {
		p->st.open_sessions++;
		if (p->st.open_sessions > p->st.max_open_sessions)
			p->st.max_open_sessions = p->st.open_sessions;
		return true;
	}
	for (struct closing *c = p->closing; c; c = c->next)
		if (t - c->start_ms < STUCK_MS)
			coming++;
	if (coming < p->ready_new_n && (v = p->idle_head)) {
		idle_remove(p, v);
		close_later(p, v);
		p->st.evictions++;
	}
	return false;
}

/* Logs in on a slot e holds (e busy); the slot stays e's either way. */
static int open_session(struct bmc_pool *p, struct entry *e, struct bmc_job *j)
{
	int r = e->ops->open(&j->target, &e->sess, &j->err);

	pthread_mutex_lock(&p->mu);
	p->st.logins++;
	pthread_mutex_unlock(&p->mu);
	if (r < 0)
		e->sess = NULL;
	else
		e->sess_fp = target_fp(&j->target);
	return r;
}

/* A slot for e (busy) that holds none: free, or an idle session's. */
static bool take_slot_now(struct bmc_pool *p)
{
	bool ok;
	pthread_mutex_lock(&p->mu);
	ok = reserve_slot(p);
	pthread_mutex_unlock(&p->mu);
	return ok;
}

/*
 * Logs e's session out (e busy; only its own job waits); e keeps the slot,
 * now as a reserved one (*slot), for a login again or for the worker to
 * give back. (Without *slot the slot leaked at every logout of a session
 * e had when its job began: a new login reserved another. Found by the
 * virtual rack, tests/rack/rack-test, where open sessions climbed to the cap.)
 */
static void close_own(struct entry *e, bool *slot)
{
	if (e->sess) {
		e->ops->close(e->sess);
		e->sess = NULL;
		*slot = true;
	}
}

/* ---- one job ---- */

static int exchange(struct entry *e, struct bmc_job *j)
{
	switch (j->op) {
	case BMC_POWER_STATUS:
		return e->ops->power_status(e->sess, &j->power, &j->err);
	case BMC_POWER:
		return e->ops->power(e->sess, j->action, &j->err);
	case BMC_SET_BOOT:
		return e->ops->set_boot(e->sess, &j->boot, &j->err);
	case BMC_GET_BOOT:
		return e->ops->get_boot(e->sess, &j->boot_read, &j->err);
	case BMC_HEALTH:
		return e->ops->health(e->sess, j->sel_marker, &j->health, &j->err);
	}
	return hw_fail(&j->err, -EINVAL, "bmc", "unknown operation %d", (int)j->op);
}

/* Worth another try: the BMC may answer next time. */
static bool passing(int r)
{
	return r == -ETIMEDOUT || r == -EHOSTUNREACH || r == -ENOTCONN;
}

/* Runs j on e (busy). *slot: e holds a session slot (with its session, or
 * reserved for a login); on return, true if it still does and e has no
 * session (the caller gives it back). */
static void run_job(struct bmc_pool *p, struct entry *e, struct bmc_job *j, bool *slot)
{
	uint64_t t = now_ms();
	int r = 0;

	/* The polling budget: only for the credentials that earned the answer. */
	if (!j->fresh && p->l.min_poll_ms && e->sess && e->sess_fp == target_fp(&j->target)) {
		if (j->op == BMC_POWER_STATUS && e->status_ms && t - e->status_ms < p->l.min_poll_ms) {
			j->power = e->status;
			j->cached = true;
		} else if (j->op == BMC_HEALTH && e->health_ms && t - e->health_ms < p->l.min_poll_ms &&
			   j->sel_marker == e->health_marker) {
			j->health = e->health;
			j->power = e->health.power;
			j->cached = true;
		}
		if (j->cached) {
			j->rc = 0;
			return;
		}
	}
	for (unsigned i = 0;; i++) {
		bool sent = false;

		if (e->sess && e->sess_fp != target_fp(&j->target))
			close_own(e, slot); /* new credentials: a new login */
		if (!e->sess) {
			if (!*slot && !(*slot = take_slot_now(p))) {
				r = hw_fail(&j->err, -EBUSY, "bmc", "no BMC session slot free (max_sessions %u)",
					    p->l.max_sessions);
				break;
			}
			r = open_session(p, e, j);
		}
		if (e->sess) {
			sent = true;
			j->attempts++;
			r = exchange(e, j);
		}
		/* No retry once shutting down (p->stopping only ever goes true: read unlocked). */
		if (r == 0 || !passing(r) || i >= p->l.retries || __atomic_load_n(&p->stopping, __ATOMIC_RELAXED))
			break;
		/* A cycle or reset that may have reached the BMC is not repeated. */
		if (sent && j->op == BMC_POWER && (j->action == HW_ACT_CYCLE || j->action == HW_ACT_RESET) &&
		    r == -ETIMEDOUT)
			break;
		close_own(e, slot);
		sleep_ms(p->l.backoff_ms << (i < 8 ? i : 8));
	}
	if (r == -EPROTO || r == -ENOTCONN || r == -ETIMEDOUT)
		close_own(e, slot); /* what it holds is not to be trusted */
	j->rc = r;
	t = now_ms();
	if (r == 0 && j->op == BMC_POWER_STATUS) {
		e->status = j->power;
		e->status_ms = t;
	} else if (r == 0 && j->op == BMC_HEALTH) {
		j->power = j->health.power;
		e->health = j->health;
		e->health_marker = j->sel_marker;
		e->health_ms = t;
		e->status = j->health.power;
		e->status_ms = t;
	} else if (j->op == BMC_POWER || j->op == BMC_SET_BOOT) {
		e->status_ms = e->health_ms = 0; /* what was known is stale */
	}
}

/* ---- workers ---- */

/* Hands sessions idle for idle_close_ms to the closer (p->mu held). */
static void reap_idle(struct bmc_pool *p)
{
	uint64_t t = now_ms();
	struct entry *e;

	while ((e = p->idle_head) && t - e->last_used_ms >= p->l.idle_close_ms) {
		idle_remove(p, e);
		close_later(p, e);
	}
}

/* The next BMC a worker can run now, its session slot reserved (p->mu
 * held): a new one first when a slot can be had (it has waited for one),
 * else one that holds a session. NULL: none runnable now. */
static struct entry *pick(struct bmc_pool *p, bool *slot)
{
	*slot = false;
	if (p->ready_new.head && reserve_slot(p)) {
		*slot = true;
		p->ready_new_n--;
		return ready_pop(&p->ready_new);
	}
	return ready_pop(&p->ready_sess);
}

static void *worker(void *arg)
{
	struct bmc_pool *p = arg;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		struct entry *e;
		struct bmc_job *j;
		bool slot, cancel;

		while (!(e = pick(p, &slot))) {
			struct timespec until;
			if (p->stopping && !p->ready_new.head && !p->ready_sess.head)
				break;
			/* (ready_new waits for a session to be freed or go idle.) */
			clock_gettime(CLOCK_REALTIME, &until);
			if (p->ready_new.head) {
				/* Waiting for a slot: look again soon (a logout may be stuck). */
				until.tv_nsec += 100 * 1000000L;
				if (until.tv_nsec >= 1000000000L) {
					until.tv_sec++;
					until.tv_nsec -= 1000000000L;
				}
			} else
				until.tv_sec += 1;
			pthread_cond_timedwait(&p->work, &p->mu, &until);
			reap_idle(p);
		}
		if (!e)
			break; /* stopping, nothing left */
		j = e->head;
		e->head = j->next;
		if (!e->head)
			e->tail = NULL;
		idle_remove(p, e);
		e->busy = true;
		if (++p->busy_n > p->st.max_busy)
			p->st.max_busy = p->busy_n;
		cancel = p->stopping;
		pthread_mutex_unlock(&p->mu);

		/* Shutting down: what has not started is not sent (its caller hears why);
		 * a rollout re-issues its actions after a restart. */
		char why[160] = "";
		if (cancel)
			j->rc = hw_fail(&j->err, -ECANCELED, "bmc", "not sent: bootwaved is shutting down");
		else if (j->wanted && !j->wanted(j, j->userdata, why, sizeof(why)))
			j->rc = hw_fail(&j->err, -ECANCELED, "skipped", "%s", why);
		else
			run_job(p, e, j, &slot);

		pthread_mutex_lock(&p->mu);
		if (j->cached)
			p->st.cached++;
		p->busy_n--;
		e->busy = false;
		e->last_used_ms = now_ms();
		if (!e->sess && slot)
			p->st.open_sessions--; /* reserved, not used (or the login failed) */
		if (e->head && e->sess && p->ready_new.head && ++e->streak >= SESSION_STREAK) {
			/* Others wait for a slot: after a few jobs, give this one up. */
			close_later(p, e);
			e->streak = 0;
		}
		if (!e->head)
			e->streak = 0;
		if (e->head)
			ready_push(p, e); /* keeps its session: a burst is one login */
		else if (e->sess)
			idle_append(p, e); /* may be logged out for another BMC */
		pthread_cond_broadcast(&p->work);
		pthread_mutex_unlock(&p->mu);
		j->next = NULL;
		j->done(j, j->userdata);
		pthread_mutex_lock(&p->mu);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

/* ---- the pool ---- */

int bmc_pool_new(const struct bmc_limits *limits, struct bmc_pool **ret)
{
	struct bmc_pool *p = calloc(1, sizeof(*p));

	if (!p)
		return -ENOMEM;
	p->l = limits ? *limits : (struct bmc_limits){ 0 };
	if (!limits) {
		p->l.min_poll_ms = 10000;
		p->l.retries = 2;
	}
	if (!p->l.workers)
		p->l.workers = 16;
	if (!p->l.max_sessions)
		p->l.max_sessions = 64;
	if (!p->l.backoff_ms)
		p->l.backoff_ms = 500;
	if (!p->l.idle_close_ms)
		p->l.idle_close_ms = 60000;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->work, NULL);
	pthread_cond_init(&p->closer_cond, NULL);
	u64map_init(&p->index);

	if (!(p->threads = calloc(p->l.workers, sizeof(*p->threads)))) {
		bmc_pool_free(p);
		return -ENOMEM;
	}
	for (; p->n_threads < p->l.workers; p->n_threads++)
		if (pthread_create(&p->threads[p->n_threads], NULL, worker, p) != 0) {
			bmc_pool_free(p);
			return -EAGAIN;
		}
	*ret = p;
	return 0;
}

void bmc_pool_free(struct bmc_pool *p)
{
	struct entry *e, *next;

	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	__atomic_store_n(&p->stopping, true, __ATOMIC_RELAXED);
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->mu);
	for (unsigned i = 0; i < p->n_threads; i++)
		pthread_join(p->threads[i], NULL);
	pthread_mutex_lock(&p->mu);
	while (p->closing_n)
		pthread_cond_wait(&p->closer_cond, &p->mu); /* each bounded by its BMC's timeout */
	pthread_mutex_unlock(&p->mu);
	for (e = p->all; e; e = next) {
		next = e->all_next;
		if (e->sess)
			e->ops->close(e->sess);
		free(e);
	}
	u64map_clear(&p->index);
	pthread_cond_destroy(&p->closer_cond);
	pthread_cond_destroy(&p->work);
	pthread_mutex_destroy(&p->mu);
	free(p->threads);
	free(p);
}

int bmc_submit(struct bmc_pool *p, struct bmc_job *j)
{
	const struct hw_ops *ops = hw_driver(j->target.driver);
	char key[sizeof(((struct entry *)0)->key)];
	uint64_t hash, v;
	struct entry *e = NULL;

	if (!ops)
		return j->rc = hw_fail(&j->err, -EINVAL, "bmc", "no BMC driver named '%s'", j->target.driver);
	snprintf(key, sizeof(key), "%s|%s|%u|%s", j->target.driver, j->target.host, j->target.port, j->target.user);
	hash = fnv(0xcbf29ce484222325ULL, key, strlen(key));
	j->rc = 0;
	j->cached = false;
	j->attempts = 0;
	j->next = NULL;
	memset(&j->err, 0, sizeof(j->err));

	pthread_mutex_lock(&p->mu);
	if (p->stopping) {
		pthread_mutex_unlock(&p->mu);
		return j->rc = hw_fail(&j->err, -ESHUTDOWN, "bmc", "shutting down");
	}
	if (u64map_get(&p->index, hash, &v))
		for (e = (struct entry *)(uintptr_t)v; e && strcmp(e->key, key) != 0; e = e->hnext)
			;
	if (!e) {
		if (!(e = calloc(1, sizeof(*e)))) {
			pthread_mutex_unlock(&p->mu);
			return j->rc = hw_fail(&j->err, -ENOMEM, "bmc", "out of memory");
		}
		snprintf(e->key, sizeof(e->key), "%s", key);
		e->hash = hash;
		e->ops = ops;
		if (u64map_get(&p->index, hash, &v))
			e->hnext = (struct entry *)(uintptr_t)v;
		if (u64map_put(&p->index, hash, (uint64_t)(uintptr_t)e) < 0) {
			free(e);
			pthread_mutex_unlock(&p->mu);
			return j->rc = hw_fail(&j->err, -ENOMEM, "bmc", "out of memory");
		}
		e->all_next = p->all;
		p->all = e;
	}
	if (e->tail)
		e->tail->next = j;
	else
		e->head = j;
	e->tail = j;
	p->st.jobs++;
	if (!e->busy && !e->in_ready) {
		idle_remove(p, e); /* its session is in use again */
		ready_push(p, e);
	}
	pthread_mutex_unlock(&p->mu);
	return 0;
}

struct waiter {
	pthread_mutex_t mu;
	pthread_cond_t cond;
	bool done;
};

static void wake(struct bmc_job *j, void *userdata)
{
	struct waiter *w = userdata;
	(void)j;
	pthread_mutex_lock(&w->mu);
	w->done = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->mu);
}

int bmc_run(struct bmc_pool *p, struct bmc_job *j)
{
	struct waiter w = { .mu = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };
	int r;

	j->done = wake;
	j->userdata = &w;
	if ((r = bmc_submit(p, j)) < 0)
		return j->rc = r;
	pthread_mutex_lock(&w.mu);
	while (!w.done)
		pthread_cond_wait(&w.cond, &w.mu);
	pthread_mutex_unlock(&w.mu);
	pthread_cond_destroy(&w.cond);
	pthread_mutex_destroy(&w.mu);
	return j->rc;
}

void bmc_pool_stats(struct bmc_pool *p, struct bmc_stats *ret)
{
	pthread_mutex_lock(&p->mu);
	*ret = p->st;
	pthread_mutex_unlock(&p->mu);
}
