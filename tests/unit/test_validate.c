// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests of lib/validate.c, the syntax of the identifiers that cross the
 * API: resource names (length edges, case, first character), MAC addresses
 * (the three notations, normalisation, multicast and zero refused, separator
 * and length errors), image versions and their Debian-style ordering, device
 * paths and hosts. Pure functions: no fixture.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "validate.h"

/* A string of n copies of c (n < 512), for length edges. */
static const char *rep(char c, size_t n)
{
	static char buf[4][512];
	static int next;
	char *b = buf[next++ % 4];
	assert_true(n < sizeof(buf[0]));
	memset(b, c, n);
	b[n] = '\0';
	return b;
}

/* ---- names ---- */

static void test_name_valid_accepts(void **state)
{
	static const char *const ok[] = { "a", "0", "web-1", "web_1", "rack.a", "a-b_c.d", "9lives", "x-" };
	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (!name_valid(ok[i]))
			fail_msg("name_valid(\"%s\") refused", ok[i]);
}

static void test_name_valid_lengths(void **state)
{
	(void)state;
	assert_false(name_valid(""));
	assert_true(name_valid(rep('a', 1)));
	assert_true(name_valid(rep('a', 62)));
	assert_true(name_valid(rep('a', NAME_MAX_LEN)));
	assert_int_equal(NAME_MAX_LEN, 63);
	assert_false(name_valid(rep('a', 64)));
	assert_false(name_valid(rep('a', 300)));
}

static void test_name_valid_refuses(void **state)
{
	static const char *const bad[] = { "Web",  "wEb",  "WEB-1", "-web", "_web", ".web", "web 1",
					   "web/1", "web:1", "web@1", "../x",  "a\tb",  "caf\xc3\xa9",
					   " web", "web\n" };
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (name_valid(bad[i]))
			fail_msg("name_valid(\"%s\") accepted", bad[i]);
}

/* ---- MAC addresses ---- */

static void check_mac(const char *in, const char *want)
{
	char out[MAC_STR_LEN + 1];
	memset(out, 'X', sizeof(out));
	if (mac_normalize(in, out) != 0)
		fail_msg("mac_normalize(\"%s\") refused", in);
	assert_string_equal(out, want);
}

static void check_mac_bad(const char *in)
{
	char out[MAC_STR_LEN + 1] = "untouched";
	int r = mac_normalize(in, out);
	if (r != -EINVAL)
		fail_msg("mac_normalize(\"%s\") = %d, expected -EINVAL", in, r);
	/* Outputs are written only on success. */
	assert_string_equal(out, "untouched");
}

static void test_mac_notations(void **state)
{
	(void)state;
	check_mac("52:54:00:12:34:56", "52:54:00:12:34:56");
	check_mac("52-54-00-12-34-56", "52:54:00:12:34:56");
	check_mac("5254.0012.3456", "52:54:00:12:34:56");
}

static void test_mac_lowercase(void **state)
{
	(void)state;
	check_mac("52:54:00:AB:CD:EF", "52:54:00:ab:cd:ef");
	check_mac("52-54-00-Ab-cD-eF", "52:54:00:ab:cd:ef");
	check_mac("5254.00AB.CDEF", "52:54:00:ab:cd:ef");
	check_mac("A4:BF:01:02:03:04", "a4:bf:01:02:03:04");
	/* Locally administered unicast is fine. */
	check_mac("02:00:00:00:00:01", "02:00:00:00:00:01");
	/* Only the first octet's low bit means multicast. */
	check_mac("00:01:01:01:01:01", "00:01:01:01:01:01");
}

static void test_mac_multicast_and_zero(void **state)
{
	(void)state;
	check_mac_bad("01:00:5e:00:00:01");
	check_mac_bad("33:33:00:00:00:01");
	check_mac_bad("ff:ff:ff:ff:ff:ff");
	check_mac_bad("FF-FF-FF-FF-FF-FF");
	check_mac_bad("0100.5e00.0001");
	check_mac_bad("00:00:00:00:00:00");
	check_mac_bad("00-00-00-00-00-00");
	check_mac_bad("0000.0000.0000");
}

static void test_mac_bad_separators(void **state)
{
	(void)state;
	check_mac_bad("52:54-00:12:34:56"); /* mixed */
	check_mac_bad("52-54-00-12-34:56"); /* mixed, last one */
	check_mac_bad("52:54:00:12:34-56");
	check_mac_bad("52.54.00.12.34.56");
	check_mac_bad("52_54_00_12_34_56");
	check_mac_bad("52 54 00 12 34 56");
	check_mac_bad("5254:0012:3456");
	check_mac_bad("5254-0012-3456");
	check_mac_bad("5254.0012-3456");
	check_mac_bad("5254.0012.345g");
	check_mac_bad("52:54:00:12:34:5g");
	check_mac_bad("52:54:00:12:3x:56");
	check_mac_bad("52::54:00:12:34:5");
}

static void test_mac_wrong_lengths(void **state)
{
	(void)state;
	check_mac_bad("");
	check_mac_bad("52");
	check_mac_bad("525400123456");
	check_mac_bad("52:54:00:12:34");
	check_mac_bad("52:54:00:12:34:5");
	check_mac_bad("52:54:00:12:34:567");
	check_mac_bad("52:54:00:12:34:56:");
	check_mac_bad("52:54:00:12:34:56:78");
	check_mac_bad(" 52:54:00:12:34:56");
	check_mac_bad("52:54:00:12:34:56 ");
	check_mac_bad("5254.0012.34567");
	check_mac_bad("5254.0012.345");
	check_mac_bad("2:54:00:12:34:56");
}

/* ---- versions ---- */

static void test_version_valid(void **state)
{
	static const char *const ok[] = { "1",	     "1.0",   "2.1.0",	 "1.0~rc1", "1.0+build.5",
					  "v2",	     "v10",   "2026_11", "v3-broken", "Latest2",
					  "LATEST-1", "latest1" };
	static const char *const bad[] = { "latest", "",    "-1",   ".1",   "~1",     "+1", "_1",
					   "1 0",    "1/0", "1:0",  "1\n",  "1.0@x",  "\xc3\xa9" };
	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (!version_valid(ok[i]))
			fail_msg("version_valid(\"%s\") refused", ok[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (version_valid(bad[i]))
			fail_msg("version_valid(\"%s\") accepted", bad[i]);
}

static void test_version_valid_lengths(void **state)
{
	(void)state;
	assert_int_equal(VERSION_MAX_LEN, 63);
	assert_true(version_valid(rep('1', 63)));
	assert_false(version_valid(rep('1', 64)));
	assert_true(version_valid(rep('v', 1)));
}

static int sign(int v) { return (v > 0) - (v < 0); }

static void check_cmp(const char *a, const char *b, int want)
{
	int ab = sign(version_cmp(a, b)), ba = sign(version_cmp(b, a));
	if (ab != want || ba != -want)
		fail_msg("version_cmp(\"%s\", \"%s\") = %d and reversed %d, expected %d", a, b, ab, ba, want);
}

static void test_version_cmp_table(void **state)
{
	static const struct {
		const char *a, *b;
		int want;
	} cases[] = {
		{ "1.0~rc1", "1.0", -1 },
		{ "1.0", "1.0.1", -1 },
		{ "1.0.1", "1.1", -1 },
		{ "1.0~rc1", "1.1", -1 },
		{ "1.0~rc1", "1.0~rc2", -1 },
		{ "1.0~~", "1.0~", -1 },
		{ "1.0~", "1.0", -1 },
		{ "v2", "v10", -1 },
		{ "v3-broken", "v2", 1 },
		{ "v3-broken", "v3", 1 },
		{ "2.1.0", "2.1.0", 0 },
		{ "01", "1", 0 },
		{ "007", "7", 0 },
		{ "1.01", "1.1", 0 },
		{ "1.002.0", "1.2.0", 0 },
		{ "1.9", "1.10", -1 },
		{ "9", "10", -1 },
		{ "100", "99", 1 },
		{ "1.0a", "1.0", 1 },
		{ "1.0a", "1.0.1", -1 }, /* letters sort before punctuation */
		{ "1.0a", "1.0b", -1 },
		{ "1.0-1", "1.0", 1 },
		{ "1.0+1", "1.0", 1 },
		{ "2", "1.99", 1 },
		{ "1.0", "1.0", 0 },
		{ "a", "b", -1 },
		{ "1", "1", 0 },
		{ "12345678901234567890", "12345678901234567891", -1 },
		{ "123456789012345678901", "12345678901234567891", 1 },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check_cmp(cases[i].a, cases[i].b, cases[i].want);
}

/* A sorted list: every element is below every later one. */
static void test_version_cmp_total_order(void **state)
{
	static const char *const sorted[] = { "0.9",   "1.0~~",	   "1.0~rc1", "1.0~rc2", "1.0",
					      "1.0a",  "1.0.1",	   "1.0.10",  "1.1~beta", "1.1",
					      "1.2",   "1.10",	   "2",	      "10" };
	const size_t n = sizeof(sorted) / sizeof(sorted[0]);
	(void)state;
	for (size_t i = 0; i < n; i++) {
		check_cmp(sorted[i], sorted[i], 0);
		for (size_t j = i + 1; j < n; j++)
			check_cmp(sorted[i], sorted[j], -1);
	}
}

/* ---- device paths ---- */

static void test_devpath_valid(void **state)
{
	static const char *const ok[] = { "/dev/sda", "/dev/nvme0n1", "/dev/disk/by-path/pci-0000:00:1f.2-ata-1",
					  "/dev/disk/by-id/wwn-0x5000c500a1b2c3d4", "/dev/mapper/vg0-root",
					  "/dev/disk/by-id/usb-SanDisk_Cruzer+1@x", "/d", "/dev/..sda", "/dev/sda..1" };
	static const char *const bad[] = { "",	       "/",	     "dev/sda",	      "sda",
					   "/dev/../etc/passwd", "/dev/sda/..", "/..",	      "/dev/./sda",
					   "/dev/sda/",	       "/dev/sd a",   "/dev/sda;rm",  "/dev/sda\n",
					   "/dev/$(x)",	       "/dev/sda*",   "~/sda",	      "/dev/sd\\a" };
	char buf[300];
	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (!devpath_valid(ok[i]))
			fail_msg("devpath_valid(\"%s\") refused", ok[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (devpath_valid(bad[i]))
			fail_msg("devpath_valid(\"%s\") accepted", bad[i]);
	/* 255 characters is the limit. */
	snprintf(buf, sizeof(buf), "/dev/%s", rep('a', 250));
	assert_int_equal(strlen(buf), 255);
	assert_true(devpath_valid(buf));
	snprintf(buf, sizeof(buf), "/dev/%s", rep('a', 251));
	assert_false(devpath_valid(buf));
}

/* ---- hosts ---- */

static void test_host_valid(void **state)
{
	static const char *const ok[] = { "bmc-1.example.com", "10.0.0.1", "fe80::1", "[fe80::1]",
					  "fe80::1%eth0", "localhost", "bmc_1", "a" };
	static const char *const bad[] = { "", "a b", "a/b", "a@b", "host\n", "http://x", "a;b", "a?b", "\xc3\xa9" };
	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (!host_valid(ok[i]))
			fail_msg("host_valid(\"%s\") refused", ok[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (host_valid(bad[i]))
			fail_msg("host_valid(\"%s\") accepted", bad[i]);
	assert_true(host_valid(rep('h', 253)));
	assert_false(host_valid(rep('h', 254)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name_valid_accepts),
		cmocka_unit_test(test_name_valid_lengths),
		cmocka_unit_test(test_name_valid_refuses),
		cmocka_unit_test(test_mac_notations),
		cmocka_unit_test(test_mac_lowercase),
		cmocka_unit_test(test_mac_multicast_and_zero),
		cmocka_unit_test(test_mac_bad_separators),
		cmocka_unit_test(test_mac_wrong_lengths),
		cmocka_unit_test(test_version_valid),
		cmocka_unit_test(test_version_valid_lengths),
		cmocka_unit_test(test_version_cmp_table),
		cmocka_unit_test(test_version_cmp_total_order),
		cmocka_unit_test(test_devpath_valid),
		cmocka_unit_test(test_host_valid),
	};
	return cmocka_run_group_tests_name("validate", tests, NULL, NULL);
}
