// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests of server/orch/extorder.c: the run order of a pool's
 * extensions from provision_after, ties kept in the order given, cycles
 * (named), names not in the pool, bad lists, and transitive dependence.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "extorder.h"

static struct bw_pool_extension pe[EXTORDER_MAX + 1];

/* Sets pe[i] to name with its provision_after list. */
static void set(size_t i, const char *name, const char *after)
{
	memset(&pe[i], 0, sizeof(pe[i]));
	snprintf(pe[i].name, sizeof(pe[i].name), "%s", name);
	snprintf(pe[i].provision_after, sizeof(pe[i].provision_after), "%s", after);
}

/* The names in run order, space-separated. */
static const char *order(size_t n)
{
	static char out[1024];
	size_t ord[EXTORDER_MAX];
	char err[256] = "";
	int r = extorder_sort(pe, n, ord, err, sizeof(err));
	if (r < 0)
		fail_msg("extorder_sort: %d %s", r, err);
	out[0] = '\0';
	for (size_t k = 0; k < n; k++)
		snprintf(out + strlen(out), sizeof(out) - strlen(out), "%s%s", k ? " " : "", pe[ord[k]].name);
	return out;
}

static void test_order(void **state)
{
	(void)state;
	assert_string_equal(order(0), "");
	set(0, "app", "base, monitoring");
	set(1, "monitoring", "base");
	set(2, "base", "");
	set(3, "logs", "");
	assert_string_equal(order(4), "base monitoring app logs");
	/* No constraints: the order given. */
	set(0, "c", "");
	set(1, "a", "");
	set(2, "b", "");
	assert_string_equal(order(3), "c a b");
	/* A chain given backwards. */
	set(0, "z", "y");
	set(1, "y", "x");
	set(2, "x", "");
	assert_string_equal(order(3), "x y z");
}

static void test_cycles_and_bad_names(void **state)
{
	size_t ord[EXTORDER_MAX];
	char err[256];
	(void)state;

	set(0, "a", "c");
	set(1, "b", "a");
	set(2, "c", "b");
	set(3, "d", "");
	assert_int_equal(extorder_sort(pe, 4, ord, err, sizeof(err)), -ELOOP);
	assert_non_null(strstr(err, "cycle"));
	assert_non_null(strstr(err, "a runs after c runs after b runs after a"));

	set(0, "a", "a");
	assert_int_equal(extorder_sort(pe, 1, ord, err, sizeof(err)), -ELOOP);
	assert_non_null(strstr(err, "a: provision_after: an extension cannot run after itself"));

	set(0, "a", "ghost");
	assert_int_equal(extorder_sort(pe, 1, ord, err, sizeof(err)), -ENOENT);
	assert_string_equal(err, "a: provision_after: the pool has no extension ghost");

	set(0, "a", "Bad/Name");
	assert_int_equal(extorder_sort(pe, 1, ord, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "\"Bad/Name\" is not an extension name"));

	for (size_t i = 0; i <= EXTORDER_MAX; i++) {
		char nm[16];
		snprintf(nm, sizeof(nm), "e%zu", i);
		set(i, nm, "");
	}
	assert_int_equal(extorder_sort(pe, EXTORDER_MAX + 1, ord, err, sizeof(err)), -EINVAL);
	assert_int_equal(extorder_sort(pe, EXTORDER_MAX, ord, err, sizeof(err)), 0);
}

static void test_split(void **state)
{
	char names[4][NAME_MAX_LEN + 1], err[128];
	size_t n = 9;
	(void)state;

	assert_int_equal(extorder_split("", names, 4, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 0);
	assert_int_equal(extorder_split(" a,b , c,,", names, 4, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 3);
	assert_string_equal(names[2], "c");
	assert_int_equal(extorder_split("a,b,c,d,e", names, 4, &n, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "more than 4 names");
}

static void test_depends(void **state)
{
	bool d;
	(void)state;

	set(0, "app", "monitoring");
	set(1, "monitoring", "base");
	set(2, "base", "");
	set(3, "logs", "");
	assert_int_equal(extorder_depends(pe, 4, 0, 2, &d), 0);
	assert_true(d); /* app after base, through monitoring */
	assert_int_equal(extorder_depends(pe, 4, 2, 0, &d), 0);
	assert_false(d);
	assert_int_equal(extorder_depends(pe, 4, 0, 3, &d), 0);
	assert_false(d);
	assert_int_equal(extorder_depends(pe, 4, 0, 0, &d), 0);
	assert_false(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_order),
		cmocka_unit_test(test_cycles_and_bad_names),
		cmocka_unit_test(test_split),
		cmocka_unit_test(test_depends),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
