// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests of server/config.c: the built-in defaults, files that override
 * them, size suffixes, refusals that name the file, line, section and key
 * (unknown keys and sections, ranges, listen addresses, a relative
 * state_dir, page_size above max_page_size), the round trip through
 * config_print and config_load, and config_parse_listen. Files are written
 * to a temporary directory that each test removes.
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

#include "config.h"
#include "fsutil.h"
#include "testutil.h"

struct fx {
	char dir[64];
	char path[128];
	char err[512];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	if (!f)
		return -1;
	if (test_dir_make("config", "bootwaved.conf", f->dir, f->path) < 0) {
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	rm_rf(f->dir);
	free(f);
	return 0;
}

static void write_text(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	assert_int_equal(fputs(text, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
}

/* Writes text to the fixture's file and loads it. */
static int load(struct fx *f, const char *text, struct config *c)
{
	write_text(f->path, text);
	f->err[0] = '\0';
	return config_load(f->path, c, f->err, sizeof(f->err));
}

static void assert_contains(const char *hay, const char *needle)
{
	if (!strstr(hay, needle))
		fail_msg("\"%s\" does not contain \"%s\"", hay, needle);
}

/* Location prefix "<file>:<line>:" of an error. */
static void assert_at_line(struct fx *f, int line)
{
	char where[160];
	snprintf(where, sizeof(where), "%s:%d:", f->path, line);
	assert_contains(f->err, where);
}

static void assert_config_equal(const struct config *a, const struct config *b)
{
	assert_string_equal(a->state_dir, b->state_dir);
	assert_string_equal(a->log_level, b->log_level);
	assert_string_equal(a->listen, b->listen);
	assert_string_equal(a->listen_host, b->listen_host);
	assert_int_equal(a->listen_port, b->listen_port);
	assert_int_equal(a->threads, b->threads);
	assert_int_equal(a->max_body, b->max_body);
	assert_int_equal(a->max_upload, b->max_upload);
	assert_int_equal(a->page_size, b->page_size);
	assert_int_equal(a->max_page_size, b->max_page_size);
	assert_int_equal(a->metrics_auth, b->metrics_auth);
	assert_string_equal(a->store_path, b->store_path);
	assert_string_equal(a->image_dir, b->image_dir);
	assert_string_equal(a->key_file, b->key_file);
	assert_string_equal(a->admin_token_file, b->admin_token_file);
}

/* ---- defaults and overrides ---- */

static void test_defaults(void **state)
{
	struct config c;
	char err[256] = "";
	(void)state;

	memset(&c, 0x5a, sizeof(c));
	assert_int_equal(config_load(NULL, &c, err, sizeof(err)), 0);
	assert_string_equal(c.state_dir, "/var/lib/bootwave");
	assert_string_equal(c.log_level, "info");
	assert_string_equal(c.listen, "0.0.0.0:8080");
	assert_string_equal(c.listen_host, "0.0.0.0");
	assert_int_equal(c.listen_port, 8080);
	assert_int_equal(c.threads, 4);
	assert_int_equal(c.max_body, 1024 * 1024);
	assert_int_equal(c.max_upload, 64LL << 30);
	assert_int_equal(c.page_size, 100);
	assert_int_equal(c.max_page_size, 1000);
	assert_true(c.metrics_auth);
	assert_string_equal(c.store_path, "/var/lib/bootwave/bootwave.db");
	assert_string_equal(c.image_dir, "/var/lib/bootwave/images");
	assert_string_equal(c.key_file, "/var/lib/bootwave/secret.key");
	assert_string_equal(c.admin_token_file, "/var/lib/bootwave/admin.token");
}

static void test_empty_file_is_defaults(void **state)
{
	struct fx *f = *state;
	struct config c, d;
	char err[256];

	assert_int_equal(config_load(NULL, &d, err, sizeof(err)), 0);
	assert_int_equal(load(f, "", &c), 0);
	assert_config_equal(&c, &d);
	assert_int_equal(load(f, "# only a comment\n; and another\n\n[api]\n", &c), 0);
	assert_config_equal(&c, &d);
}

static void test_file_overrides(void **state)
{
	struct fx *f = *state;
	struct config c;

	assert_int_equal(load(f,
			      "# bootwaved.conf\n"
			      "[daemon]\n"
			      "state_dir = /srv/bw\n"
			      "log_level = debug\n"
			      "\n"
			      "[api]\n"
			      "listen = 127.0.0.1:9000\n"
			      "threads = 16\n"
			      "metrics_auth = false\n"
			      "max_page_size = 50\n"
			      "page_size = 50\n"
			      "[store]\n"
			      "path = /data/bw.db\n"
			      "[images]\n"
			      "dir = img\n",
			      &c),
			 0);
	assert_string_equal(c.state_dir, "/srv/bw");
	assert_string_equal(c.log_level, "debug");
	assert_string_equal(c.listen, "127.0.0.1:9000");
	assert_string_equal(c.listen_host, "127.0.0.1");
	assert_int_equal(c.listen_port, 9000);
	assert_int_equal(c.threads, 16);
	assert_false(c.metrics_auth);
	assert_int_equal(c.page_size, 50);
	assert_int_equal(c.max_page_size, 50);
	assert_string_equal(c.store_path, "/data/bw.db"); /* absolute: kept */
	assert_string_equal(c.image_dir, "/srv/bw/img");  /* relative: under state_dir */
	/* Not in the file: defaults, resolved under the new state_dir. */
	assert_int_equal(c.max_body, 1024 * 1024);
	assert_string_equal(c.key_file, "/srv/bw/secret.key");
	assert_string_equal(c.admin_token_file, "/srv/bw/admin.token");
}

/* Paths are resolved after the whole file is read, whatever the order. */
static void test_state_dir_after_paths(void **state)
{
	struct fx *f = *state;
	struct config c;

	assert_int_equal(load(f, "[images]\ndir = imgs\n[daemon]\nstate_dir = /srv\n", &c), 0);
	assert_string_equal(c.image_dir, "/srv/imgs");
	assert_string_equal(c.store_path, "/srv/bootwave.db");
}

static void test_bools(void **state)
{
	struct fx *f = *state;
	struct config c;
	static const char *const yes[] = { "true", "yes", "on", "1", "TRUE", "Yes" };
	static const char *const no[] = { "false", "no", "off", "0", "FALSE", "Off" };
	char text[128];

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		snprintf(text, sizeof(text), "[api]\nmetrics_auth = false\nmetrics_auth = %s\n", yes[i]);
		assert_int_equal(load(f, text, &c), 0);
		assert_true(c.metrics_auth);
		snprintf(text, sizeof(text), "[api]\nmetrics_auth = %s\n", no[i]);
		assert_int_equal(load(f, text, &c), 0);
		assert_false(c.metrics_auth);
	}
	assert_int_equal(load(f, "[api]\nmetrics_auth = maybe\n", &c), -EINVAL);
	assert_at_line(f, 2);
	assert_contains(f->err, "metrics_auth");
}

static void test_log_level(void **state)
{
	struct fx *f = *state;
	struct config c;

	assert_int_equal(load(f, "[daemon]\nlog_level = error\n", &c), 0);
	assert_string_equal(c.log_level, "error");
	assert_int_equal(load(f, "[daemon]\nlog_level = verbose\n", &c), -EINVAL);
	assert_at_line(f, 2);
	assert_contains(f->err, "log_level");
}

/* ---- sizes ---- */

static void test_size_suffixes(void **state)
{
	struct fx *f = *state;
	struct config c;
	static const struct {
		const char *text;
		int64_t want;
	} cases[] = {
		{ "64M", 64LL << 20 }, { "10KiB", 10240 },  { "10K", 10240 },	  { "10k", 10240 },
		{ "2MB", 2LL << 20 },  { "2MiB", 2LL << 20 }, { "4096", 4096 },	  { "1mib", 1LL << 20 },
	};
	char text[128];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(text, sizeof(text), "[api]\nmax_body = %s\n", cases[i].text);
		if (load(f, text, &c) != 0)
			fail_msg("max_body = %s refused: %s", cases[i].text, f->err);
		assert_int_equal(c.max_body, cases[i].want);
	}
	assert_int_equal(load(f, "[api]\nmax_upload = 1G\n", &c), 0);
	assert_int_equal(c.max_upload, 1LL << 30);
	assert_int_equal(load(f, "[api]\nmax_upload = 2T\n", &c), 0);
	assert_int_equal(c.max_upload, 2LL << 40);
	assert_int_equal(load(f, "[api]\nmax_upload = 1GiB\n", &c), 0);
	assert_int_equal(c.max_upload, 1LL << 30);
}

static void test_size_refused(void **state)
{
	struct fx *f = *state;
	struct config c;
	static const char *const bad[] = { "12Q", "M", "-1", "1.5G", "64MX", "64MiBs", "64 M", "", "0x10",
					   "99999999999999999999", "9999999999T" };
	char text[128];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "[api]\nmax_upload = %s\n", bad[i]);
		if (load(f, text, &c) != -EINVAL)
			fail_msg("max_upload = \"%s\" accepted", bad[i]);
		assert_at_line(f, 2);
		assert_contains(f->err, "[api] max_upload");
	}
	/* Within the syntax but out of range: the range is named. */
	assert_int_equal(load(f, "[api]\nmax_body = 65M\n", &c), -EINVAL);
	assert_contains(f->err, "out of range 1024..67108864");
	assert_int_equal(load(f, "[api]\nmax_body = 1023\n", &c), -EINVAL);
	assert_contains(f->err, "1024..");
	assert_int_equal(load(f, "[api]\nmax_body = 1K\n", &c), 0);
}

/* ---- refusals ---- */

static void test_unknown_key(void **state)
{
	struct fx *f = *state;
	struct config c, before;

	memset(&c, 0x5a, sizeof(c));
	memcpy(&before, &c, sizeof(c));
	assert_int_equal(load(f, "[api]\nthreads = 8\nbogus = 1\n", &c), -EINVAL);
	assert_at_line(f, 3);
	assert_contains(f->err, "[api] bogus");
	assert_contains(f->err, "unknown key");
	/* Outputs are written only on success. */
	assert_memory_equal(&c, &before, sizeof(c));
}

static void test_unknown_section(void **state)
{
	struct fx *f = *state;
	struct config c;

	assert_int_equal(load(f, "[daemon]\nstate_dir = /srv\n\n[nosuch]\nkey = 1\n", &c), -EINVAL);
	assert_at_line(f, 5);
	assert_contains(f->err, "[nosuch] key");
	assert_contains(f->err, "unknown section");
	/* A key of another section is unknown in this one. */
	assert_int_equal(load(f, "[daemon]\nthreads = 4\n", &c), -EINVAL);
	assert_at_line(f, 2);
	assert_contains(f->err, "[daemon] threads");
	assert_contains(f->err, "unknown key");
}

/* The first error is the one reported. */
static void test_first_error_wins(void **state)
{
	struct fx *f = *state;
	struct config c;

	assert_int_equal(load(f, "[api]\nthreads = 0\nfoo = 1\n", &c), -EINVAL);
	assert_at_line(f, 2);
	assert_contains(f->err, "threads");
	assert_null(strstr(f->err, "foo"));
}

static void test_threads_range(void **state)
{
	struct fx *f = *state;
	struct config c;

	assert_int_equal(load(f, "[api]\nthreads = 0\n", &c), -EINVAL);
	assert_at_line(f, 2);
	assert_contains(f->err, "[api] threads");
	assert_contains(f->err, "1..256");
	assert_int_equal(load(f, "[api]\n\nthreads = 1000\n", &c), -EINVAL);
	assert_at_line(f, 3);
	assert_contains(f->err, "1..256");
	assert_int_equal(load(f, "[api]\nthreads = 1\n", &c), 0);
	assert_int_equal(c.threads, 1);
	assert_int_equal(load(f, "[api]\nthreads = 256\n", &c), 0);
	assert_int_equal(c.threads, 256);
	assert_int_equal(load(f, "[api]\nthreads = 257\n", &c), -EINVAL);
	assert_int_equal(load(f, "[api]\nthreads = four\n", &c), -EINVAL);
	assert_contains(f->err, "integer");
	assert_int_equal(load(f, "[api]\nthreads = 4x\n", &c), -EINVAL);
}

static void test_bad_listen(void **state)
{
	struct fx *f = *state;
	struct config c;

	assert_int_equal(load(f, "[api]\nlisten = nocolon\n", &c), -EINVAL);
	assert_at_line(f, 2);
	assert_contains(f->err, "[api] listen");
	assert_contains(f->err, "nocolon");
	assert_int_equal(load(f, "[api]\nlisten = host:99999\n", &c), -EINVAL);
	assert_at_line(f, 2);
	assert_contains(f->err, "0-65535");
	assert_int_equal(load(f, "[api]\nlisten = [::1]:80\n", &c), 0);
	assert_string_equal(c.listen, "[::1]:80");
	assert_string_equal(c.listen_host, "::1");
	assert_int_equal(c.listen_port, 80);
}

static void test_relative_state_dir(void **state)
{
	struct fx *f = *state;
	struct config c;

	assert_int_equal(load(f, "[daemon]\nstate_dir = var/lib/bootwave\n", &c), -EINVAL);
	assert_contains(f->err, f->path);
	assert_contains(f->err, "[daemon] state_dir");
	assert_contains(f->err, "absolute");
	assert_int_equal(load(f, "[daemon]\nstate_dir =\n", &c), -EINVAL);
	assert_contains(f->err, "state_dir");
}

static void test_page_size_above_max(void **state)
{
	struct fx *f = *state;
	struct config c;

	assert_int_equal(load(f, "[api]\npage_size = 500\nmax_page_size = 200\n", &c), -EINVAL);
	assert_contains(f->err, f->path);
	assert_contains(f->err, "page_size");
	assert_contains(f->err, "max_page_size");
	assert_int_equal(load(f, "[api]\nmax_page_size = 50\n", &c), -EINVAL); /* default page_size 100 */
	assert_int_equal(load(f, "[api]\npage_size = 200\nmax_page_size = 200\n", &c), 0);
	assert_int_equal(c.page_size, 200);
}

static void test_missing_file(void **state)
{
	struct fx *f = *state;
	struct config c;
	char path[160];

	snprintf(path, sizeof(path), "%s/nosuch.conf", f->dir);
	assert_int_equal(config_load(path, &c, f->err, sizeof(f->err)), -ENOENT);
	assert_contains(f->err, path);
}

static void test_syntax_error(void **state)
{
	struct fx *f = *state;
	struct config c;

	assert_int_equal(load(f, "[daemon]\nstate_dir = /srv\n[api\n", &c), -EINVAL);
	assert_at_line(f, 3);
	assert_int_equal(load(f, "[api]\nthreads\n", &c), -EINVAL);
	assert_at_line(f, 2);
}

/* ---- config_print ---- */

static void round_trip(struct fx *f, const struct config *c)
{
	struct config again;
	char path[160], *text1 = NULL, *text2 = NULL;
	FILE *fp;

	snprintf(path, sizeof(path), "%s/printed.conf", f->dir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	config_print(c, fp);
	assert_int_equal(fclose(fp), 0);
	if (config_load(path, &again, f->err, sizeof(f->err)) != 0)
		fail_msg("config_print output refused: %s", f->err);
	assert_config_equal(&again, c);

	/* Printing what was read back gives the same text. */
	assert_int_equal(read_file(path, 1 << 20, &text1, NULL), 0);
	fp = fopen(path, "w");
	assert_non_null(fp);
	config_print(&again, fp);
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(read_file(path, 1 << 20, &text2, NULL), 0);
	assert_string_equal(text1, text2);
	free(text1);
	free(text2);
}

static void test_print_round_trip_defaults(void **state)
{
	struct fx *f = *state;
	struct config c;

	assert_int_equal(config_load(NULL, &c, f->err, sizeof(f->err)), 0);
	round_trip(f, &c);
}

static void test_print_round_trip_custom(void **state)
{
	struct fx *f = *state;
	struct config c;

	assert_int_equal(load(f,
			      "[daemon]\nstate_dir = /srv/bw\nlog_level = warn\n"
			      "[api]\nlisten = [::1]:0\nthreads = 32\nmax_body = 10KiB\nmax_upload = 3G\n"
			      "page_size = 7\nmax_page_size = 9\nmetrics_auth = off\n"
			      "[store]\npath = db/bw.db\n"
			      "[images]\ndir = /var/cache/images\n"
			      "[auth]\nkey_file = k\nadmin_token_file = /root/admin.token\n",
			      &c),
			 0);
	assert_string_equal(c.store_path, "/srv/bw/db/bw.db");
	round_trip(f, &c);
}

/* Any configuration config_load accepts must print into a file it accepts again. */
static void test_print_round_trip_long_paths(void **state)
{
	struct fx *f = *state;
	struct config c;
	char dir[200], text[400];

	/* A 180-character state_dir: its own line fits comfortably in a file. */
	snprintf(dir, sizeof(dir), "/srv/%0175d", 0);
	assert_int_equal(strlen(dir), 180);
	snprintf(text, sizeof(text), "[daemon]\nstate_dir = %s\n", dir);
	assert_int_equal(load(f, text, &c), 0);
	assert_string_equal(c.state_dir, dir);
	round_trip(f, &c);
}

/* ---- config_parse_listen ---- */

static void test_parse_listen(void **state)
{
	static const struct {
		const char *in, *host;
		int64_t port;
	} ok[] = {
		{ "0.0.0.0:8080", "0.0.0.0", 8080 },
		{ "localhost:0", "localhost", 0 },
		{ "example.com:65535", "example.com", 65535 },
		{ "[::1]:80", "::1", 80 },
		{ "[::]:8080", "::", 8080 },
		{ "[fe80::1%eth0]:8080", "fe80::1%eth0", 8080 },
	};
	static const char *const bad[] = { "nocolon", ":80",	 "host:",      "host:99999", "host:65536",
					   "host:-1", "host:80x", "::1:80",    "[::1]80",   "[::1]",
					   "[]:80",   "[::1:80", "host:port", "" };
	char host[64];
	int64_t port;
	(void)state;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		if (config_parse_listen(ok[i].in, host, sizeof(host), &port) != 0)
			fail_msg("config_parse_listen(\"%s\") refused", ok[i].in);
		assert_string_equal(host, ok[i].host);
		assert_int_equal(port, ok[i].port);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(host, sizeof(host), "untouched");
		port = 4242;
		if (config_parse_listen(bad[i], host, sizeof(host), &port) != -EINVAL)
			fail_msg("config_parse_listen(\"%s\") accepted", bad[i]);
		assert_string_equal(host, "untouched");
		assert_int_equal(port, 4242);
	}
	/* The host must fit hostsize. */
	assert_int_equal(config_parse_listen("abcdefgh:1", host, 8, &port), -EINVAL);
	assert_int_equal(config_parse_listen("abcdefg:1", host, 8, &port), 0);
	assert_string_equal(host, "abcdefg");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_defaults),
		T(test_empty_file_is_defaults),
		T(test_file_overrides),
		T(test_state_dir_after_paths),
		T(test_bools),
		T(test_log_level),
		T(test_size_suffixes),
		T(test_size_refused),
		T(test_unknown_key),
		T(test_unknown_section),
		T(test_first_error_wins),
		T(test_threads_range),
		T(test_bad_listen),
		T(test_relative_state_dir),
		T(test_page_size_above_max),
		T(test_missing_file),
		T(test_syntax_error),
		T(test_print_round_trip_defaults),
		T(test_print_round_trip_custom),
		T(test_print_round_trip_long_paths),
		T(test_parse_listen),
#undef T
	};
	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
