// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests of lib/extver.c, the versions of extensions: what parses (two
 * or three parts, zeros, the largest part) and into what, every refusal
 * (part count, empty parts, signs, letters, spaces, leading zeros, overflow)
 * leaving the output untouched, and the order (numeric, patch 0 when
 * missing, "1.2" before "1.2.0", total and antisymmetric over a table).
 * Pure functions: no fixture.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "extver.h"

static void test_parse_accepts(void **state)
{
	static const struct {
		const char *s;
		uint32_t major, minor, patch;
		bool has_patch;
	} ok[] = {
		{ "0.0", 0, 0, 0, false },
		{ "1.2", 1, 2, 0, false },
		{ "1.2.3", 1, 2, 3, true },
		{ "0.0.0", 0, 0, 0, true },
		{ "10.20.30", 10, 20, 30, true },
		{ "1.0.10", 1, 0, 10, true },
		{ "4294967295.4294967295.4294967295", UINT32_MAX, UINT32_MAX, UINT32_MAX, true },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		struct extver v;
		if (extver_parse(ok[i].s, &v) != 0)
			fail_msg("extver_parse(\"%s\") refused", ok[i].s);
		assert_int_equal(v.major, ok[i].major);
		assert_int_equal(v.minor, ok[i].minor);
		assert_int_equal(v.patch, ok[i].patch);
		assert_int_equal(v.has_patch, ok[i].has_patch);
	}
}

static void test_parse_refuses(void **state)
{
	static const char *const bad[] = {
		"", "1", "1.", ".1", "1..2", "1.2.", "1.2.3.", "1.2.3.4", "1.2.3.4.5", "v1.2", "1.2a", "1.2-rc1",
		"1.2~rc1", "01.2", "1.02", "1.2.03", "00.1", "+1.2", "-1.2", "1.-2", " 1.2", "1.2 ", "1 .2",
		"1,2", "1.2\n", "latest", "4294967296.0", "0.4294967296", "1.2.4294967296",
		"99999999999999999999.1", "\xd9\xa1.2", /* Arabic-Indic digit one */
	};
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct extver v = { .major = 77, .minor = 78, .patch = 79, .has_patch = true };
		if (extver_parse(bad[i], &v) != -EINVAL)
			fail_msg("extver_parse(\"%s\") accepted", bad[i]);
		/* Written only on success. */
		assert_int_equal(v.major, 77);
		assert_int_equal(v.minor, 78);
		assert_int_equal(v.patch, 79);
		assert_true(v.has_patch);
	}
	assert_int_equal(extver_parse(NULL, &(struct extver){ 0 }), -EINVAL);
}

static int cmp_str(const char *a, const char *b)
{
	struct extver va, vb;
	assert_int_equal(extver_parse(a, &va), 0);
	assert_int_equal(extver_parse(b, &vb), 0);
	return extver_cmp(&va, &vb);
}

static void test_cmp_pairs(void **state)
{
	(void)state;
	assert_true(cmp_str("1.2", "1.10") < 0);   /* numeric, not text */
	assert_true(cmp_str("1.9.9", "1.10") < 0);
	assert_true(cmp_str("2.0", "1.99.99") > 0);
	assert_true(cmp_str("1.2.1", "1.2") > 0);  /* a missing patch is 0 */
	assert_true(cmp_str("1.2", "1.2.0") < 0);  /* then the shorter first */
	assert_true(cmp_str("1.2.0", "1.2") > 0);
	assert_int_equal(cmp_str("1.2", "1.2"), 0);
	assert_int_equal(cmp_str("1.2.3", "1.2.3"), 0);
	assert_true(cmp_str("0.0", "0.0.0") < 0);
	assert_true(cmp_str("4294967295.0", "4294967294.4294967295.4294967295") > 0);
}

/* Sorted ascending: every pair must compare as its positions do. */
static void test_cmp_total_order(void **state)
{
	static const char *const sorted[] = { "0.0", "0.0.0", "0.0.1", "0.1", "0.1.0", "0.9",  "0.10", "1.0",
					      "1.0.0", "1.0.1", "1.0.2", "1.0.10", "1.1", "1.2", "1.2.0", "1.2.3",
					      "1.10", "2.0", "10.0", "4294967295.4294967295.4294967295" };
	const size_t n = sizeof(sorted) / sizeof(sorted[0]);
	(void)state;
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < n; j++) {
			int c = cmp_str(sorted[i], sorted[j]);
			int want = i < j ? -1 : i > j ? 1 : 0;
			if ((c > 0) - (c < 0) != want)
				fail_msg("extver_cmp(%s, %s) = %d, expected the sign of %d", sorted[i], sorted[j], c,
					 want);
		}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_accepts),
		cmocka_unit_test(test_parse_refuses),
		cmocka_unit_test(test_cmp_pairs),
		cmocka_unit_test(test_cmp_total_order),
	};
	return cmocka_run_group_tests_name("extver", tests, NULL, NULL);
}
