// SPDX-License-Identifier: Apache-2.0
/* Maintenance windows: see window.h. */
#include "window.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *const day_names[7] = { "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun" };

static int day_of(const char *p, size_t len)
{
	if (len == 3)
		for (int i = 0; i < 7; i++)
			if (strncasecmp(p, day_names[i], 3) == 0)
				return i;
	return -1;
}

/* "HH:MM" at p (5 characters); minutes, or -1. 24:00 only as an end. */
static int hhmm(const char *p, bool end)
{
	int h, m;

	if (!isdigit((unsigned char)p[0]) || !isdigit((unsigned char)p[1]) || p[2] != ':' ||
	    !isdigit((unsigned char)p[3]) || !isdigit((unsigned char)p[4]))
		return -1;
	h = (p[0] - '0') * 10 + (p[1] - '0');
	m = (p[3] - '0') * 10 + (p[4] - '0');
	if (m > 59 || h > 24 || (h == 24 && (m || !end)))
		return -1;
	return h * 60 + m;
}

int window_parse(const char *spec, struct window_set *ret, char *err, size_t size)
{
	const char *p = spec;

	memset(ret, 0, sizeof(*ret));
	while (*p) {
		struct window w = { 0 };
		const char *sp, *dash;
		int d1, d2, start, end;
		size_t len;

		while (*p == ' ')
			p++;
		if (!*p)
			break;
		if (ret->n == WINDOW_MAX) {
			snprintf(err, size, "at most %d windows", WINDOW_MAX);
			return -EINVAL;
		}
		if (!(sp = strchr(p, ' '))) {
			snprintf(err, size, "\"%.40s\": expected DAYS HH:MM-HH:MM", p);
			return -EINVAL;
		}
		len = (size_t)(sp - p);
		dash = memchr(p, '-', len);
		if (len == 1 && *p == '*')
			w.days = 0x7f;
		else {
			d1 = day_of(p, dash ? (size_t)(dash - p) : len);
			d2 = dash ? day_of(dash + 1, (size_t)(sp - dash - 1)) : d1;
			if (d1 < 0 || d2 < 0) {
				snprintf(err, size, "\"%.*s\": expected a day (Mon..Sun), a range (Mon-Fri) or *", (int)len, p);
				return -EINVAL;
			}
			for (int d = d1;; d = (d + 1) % 7) {
				w.days |= (uint8_t)(1u << d);
				if (d == d2)
					break;
			}
		}
		p = sp + 1;
		if (strlen(p) < 11 || (start = hhmm(p, false)) < 0 || p[5] != '-' || (end = hhmm(p + 6, true)) < 0 ||
		    (p[11] && p[11] != ',' && p[11] != ' ')) {
			snprintf(err, size, "\"%.20s\": expected HH:MM-HH:MM (UTC)", p);
			return -EINVAL;
		}
		w.start = start;
		w.minutes = end > start ? end - start : end + 1440 - start;
		ret->w[ret->n++] = w;
		p += 11;
		while (*p == ' ')
			p++;
		if (*p == ',')
			p++;
		else if (*p) {
			snprintf(err, size, "\"%.20s\": windows are separated by commas", p);
			return -EINVAL;
		}
	}
	return 0;
}

bool window_open(const struct window_set *s, int64_t t)
{
	if (s->n == 0)
		return true;
	int64_t day = t >= 0 ? t / 86400 : (t - 86399) / 86400;
	int minute = (int)((t - day * 86400) / 60);
	/* 1970-01-01 was a Thursday (3, counting Monday as 0). */
	for (size_t i = 0; i < s->n; i++) {
		const struct window *w = &s->w[i];
		/* The window may have started today or yesterday. */
		for (int back = 0; back <= 1; back++) {
			int wd = (int)(((day - back) % 7 + 7 + 3) % 7);
			int from = w->start - back * 1440;
			if ((w->days & (1u << wd)) && minute >= from && minute < from + w->minutes)
				return true;
		}
	}
	return false;
}

int64_t window_next_open(const struct window_set *s, int64_t t)
{
	if (window_open(s, t))
		return t;
	/* Windows start on whole minutes: check each minute boundary of the next 8 days. */
	int64_t m = (t / 60 + 1) * 60;
	for (int64_t k = 0; k < 8 * 1440; k++, m += 60)
		if (window_open(s, m))
			return m;
	return -1;
}
