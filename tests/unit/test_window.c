// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests of lib/window.c, maintenance windows: parsing (and the errors
 * an operator gets), days, ranges that wrap, windows past midnight, the
 * whole day, and the next opening.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "window.h"

/* 2026-11-30 was a Monday: t(day, h, m) counts days from it. */
static int64_t t(int day, int h, int m) { return 1795996800 + day * 86400 + h * 3600 + m * 60; }

static struct window_set parse_ok(const char *spec)
{
	struct window_set s;
	char err[128] = "";
	int r = window_parse(spec, &s, err, sizeof(err));
	if (r < 0)
		fail_msg("%s: %s", spec, err);
	return s;
}

static void test_monday_epoch(void **state)
{
	struct window_set s = parse_ok("Mon 00:00-24:00");
	(void)state;
	/* the anchor is right: 2026-11-30T00:00:00Z */
	assert_int_equal(t(0, 0, 0), 1795996800);
	assert_true(window_open(&s, t(0, 0, 0)));
	assert_true(window_open(&s, t(0, 23, 59)));
	assert_false(window_open(&s, t(1, 0, 0)));
	assert_false(window_open(&s, t(-1, 23, 59)));
	assert_true(window_open(&s, t(7, 12, 0)));
}

static void test_ranges(void **state)
{
	struct window_set s = parse_ok("Mon-Fri 02:00-05:00, Sat 22:00-02:00");
	(void)state;
	assert_int_equal(s.n, 2);
	assert_false(window_open(&s, t(0, 1, 59)));
	assert_true(window_open(&s, t(0, 2, 0)));
	assert_true(window_open(&s, t(4, 4, 59)));  /* Friday */
	assert_false(window_open(&s, t(4, 5, 0)));
	assert_false(window_open(&s, t(5, 3, 0)));  /* Saturday morning: not Mon-Fri */
	assert_true(window_open(&s, t(5, 22, 0)));  /* Saturday night... */
	assert_true(window_open(&s, t(6, 1, 59)));  /* ...into Sunday */
	assert_false(window_open(&s, t(6, 2, 0)));
	assert_false(window_open(&s, t(6, 22, 30))); /* Sunday night is not in it */
	/* a wrapping day range */
	s = parse_ok("Fri-Mon 12:00-13:00");
	assert_true(window_open(&s, t(0, 12, 30)));
	assert_false(window_open(&s, t(1, 12, 30)));
	assert_true(window_open(&s, t(6, 12, 30)));
	/* every day */
	s = parse_ok("* 03:00-03:30");
	for (int d = 0; d < 7; d++) {
		assert_true(window_open(&s, t(d, 3, 15)));
		assert_false(window_open(&s, t(d, 3, 30)));
	}
}

static void test_empty_and_next(void **state)
{
	struct window_set s = parse_ok("");
	(void)state;
	assert_int_equal(s.n, 0);
	assert_true(window_open(&s, t(3, 13, 7)));
	assert_int_equal(window_next_open(&s, t(3, 13, 7)), t(3, 13, 7));
	s = parse_ok("Wed 01:00-02:00");
	assert_int_equal(window_next_open(&s, t(0, 10, 0)), t(2, 1, 0));
	assert_int_equal(window_next_open(&s, t(2, 1, 30)), t(2, 1, 30));
	assert_int_equal(window_next_open(&s, t(2, 2, 0)), t(9, 1, 0));
}

static void test_errors(void **state)
{
	static const struct {
		const char *spec, *says;
	} bad[] = {
		{ "Mon", "expected DAYS HH:MM-HH:MM" },
		{ "Mo 01:00-02:00", "expected a day" },
		{ "Mon-Xyz 01:00-02:00", "expected a day" },
		{ "Mon 1:00-02:00", "expected HH:MM-HH:MM" },
		{ "Mon 24:00-02:00", "expected HH:MM-HH:MM" },
		{ "Mon 01:60-02:00", "expected HH:MM-HH:MM" },
		{ "Mon 01:00-25:00", "expected HH:MM-HH:MM" },
		{ "Mon 01:00-02:00 Tue 01:00-02:00", "separated by commas" },
		{ "Mon 01:00-02:00x", "expected HH:MM-HH:MM" },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct window_set s;
		char err[128] = "";
		if (window_parse(bad[i].spec, &s, err, sizeof(err)) == 0)
			fail_msg("\"%s\" accepted", bad[i].spec);
		if (!strstr(err, bad[i].says))
			fail_msg("\"%s\": \"%s\" does not say \"%s\"", bad[i].spec, err, bad[i].says);
	}
	{
		char many[512] = "";
		struct window_set s;
		char err[128];
		for (int i = 0; i <= WINDOW_MAX; i++)
			strcat(many, i ? ", Mon 01:00-02:00" : "Mon 01:00-02:00");
		assert_int_equal(window_parse(many, &s, err, sizeof(err)), -22);
		assert_non_null(strstr(err, "at most"));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_monday_epoch),
		cmocka_unit_test(test_ranges),
		cmocka_unit_test(test_empty_and_next),
		cmocka_unit_test(test_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
