/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Maintenance windows: when a rollout may start a batch. A spec is a list
 * of windows separated by commas, each "DAYS HH:MM-HH:MM" in UTC:
 *   DAYS   a day (Mon, Tue, Wed, Thu, Fri, Sat, Sun), a range of days
 *          ("Mon-Fri", "Fri-Mon" wraps), or "*" for every day;
 *   times  start and end; an end at or before the start ends the next day
 *          ("Sat 22:00-02:00"), "00:00-24:00" is the whole day.
 * The day names the day the window starts. "" means always open.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WINDOW_MAX 16

struct window {
	uint8_t days;       /* bit 0: Monday .. bit 6: Sunday */
	int start, minutes; /* minutes from midnight; length in minutes (1-1440) */
};

struct window_set {
	struct window w[WINDOW_MAX];
	size_t n; /* 0: always open */
};

/* Parses spec; -EINVAL with err saying what is wrong. */
int window_parse(const char *spec, struct window_set *ret, char *err, size_t size);
/* Whether time t (Unix seconds) falls in a window. */
bool window_open(const struct window_set *s, int64_t t);
/* The first time at or after t that is in a window (t itself when open); -1 if there is none. */
int64_t window_next_open(const struct window_set *s, int64_t t);
