// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests of imaging/agent/cmdline.c, the agent's reading of the kernel
 * command line that bootwaved's iPXE script writes: typical lines, quoted
 * values, missing and malformed parameters (and which one *ret_bad names),
 * words it must ignore, and input that is not NUL-terminated (copied into a
 * heap buffer of exactly len bytes, so that AddressSanitizer catches any
 * read past the end).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmdline.h"
#include "fsutil.h"
#include "util.h"

/* Parses the first len bytes of s from an exact-size heap copy. */
static int parse_n(const char *s, size_t len, struct agent_boot *ret, const char **bad)
{
	char *buf = malloc(len ? len : 1);
	int r;
	assert_non_null(buf);
	memcpy(buf, s, len);
	r = agent_cmdline_parse(buf, len, ret, bad);
	free(buf);
	return r;
}

static int parse(const char *s, struct agent_boot *ret, const char **bad)
{
	return parse_n(s, strlen(s), ret, bad);
}

static void expect_ok(const char *line, const char *server, const char *node, const char *token)
{
	struct agent_boot b;
	const char *bad = NULL;
	memset(&b, 0x5a, sizeof(b));
	if (parse(line, &b, &bad) != 0)
		fail_msg("refused (%s): %s", bad ? bad : "?", line);
	assert_string_equal(b.server, server);
	assert_string_equal(b.node, node);
	assert_string_equal(b.token, token);
}

static void expect_err(const char *line, int err, const char *bad_param)
{
	struct agent_boot b, before;
	const char *bad = NULL;
	int r;

	memset(&b, 0x5a, sizeof(b));
	memcpy(&before, &b, sizeof(b));
	r = parse(line, &b, &bad);
	if (r != err)
		fail_msg("agent_cmdline_parse = %d, expected %d: %s", r, err, line);
	if (!bad || strcmp(bad, bad_param) != 0)
		fail_msg("ret_bad = %s, expected %s: %s", bad ? bad : "NULL", bad_param, line);
	/* Outputs are written only on success. */
	assert_memory_equal(&b, &before, sizeof(b));
	/* ret_bad may be NULL. */
	assert_int_equal(parse(line, &b, NULL), err);
}

static void test_typical(void **state)
{
	(void)state;
	expect_ok("BOOT_IMAGE=/vmlinuz initrd=initrd.img bootwave.server=http://10.77.0.1:8080 "
		  "bootwave.node=web-1 bootwave.token=bw_0123456789abcdef quiet console=ttyS0,115200n8\n",
		  "http://10.77.0.1:8080", "web-1", "bw_0123456789abcdef");
	expect_ok("bootwave.node=db-7 bootwave.server=https://boot.example.com", "https://boot.example.com",
		  "db-7", "");
	expect_ok("  bootwave.server=http://h:1\tbootwave.node=n\n\n", "http://h:1", "n", "");
}

static void test_quoted_values(void **state)
{
	(void)state;
	expect_ok("bootwave.server=\"http://10.77.0.1:8080\" bootwave.node=\"web-1\" bootwave.token=\"a b c\"",
		  "http://10.77.0.1:8080", "web-1", "a b c");
	/* A quoted value with spaces does not end the word early. */
	expect_ok("bootwave.token=\"x bootwave.node=evil\" bootwave.server=http://s bootwave.node=good",
		  "http://s", "good", "x bootwave.node=evil");
	expect_ok("foo=\"a b\" bootwave.server=http://s bootwave.node=n", "http://s", "n", "");
	/* Stray quotes inside a value are refused. */
	expect_err("bootwave.server=http://s bootwave.node=n bootwave.token=ab\"cd\"", -EINVAL, "bootwave.token");
	expect_err("bootwave.server=http://s bootwave.node=n bootwave.token=\"", -EINVAL, "bootwave.token");
}

static void test_missing(void **state)
{
	(void)state;
	expect_err("bootwave.node=web-1 bootwave.token=t quiet", -ENOENT, "bootwave.server");
	expect_err("bootwave.server=http://s", -ENOENT, "bootwave.node");
	expect_err("", -ENOENT, "bootwave.server");
	expect_err("   \n", -ENOENT, "bootwave.server");
	expect_err("bootwave.server= bootwave.node=n", -ENOENT, "bootwave.server");
	expect_err("bootwave.server bootwave.node=n", -ENOENT, "bootwave.server");
	expect_err("bootwave.server=http://s bootwave.node=", -ENOENT, "bootwave.node");
	/* bootwave.api is optional, but must be a URL when present. */
	expect_err("bootwave.server=http://s bootwave.node=n bootwave.api=ftp://s", -EINVAL, "bootwave.api");
	expect_err("bootwave.server=http://s bootwave.node=n bootwave.api=https://", -EINVAL, "bootwave.api");
}

/* bootwave.api: where the reimage agent calls the API; the boot URL when absent. */
static void test_api_url(void **state)
{
	struct agent_boot b;
	(void)state;
	assert_int_equal(agent_cmdline_parse("bootwave.server=http://s:80 bootwave.node=n", 43, &b, NULL), 0);
	assert_string_equal(b.api, "http://s:80");
	const char *l = "bootwave.server=http://s:80 bootwave.api=https://s:8443 bootwave.node=n";
	assert_int_equal(agent_cmdline_parse(l, strlen(l), &b, NULL), 0);
	assert_string_equal(b.server, "http://s:80");
	assert_string_equal(b.api, "https://s:8443");
}

static void test_too_long(void **state)
{
	char line[1024], tok[AGENT_TOKEN_MAX + 1], url[AGENT_URL_MAX + 1];
	(void)state;

	memset(tok, 't', AGENT_TOKEN_MAX - 1);
	tok[AGENT_TOKEN_MAX - 1] = '\0';
	snprintf(line, sizeof(line), "bootwave.server=http://s bootwave.node=n bootwave.token=%s", tok);
	expect_ok(line, "http://s", "n", tok);
	tok[AGENT_TOKEN_MAX - 1] = 't';
	tok[AGENT_TOKEN_MAX] = '\0';
	snprintf(line, sizeof(line), "bootwave.server=http://s bootwave.node=n bootwave.token=%s", tok);
	expect_err(line, -EINVAL, "bootwave.token");
	/* Quotes do not count towards the limit. */
	tok[AGENT_TOKEN_MAX - 1] = '\0';
	snprintf(line, sizeof(line), "bootwave.server=http://s bootwave.node=n bootwave.token=\"%s\"", tok);
	expect_ok(line, "http://s", "n", tok);

	snprintf(url, sizeof(url), "http://%0*d", AGENT_URL_MAX - 7, 0);
	assert_int_equal(strlen(url), AGENT_URL_MAX);
	snprintf(line, sizeof(line), "bootwave.server=%s bootwave.node=n", url);
	expect_err(line, -EINVAL, "bootwave.server");
	url[AGENT_URL_MAX - 1] = '\0';
	snprintf(line, sizeof(line), "bootwave.server=%s bootwave.node=n", url);
	expect_ok(line, url, "n", "");

	snprintf(line, sizeof(line), "bootwave.server=http://s bootwave.node=%0*d", 64, 0);
	expect_err(line, -EINVAL, "bootwave.node");
}

static void test_bad_server(void **state)
{
	(void)state;
	expect_err("bootwave.server=ftp://10.0.0.1/ bootwave.node=n", -EINVAL, "bootwave.server");
	expect_err("bootwave.server=10.77.0.1:8080 bootwave.node=n", -EINVAL, "bootwave.server");
	expect_err("bootwave.server=HTTP://s bootwave.node=n", -EINVAL, "bootwave.server");
	expect_err("bootwave.server=\"http://s x\" bootwave.node=n", -EINVAL, "bootwave.server");
	expect_err("bootwave.server=http://s\x01 bootwave.node=n", -EINVAL, "bootwave.server");
}

static void test_bad_node(void **state)
{
	(void)state;
	expect_err("bootwave.server=http://s bootwave.node=Web-1", -EINVAL, "bootwave.node");
	expect_err("bootwave.server=http://s bootwave.node=-web", -EINVAL, "bootwave.node");
	expect_err("bootwave.server=http://s bootwave.node=../x", -EINVAL, "bootwave.node");
	expect_err("bootwave.server=http://s bootwave.node=\"a b\"", -EINVAL, "bootwave.node");
}

static void test_unknown_words_ignored(void **state)
{
	(void)state;
	expect_ok("quiet splash ro root=/dev/ram0 bootwave.unknown=1 bootwave.serverx=ftp://x "
		  "xbootwave.node=bad bootwave.nod=bad bootwave.node.x=1 bootwave.server=http://s "
		  "bootwave.node=n bootwave = x =y ==",
		  "http://s", "n", "");
	/* The last occurrence wins, as for the kernel's own parameters. */
	expect_ok("bootwave.server=http://a bootwave.node=n bootwave.server=http://b", "http://b", "n", "");
}

static void test_not_nul_terminated(void **state)
{
	struct agent_boot b;
	const char *bad = NULL;
	static const char line[] = "bootwave.server=http://s bootwave.node=web-1XYZ bootwave.token=t";
	const char *cut = strstr(line, "XYZ");
	(void)state;

	/* Stop right after "web-1": the rest of the buffer must not be read. */
	memset(&b, 0, sizeof(b));
	assert_int_equal(parse_n(line, (size_t)(cut - line), &b, &bad), 0);
	assert_string_equal(b.server, "http://s");
	assert_string_equal(b.node, "web-1");
	assert_string_equal(b.token, "");

	/* Cut inside a quoted value: the unterminated quote holds to the end. */
	static const char q[] = "bootwave.server=http://s bootwave.node=n bootwave.token=\"abc def\" x";
	const char *sp = strstr(q, " def");
	memset(&b, 0, sizeof(b));
	assert_int_equal(parse_n(q, (size_t)(sp - q), &b, &bad), -EINVAL);
	assert_string_equal(bad, "bootwave.token");

	/* Cut in the middle of a key: the word is unknown and ignored. */
	memset(&b, 0, sizeof(b));
	static const char k[] = "bootwave.node=n bootwave.server=http://s";
	assert_int_equal(parse_n(k, strlen("bootwave.node=n bootwave.ser"), &b, &bad), -ENOENT);
	assert_string_equal(bad, "bootwave.server");

	/* Zero bytes. */
	assert_int_equal(parse_n(line, 0, &b, &bad), -ENOENT);
}

/* /proc/cmdline style: NUL bytes separate words like spaces do. */
static void test_embedded_nul(void **state)
{
	struct agent_boot b;
	const char *bad = NULL;
	static const char line[] = "quiet\0bootwave.server=http://s\0bootwave.node=n\0\0";
	(void)state;

	memset(&b, 0, sizeof(b));
	assert_int_equal(parse_n(line, sizeof(line) - 1, &b, &bad), 0);
	assert_string_equal(b.server, "http://s");
	assert_string_equal(b.node, "n");
}

/* The agent reads /proc/cmdline, whose st_size is 0: read_file must read to EOF. */
static void test_read_proc_file(void **state)
{
	_cleanup_free_ char *text = NULL, *small = NULL;
	size_t len = 0;
	(void)state;

	assert_int_equal(read_file("/proc/self/status", 64 * 1024, &text, &len), 0);
	assert_true(len > 100);
	assert_non_null(strstr(text, "Name:"));
	assert_int_equal(strlen(text), len);
	/* The bound still holds for files that do not tell their size. */
	assert_int_equal(read_file("/proc/self/status", 16, &small, &len), -EFBIG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_typical),
		cmocka_unit_test(test_read_proc_file),
		cmocka_unit_test(test_quoted_values),
		cmocka_unit_test(test_missing),
		cmocka_unit_test(test_too_long),
		cmocka_unit_test(test_api_url),
		cmocka_unit_test(test_bad_server),
		cmocka_unit_test(test_bad_node),
		cmocka_unit_test(test_unknown_words_ignored),
		cmocka_unit_test(test_not_nul_terminated),
		cmocka_unit_test(test_embedded_nul),
	};
	return cmocka_run_group_tests_name("cmdline", tests, NULL, NULL);
}
