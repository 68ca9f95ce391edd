// SPDX-License-Identifier: Apache-2.0
/*
 * The event loop: timers fire in deadline order and once, cancelled ones
 * never, file descriptors call back when readable, a stop asked before the
 * loop runs is kept, and a timer re-arming itself at 0 ms does not starve
 * I/O.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "evloop.h"

struct rec {
	struct evloop *ev;
	char order[16];
	int n;
	int rearm_left;
	int reads;
};

static void mark(struct evloop *ev, void *ud, char c)
{
	struct rec *r = ud;
	(void)ev;
	r->order[r->n++] = c;
}
static void fire_a(struct evloop *ev, void *ud) { mark(ev, ud, 'a'); }
static void fire_b(struct evloop *ev, void *ud) { mark(ev, ud, 'b'); }
static void fire_c(struct evloop *ev, void *ud) { mark(ev, ud, 'c'); }
static void stop_it(struct evloop *ev, void *ud)
{
	(void)ud;
	evloop_stop(ev);
}

static void test_timers_in_order_and_cancel(void **state)
{
	struct evloop *ev;
	struct rec r = { 0 };
	uint64_t t0, id;
	(void)state;

	assert_int_equal(evloop_new(&ev), 0);
	evloop_timer(ev, 30, fire_c, &r);
	evloop_timer(ev, 10, fire_a, &r);
	id = evloop_timer(ev, 20, fire_b, &r);
	assert_true(id > 0);
	evloop_timer_cancel(ev, id);
	evloop_timer_cancel(ev, 999999); /* unknown: ignored */
	evloop_timer(ev, 50, stop_it, NULL);
	t0 = evloop_now_ms();
	assert_int_equal(evloop_run(ev), 0);
	assert_true(evloop_now_ms() - t0 >= 50);
	assert_int_equal(r.n, 2);
	assert_memory_equal(r.order, "ac", 2);
	evloop_free(ev);
}

static void test_stop_before_run(void **state)
{
	struct evloop *ev;
	(void)state;
	assert_int_equal(evloop_new(&ev), 0);
	evloop_stop(ev);
	/* Returns at once: the stop was not lost. */
	assert_int_equal(evloop_run(ev), 0);
	evloop_free(ev);
}

static void on_read(struct evloop *ev, int fd, uint32_t events, void *ud)
{
	struct rec *r = ud;
	char c;
	(void)events;
	assert_int_equal(read(fd, &c, 1), 1);
	r->reads++;
	evloop_del_fd(ev, fd); /* from inside its own callback */
	evloop_stop(ev);
}

static void rearm(struct evloop *ev, void *ud)
{
	struct rec *r = ud;
	if (r->rearm_left-- > 0)
		evloop_timer(ev, 0, rearm, r);
}

static void test_fd_not_starved_by_zero_timers(void **state)
{
	struct evloop *ev;
	struct rec r = { .rearm_left = 1000000 };
	int p[2];
	(void)state;

	assert_int_equal(pipe(p), 0);
	assert_int_equal(evloop_new(&ev), 0);
	assert_int_equal(evloop_add_fd(ev, p[0], EPOLLIN, on_read, &r), 0);
	assert_int_equal(evloop_add_fd(ev, p[0], EPOLLIN, on_read, &r), -EEXIST);
	evloop_timer(ev, 0, rearm, &r);
	assert_int_equal(write(p[1], "x", 1), 1);
	assert_int_equal(evloop_run(ev), 0);
	assert_int_equal(r.reads, 1);
	/* The pipe was served long before a million timer rounds. */
	assert_true(r.rearm_left > 900000);
	assert_int_equal(evloop_del_fd(ev, p[0]), -ENOENT);
	evloop_free(ev);
	close(p[0]);
	close(p[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_timers_in_order_and_cancel),
		cmocka_unit_test(test_stop_before_run),
		cmocka_unit_test(test_fd_not_starved_by_zero_timers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
