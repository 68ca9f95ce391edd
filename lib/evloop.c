// SPDX-License-Identifier: Apache-2.0
/*
 * Event loop on epoll: see evloop.h. Timers live in an unsorted array that
 * is scanned for the earliest deadline; the loops here hold at most a few
 * hundred (one per TFTP transfer and a few for DHCP), where a scan costs
 * less than keeping a heap.
 */
#include "evloop.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

struct watch {
	int fd;
	evloop_io_fn fn;
	void *ud;
	bool dead; /* removed while a dispatch round may still reference it */
};

struct timer {
	uint64_t id, due;
	evloop_timer_fn fn;
	void *ud;
};

struct evloop {
	int ep, wake;
	struct watch **watches;
	size_t n_watches, cap_watches;
	struct timer *timers;
	size_t n_timers, cap_timers;
	uint64_t next_id;
	volatile bool stop;
	bool dispatching;
};

uint64_t evloop_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void on_wake(struct evloop *ev, int fd, uint32_t events, void *ud)
{
	uint64_t v;
	(void)ev;
	(void)events;
	(void)ud;
	while (read(fd, &v, sizeof(v)) > 0)
		;
}

int evloop_new(struct evloop **ret)
{
	struct evloop *ev = calloc(1, sizeof(*ev));
	int r;

	if (!ev)
		return -ENOMEM;
	ev->ep = epoll_create1(EPOLL_CLOEXEC);
	ev->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ev->next_id = 1;
	if (ev->ep < 0 || ev->wake < 0) {
		r = -errno;
		evloop_free(ev);
		return r;
	}
	if ((r = evloop_add_fd(ev, ev->wake, EPOLLIN, on_wake, NULL)) < 0) {
		evloop_free(ev);
		return r;
	}
	*ret = ev;
	return 0;
}

void evloop_free(struct evloop *ev)
{
	if (!ev)
		return;
	for (size_t i = 0; i < ev->n_watches; i++)
		free(ev->watches[i]);
	free(ev->watches);
	free(ev->timers);
	if (ev->ep >= 0)
		close(ev->ep);
	if (ev->wake >= 0)
		close(ev->wake);
	free(ev);
}

static struct watch *find_watch(struct evloop *ev, int fd)
{
	for (size_t i = 0; i < ev->n_watches; i++)
		if (ev->watches[i]->fd == fd && !ev->watches[i]->dead)
			return ev->watches[i];
	return NULL;
}

int evloop_add_fd(struct evloop *ev, int fd, uint32_t events, evloop_io_fn fn, void *userdata)
{
	struct epoll_event e = { .events = events };
	struct watch *w;

	if (find_watch(ev, fd))
		return -EEXIST;
	if (ev->n_watches == ev->cap_watches) {
		size_t cap = ev->cap_watches ? ev->cap_watches * 2 : 16;
		struct watch **n = realloc(ev->watches, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		ev->watches = n;
		ev->cap_watches = cap;
	}
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	*w = (struct watch){ .fd = fd, .fn = fn, .ud = userdata };
	e.data.ptr = w;
	if (epoll_ctl(ev->ep, EPOLL_CTL_ADD, fd, &e) < 0) {
		int r = -errno;
		free(w);
		return r;
	}
	ev->watches[ev->n_watches++] = w;
	return 0;
}

/* Frees watches marked dead; only between dispatch rounds. */
static void reap_watches(struct evloop *ev)
{
	size_t o = 0;
	for (size_t i = 0; i < ev->n_watches; i++) {
		if (ev->watches[i]->dead)
			free(ev->watches[i]);
		else
			ev->watches[o++] = ev->watches[i];
	}
	ev->n_watches = o;
}

int evloop_del_fd(struct evloop *ev, int fd)
{
	struct watch *w = find_watch(ev, fd);
	if (!w)
		return -ENOENT;
	epoll_ctl(ev->ep, EPOLL_CTL_DEL, fd, NULL);
	w->dead = true;
	if (!ev->dispatching)
		reap_watches(ev);
	return 0;
}

uint64_t evloop_timer(struct evloop *ev, uint64_t ms, evloop_timer_fn fn, void *userdata)
{
	if (ev->n_timers == ev->cap_timers) {
		size_t cap = ev->cap_timers ? ev->cap_timers * 2 : 16;
		struct timer *n = realloc(ev->timers, cap * sizeof(*n));
		if (!n)
			return 0;
		ev->timers = n;
		ev->cap_timers = cap;
	}
	ev->timers[ev->n_timers++] =
		(struct timer){ .id = ev->next_id, .due = evloop_now_ms() + ms, .fn = fn, .ud = userdata };
	return ev->next_id++;
}

void evloop_timer_cancel(struct evloop *ev, uint64_t id)
{
	for (size_t i = 0; i < ev->n_timers; i++)
		if (ev->timers[i].id == id) {
			ev->timers[i] = ev->timers[--ev->n_timers];
			return;
		}
}

/*
 * Runs the timers due now that existed when the round began (a timer that
 * re-arms itself at 0 ms waits for the next round, so I/O is not starved).
 * Returns ms until the next one, or -1 if none.
 */
static int run_timers(struct evloop *ev)
{
	uint64_t now = evloop_now_ms(), next = UINT64_MAX, first_new = ev->next_id;

	for (size_t i = 0; i < ev->n_timers;) {
		if (ev->timers[i].due <= now && ev->timers[i].id < first_new) {
			struct timer t = ev->timers[i];
			ev->timers[i] = ev->timers[--ev->n_timers];
			/* The callback may add or cancel timers: restart the scan. */
			t.fn(ev, t.ud);
			now = evloop_now_ms();
			i = 0;
			next = UINT64_MAX;
			continue;
		}
		if (ev->timers[i].due < next)
			next = ev->timers[i].due;
		i++;
	}
	if (next == UINT64_MAX)
		return -1;
	if (next <= now) /* due already: a timer armed during this round */
		return 0;
	return next - now > 60000 ? 60000 : (int)(next - now);
}

int evloop_run(struct evloop *ev)
{
	struct epoll_event events[64];

	/* stop is not reset here: an evloop_stop before the loop runs still counts. */
	while (!ev->stop) {
		int timeout = run_timers(ev), n;
		if (ev->stop)
			break;
		n = epoll_wait(ev->ep, events, ARRAY_SIZE(events), timeout);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		ev->dispatching = true;
		for (int i = 0; i < n; i++) {
			struct watch *w = events[i].data.ptr;
			if (!w->dead)
				w->fn(ev, w->fd, events[i].events, w->ud);
		}
		ev->dispatching = false;
		reap_watches(ev);
	}
	return 0;
}

void evloop_stop(struct evloop *ev)
{
	uint64_t one = 1;
	ev->stop = true;
	if (write(ev->wake, &one, sizeof(one)) < 0) {
		/* The counter is full: a wake-up is pending anyway. */
	}
}
