/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A small epoll event loop (in the spirit of Redis' ae): file descriptors
 * with callbacks, one-shot timers on the monotonic clock, and a thread-safe
 * stop. One loop runs in one thread; only evloop_stop may be called from
 * another. Callback data is owned by the caller; a timer's data must stay
 * valid until it fires or is cancelled.
 */
#ifndef BW_EVLOOP_H
#define BW_EVLOOP_H

#include <stdint.h>

struct evloop;

typedef void (*evloop_io_fn)(struct evloop *ev, int fd, uint32_t events, void *userdata);
typedef void (*evloop_timer_fn)(struct evloop *ev, void *userdata);

int evloop_new(struct evloop **ret);
/* Frees the loop (NULL is fine). Registered fds are not closed. */
void evloop_free(struct evloop *ev);

/* Watches fd for events (EPOLLIN, EPOLLOUT...); fn is called on each. -EEXIST if watched. */
int evloop_add_fd(struct evloop *ev, int fd, uint32_t events, evloop_io_fn fn, void *userdata);
/* Stops watching fd; safe from inside its own callback. Call it before closing fd. */
int evloop_del_fd(struct evloop *ev, int fd);

/* Calls fn once, ms milliseconds from now. Returns an id > 0, or 0 when out of memory. */
uint64_t evloop_timer(struct evloop *ev, uint64_t ms, evloop_timer_fn fn, void *userdata);
/* Cancels a timer that has not fired (ids of fired or unknown timers are ignored). */
void evloop_timer_cancel(struct evloop *ev, uint64_t id);

/* Milliseconds on the monotonic clock. */
uint64_t evloop_now_ms(void);

/* Runs until evloop_stop. Returns 0, or -errno if epoll fails. */
int evloop_run(struct evloop *ev);
/* Makes evloop_run return soon; callable from any thread or a signal handler. */
void evloop_stop(struct evloop *ev);

#endif
