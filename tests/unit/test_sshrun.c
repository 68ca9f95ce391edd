// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests of server/orch/sshkey.c and server/orch/sshrun.c. The key
 * parsers as tables (keys made by ssh-keygen, and blobs built here that are
 * wrong in one way each); the appliance key against OpenSSH's ssh-keygen
 * when it is installed; then whole runs against a real dropbear started by
 * tests/tools/dropbear-sandbox on a free loopback port (its /root is a tmpfs
 * in a private mount namespace, the rest of the file system is shared, so
 * the test sees what the runs did under /var/lib/bootwave/extensions). Every
 * extension this test installs is named bwtest-PID-*, and removed at the
 * end, as is every dropbear it starts, also when a test fails. Runs as root.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "fsutil.h"
#include "sshkey.h"
#include "sshrun.h"
#include "testutil.h"
#include "util.h"

#define EXT_ROOT SSHRUN_DIR
#define STAGING SSHRUN_DIR "/.staging"

/* Keys made with ssh-keygen (OpenSSH 9.2) and their fingerprints from ssh-keygen -l. */
static const char key_ed25519[] =
	"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEnebLEjnjQ27Kch/80JFrZTba3zzKVBUIOymdXT7itw c-ed25519";
static const char fp_ed25519[] = "SHA256:+bJRAuBGM++IQnzopfouZHZ3Tv7k3Q9qOa7pOWmydKU";
static const char key_p256[] =
	"ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBFwdQPFJpCBVJle8lyBA8sy8lztcEy0DIzl/"
	"aoGyhWDtxIDpQ3f7NXZhThl9qbBUgo6rC5Bw570j1q5X+q30tMc= c-ecdsab256";
static const char fp_p256[] = "SHA256:dRK+cv9wQWDpG5EstdNfaL2clX/eEvtxmRB35KxucMU";
static const char key_p384[] =
	"ecdsa-sha2-nistp384 AAAAE2VjZHNhLXNoYTItbmlzdHAzODQAAAAIbmlzdHAzODQAAABhBFnAahP4WPfuTskzW2rEnahoN9qIjsKm6nkaZzc"
	"W/yIAJIn26rSajakRukk7pA3dtTLG5p9L7FFAN+PF7aJrlHGs7VnephII/gi0utPloGMvpmODpIKogYC8cvMKcT0i6g== c-ecdsab384";
static const char fp_p384[] = "SHA256:yrFHxkfRTNmVYk8CYiH29ckQ84Gd1DFxPAPTqX8iWY4";
static const char key_p521[] =
	"ecdsa-sha2-nistp521 AAAAE2VjZHNhLXNoYTItbmlzdHA1MjEAAAAIbmlzdHA1MjEAAACFBAE5tUYYIEzVEwNcAUIJIJxuEDjvuBOUc6sYXGT"
	"bSBlbd+CFshWJDfAFBGPEktp9uWm8Wg+iC6aiE9QMbGwUw2mFcQF/IVR2FawmzHP7r768j1oxWQae+Uw+8bVxkhpba5KT6xTbUDLLWBGp/"
	"UFByp0LAAz2fm5E2DobO0TS9mtBog8iTw== c-ecdsab521";
static const char fp_p521[] = "SHA256:2op+AnJZWg+Qv4iENSvHPbaZhFM4bN5gzrvRVBu/tRI";
static const char key_rsa1024[] =
	"ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQDIMZFXOqZuqCe298JeXnBGYYsxagvn/ZcPJ3BQDZiRv5xaet6b6FsmH8NlnR1q2Uc+/"
	"OHCQXaGEr4T1sU1ksXdAyXW1F21hPZqaCge8xR9La0wErSS+7wWQIRiMF+6oowsQDEaieeBFGlBxxoGvDqj9S+aGucyt4gl9cJPNIUniQ== "
	"c-rsab1024";
static const char fp_rsa1024[] = "SHA256:N3jbnDasweE+WhfmN2bVXLyULMI62Sj17uHy9ysgey8";
static const char key_rsa2048[] =
	"ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQDAMLli5+KpafglUEqka6ZGlJo751t20PwlbjKoX4R8bodbiMkOjSmY8V9+E6U/"
	"OPcNU+NkdIeTgScuLuD63YLPExkoTbgMGqu/BmurtVHTyaV/Tmu9bkvWHzxWW82HpGeU2FbpKr1FavUq73CSQmxeB/zIFKdNlkMEgsmVBxyTm"
	"AurAzFosz/s9DwvxTTC6sO9k40GVXDZH7g5lm8z7JIwRKJ2f0PZ9fErbHPD3AeMzSE411Or6akO4qG1OqK5wP8K2rsdg5tiFtEdR8uicX0sl/"
	"97/lNECvlFI9evL4QRdlRI8ICEwHaz6ItvEyg1a0Up3RIop5cXzK1+yTYj4YFh c-rsab2048";
static const char fp_rsa2048[] = "SHA256:ygKMTTVYiJgf9DMstpDEtq+zeZGJn0m9wbEXuBHWjG4";
static const char key_dsa[] =
	"ssh-dss AAAAB3NzaC1kc3MAAACBAIItHx0giMkQ4YSsR/ozcfz8lW9JalJGwGLed/oAfZVcBkW0b4bxxADP6N/NZXtITA0gRr7gGHjlG1MZsSp"
	"SKf0qqf8ekhBZRjZk8OXWkjafe3dKgSNu6AmgATH1r0LoEBltp1jKFWkKbYggMLq4wHxMGmhWZvzQIkFwO9eLstF7AAAAFQCIPLtqmqA1NHuBX"
	"cftJw6qSgoVJQAAAIAv7IztFOliVGMOZijg3dgru7dX4N30mzFF+5pO+ATOdQnuOOoAPwI8yd+6kHjFcB0Ck/5CkcM9qV9rLfcDhPuI6+yWm9A"
	"I+kNlPn6NAsJdsbG2cx1JhDJO4TTt4d9r3kgVxTYT8xrYOauRwfsx1aUf6lSh8Yl1MMutbVNgQma5WgAAAIATRxFzOp8jMSkGb8xp9Kkr+Xcgc"
	"IfOfTBNMeQlFICFMWMYD1Qn74tf6yV4aXsHm7bYKmFlOnp/aLmQHK2zKxPuV51jfDc2QVmWyWGS0ryLEqr8JZbtZES0e4dnwOVh/eqtAgFJ4OUa"
	"UnfmXMFd+8w3DHsZleyijG4pqNUqQAj1Ag== c-dsa";

/* ---- fixture: a directory, the appliance key, one dropbear ---- */

struct sandbox {
	pid_t pid;
	uint16_t port;
	char dir[160];
	char ed25519[512]; /* its host keys' public lines */
	char ecdsa[512];
};

#define MAX_SANDBOXES 4

static struct {
	char dir[64];
	char path[128];
	char key_dir[160];
	char pub[256];  /* the appliance key's line */
	char prefix[32]; /* bwtest-PID */
	char script[PATH_MAX];
	struct sandbox main;
	struct sandbox *started[MAX_SANDBOXES];
} fx;

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A loopback port nobody listens on right now. */
static uint16_t free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	close(fd);
	return ntohs(sa.sin_port);
}

/* A socket listening on a free loopback port that never accepts; *ret_port is its port. */
static int listener(uint16_t *ret_port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 8), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	*ret_port = ntohs(sa.sin_port);
	return fd;
}

static bool can_connect(uint16_t port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;

	if (fd >= 0)
		close(fd);
	return ok;
}

static void read_line(const char *path, char *out, size_t size)
{
	char *text = NULL;
	size_t len = 0;

	if (read_file(path, 4096, &text, &len) < 0)
		fail_msg("cannot read %s", path);
	text[strcspn(text, "\n")] = '\0';
	assert_int_equal(str_copy(out, size, text), 0);
	free(text);
}

static void sandbox_log(const struct sandbox *sb)
{
	char path[256], *text = NULL;
	size_t len;

	snprintf(path, sizeof(path), "%s/log", sb->dir);
	if (read_file(path, 1 << 20, &text, &len) == 0)
		print_message("dropbear log (%s):\n%s\n", sb->dir, text);
	free(text);
}

/* Starts dropbear-sandbox in fx.dir/NAME letting authorized log in, and waits until it accepts. */
static void sandbox_start(struct sandbox *sb, const char *name, const char *authorized)
{
	char port[8], path[256];
	int64_t until;
	size_t slot;

	memset(sb, 0, sizeof(*sb));
	snprintf(sb->dir, sizeof(sb->dir), "%s/%s", fx.dir, name);
	assert_int_equal(mkdir_p(sb->dir, 0700), 0);
	sb->port = free_port();
	snprintf(port, sizeof(port), "%u", sb->port);
	for (slot = 0; slot < MAX_SANDBOXES && fx.started[slot]; slot++)
		;
	assert_true(slot < MAX_SANDBOXES);

	sb->pid = fork();
	assert_true(sb->pid >= 0);
	if (sb->pid == 0) {
		int fd;
		/* Dies with the test, also when an assertion aborts it (ASan's abort_on_error). */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		snprintf(path, sizeof(path), "%s/log", sb->dir);
		fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execl(fx.script, fx.script, sb->dir, port, authorized, (char *)NULL);
		_exit(127);
	}
	fx.started[slot] = sb; /* teardown kills it whatever happens next */

	until = mono_ms() + 10000;
	while (!can_connect(sb->port)) {
		int status;
		if (waitpid(sb->pid, &status, WNOHANG) == sb->pid) {
			sb->pid = 0;
			sandbox_log(sb);
			fail_msg("dropbear-sandbox exited (status %d)", status);
		}
		if (mono_ms() > until) {
			sandbox_log(sb);
			fail_msg("dropbear did not listen on port %u within 10 s", sb->port);
		}
		usleep(20000);
	}
	snprintf(path, sizeof(path), "%s/host_key.pub", sb->dir);
	read_line(path, sb->ed25519, sizeof(sb->ed25519));
	snprintf(path, sizeof(path), "%s/host_key_ecdsa.pub", sb->dir);
	read_line(path, sb->ecdsa, sizeof(sb->ecdsa));
}

static void sandbox_stop(struct sandbox *sb)
{
	if (sb->pid > 0) {
		kill(sb->pid, SIGTERM);
		waitpid(sb->pid, NULL, 0);
		sb->pid = 0;
	}
	for (size_t i = 0; i < MAX_SANDBOXES; i++)
		if (fx.started[i] == sb)
			fx.started[i] = NULL;
}

/* Removes every extension directory this test made (named fx.prefix*). */
static void ext_cleanup(void)
{
	const char *dirs[] = { EXT_ROOT, STAGING };

	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		DIR *d = opendir(dirs[i]);
		struct dirent *de;
		char path[512];

		if (!d)
			continue;
		while ((de = readdir(d)))
			if (strncmp(de->d_name, fx.prefix, strlen(fx.prefix)) == 0) {
				snprintf(path, sizeof(path), "%s/%s", dirs[i], de->d_name);
				rm_rf(path);
			}
		closedir(d);
	}
}

static int group_setup(void **state)
{
	char exe[PATH_MAX];
	ssize_t n;
	(void)state;

	memset(&fx, 0, sizeof(fx));
	snprintf(fx.prefix, sizeof(fx.prefix), "bwtest-%d", (int)getpid());
	if (test_dir_make("sshrun", "x", fx.dir, fx.path) < 0)
		return -1;
	/* The sandbox script: from the repository root (where make runs the tests), else beside the build tree. */
	snprintf(fx.script, sizeof(fx.script), "tests/tools/dropbear-sandbox");
	if (access(fx.script, X_OK) < 0 && (n = readlink("/proc/self/exe", exe, sizeof(exe) - 1)) > 0) {
		exe[n] = '\0'; /* .../build/VARIANT/tests/test_sshrun */
		snprintf(fx.script, sizeof(fx.script), "%s/../../../tests/tools/dropbear-sandbox", dirname(exe));
	}
	if (access(fx.script, X_OK) < 0) {
		print_error("cannot find tests/tools/dropbear-sandbox\n");
		return -1;
	}
	snprintf(fx.key_dir, sizeof(fx.key_dir), "%s/appliance", fx.dir);
	if (sshkey_ensure(fx.key_dir, fx.pub, sizeof(fx.pub)) < 0)
		return -1;
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	for (size_t i = 0; i < MAX_SANDBOXES; i++)
		if (fx.started[i])
			sandbox_stop(fx.started[i]);
	/* Only ours: other tests on this machine may be using the directories around them. */
	ext_cleanup();
	rm_rf(fx.dir);
	return 0;
}

/* Every run test: the main dropbear up (started once, restarted if a test killed it). */
static int run_setup(void **state)
{
	(void)state;
	if (fx.main.pid <= 0)
		sandbox_start(&fx.main, "main", fx.pub);
	return 0;
}

static int run_teardown(void **state)
{
	(void)state;
	for (size_t i = 0; i < MAX_SANDBOXES; i++)
		if (fx.started[i] && fx.started[i] != &fx.main)
			sandbox_stop(fx.started[i]);
	ext_cleanup();
	return 0;
}

/* ---- bundles ---- */

struct tar_file {
	const char *path;
	const char *data;
	int mode;
	int uid;
};

/* An uncompressed ustar archive of files, in a buffer the caller frees. */
static void *make_tar(const struct tar_file *files, size_t n, size_t *ret_len)
{
	size_t cap = 1 << 20, used = 0;
	void *buf = malloc(cap);
	struct archive *a = archive_write_new();

	assert_non_null(buf);
	assert_non_null(a);
	assert_int_equal(archive_write_set_format_ustar(a), ARCHIVE_OK);
	assert_int_equal(archive_write_add_filter_none(a), ARCHIVE_OK);
	assert_int_equal(archive_write_open_memory(a, buf, cap, &used), ARCHIVE_OK);
	for (size_t i = 0; i < n; i++) {
		struct archive_entry *e = archive_entry_new();
		size_t len = strlen(files[i].data);
		archive_entry_set_pathname(e, files[i].path);
		archive_entry_set_filetype(e, AE_IFREG);
		archive_entry_set_perm(e, files[i].mode ? files[i].mode : 0644);
		archive_entry_set_uid(e, files[i].uid);
		archive_entry_set_gid(e, files[i].uid);
		archive_entry_set_size(e, (la_int64_t)len);
		archive_entry_set_mtime(e, 1700000000, 0);
		assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
		assert_int_equal(archive_write_data(a, files[i].data, len), (la_ssize_t)len);
		archive_entry_free(e);
	}
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
	*ret_len = used;
	return buf;
}

/* A bundle of one executable "run" script. */
static void *script_bundle(const char *script, size_t *ret_len)
{
	struct tar_file f = { "run", script, 0755, 0 };
	return make_tar(&f, 1, ret_len);
}

static void ext_name(char *out, size_t size, const char *what)
{
	snprintf(out, size, "%s-%s", fx.prefix, what);
}

/* A request against the main dropbear; the caller sets name and bundle. */
static struct sshrun_req base_req(void)
{
	return (struct sshrun_req){
		.host = "127.0.0.1",
		.port = fx.main.port,
		.user = "root",
		.host_key = fx.main.ed25519,
		.key_dir = fx.key_dir,
		.version = "1.0.0",
		.entry = "run",
		.settings = "{\"a\":1}",
		.timeout_s = 30,
		.output_cap = 65536,
	};
}

static bool exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

static char *slurp(const char *path)
{
	char *text = NULL;
	size_t len;
	if (read_file(path, 1 << 20, &text, &len) < 0)
		fail_msg("cannot read %s", path);
	return text;
}

static void fp_of(const char *line, char fp[SSHKEY_FP_SIZE])
{
	char type[SSHKEY_TYPE_MAX];
	uint8_t blob[SSHKEY_BLOB_MAX];
	size_t len;

	assert_int_equal(sshkey_parse_public(line, type, sizeof(type), blob, sizeof(blob), &len), 0);
	sshkey_fingerprint(blob, len, fp);
}

/* Whether a process runs with exactly this command line (argv joined by NULs). */
static bool process_running(const char *argv0, const char *argv1)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	char want[64];
	size_t want_len;
	bool found = false;

	assert_non_null(d);
	want_len = (size_t)snprintf(want, sizeof(want), "%s%c%s", argv0, '\0', argv1) + 1;
	while (!found && (de = readdir(d))) {
		char path[300], buf[64];
		ssize_t n;
		int fd;
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/cmdline", de->d_name);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
			continue;
		n = read(fd, buf, sizeof(buf));
		close(fd);
		found = n == (ssize_t)want_len && memcmp(buf, want, want_len) == 0;
	}
	closedir(d);
	return found;
}

/* ---- sshkey: parsing ---- */

static void parse_ok(const char *line, const char *type, size_t blob_len, const char *fp)
{
	char t[SSHKEY_TYPE_MAX], f[SSHKEY_FP_SIZE];
	uint8_t blob[SSHKEY_BLOB_MAX];
	size_t len = 0;
	int r = sshkey_parse_public(line, t, sizeof(t), blob, sizeof(blob), &len);

	if (r != 0)
		fail_msg("sshkey_parse_public(%.60s) = %d", line, r);
	assert_string_equal(t, type);
	assert_int_equal(len, blob_len);
	sshkey_fingerprint(blob, len, f);
	assert_string_equal(f, fp);
}

static void parse_bad(const char *line)
{
	char t[SSHKEY_TYPE_MAX] = "untouched";
	uint8_t blob[SSHKEY_BLOB_MAX];
	size_t len = 12345;
	/* An exact-size heap copy, so that ASan sees a read past the NUL. */
	const char *in = line ? (const char *)heap_copy((const uint8_t *)line, strlen(line) + 1) : NULL;
	int r = sshkey_parse_public(in, t, sizeof(t), blob, sizeof(blob), &len);

	if (r != -EINVAL)
		fail_msg("sshkey_parse_public(%.60s) = %d, expected -EINVAL", line ? line : "NULL", r);
	assert_string_equal(t, "untouched");
	assert_int_equal(len, 12345);
}

/* A key line of type over a blob built from the parts (SSH strings unless raw). */
struct part {
	const void *p;
	size_t n;
	bool raw;
};

static void blob_line(const char *type, const struct part *parts, size_t n, char *out, size_t size)
{
	uint8_t blob[8192];
	size_t len = 0;

	for (size_t i = 0; i < n; i++) {
		if (!parts[i].raw) {
			blob[len++] = (uint8_t)(parts[i].n >> 24);
			blob[len++] = (uint8_t)(parts[i].n >> 16);
			blob[len++] = (uint8_t)(parts[i].n >> 8);
			blob[len++] = (uint8_t)parts[i].n;
		}
		memcpy(blob + len, parts[i].p, parts[i].n);
		len += parts[i].n;
	}
	assert_int_equal(sshkey_format_public(type, blob, len, NULL, out, size), 0);
}

#define S(str) { str, sizeof(str) - 1, false }

static void test_parse_public(void **state)
{
	char line[12000], t[SSHKEY_TYPE_MAX];
	uint8_t k32[32] = { 1, 2, 3 }, p256[65] = { 4 }, p384[97] = { 4 }, n512[65] = { 0 }, n1024[129] = { 0 },
		blob[SSHKEY_BLOB_MAX], big[SSHKEY_LINE_MAX + 2];
	size_t len;
	(void)state;

	parse_ok(key_ed25519, "ssh-ed25519", 51, fp_ed25519);
	parse_ok(key_p256, "ecdsa-sha2-nistp256", 104, fp_p256);
	parse_ok(key_p384, "ecdsa-sha2-nistp384", 136, fp_p384);
	parse_ok(key_p521, "ecdsa-sha2-nistp521", 172, fp_p521);
	parse_ok(key_rsa1024, "ssh-rsa", 151, fp_rsa1024);
	parse_ok(key_rsa2048, "ssh-rsa", 279, fp_rsa2048);
	/* Blanks around, a newline at the end, no comment, a comment with blanks. */
	snprintf(line, sizeof(line), " \t%s\n", key_ed25519);
	parse_ok(line, "ssh-ed25519", 51, fp_ed25519);
	snprintf(line, sizeof(line), "%.80s", key_ed25519); /* type, blank, 68 digits */
	parse_ok(line, "ssh-ed25519", 51, fp_ed25519);
	snprintf(line, sizeof(line), "%.80s  \tsome comment with  blanks", key_ed25519);
	parse_ok(line, "ssh-ed25519", 51, fp_ed25519);

	parse_bad(NULL);
	parse_bad("");
	parse_bad("\n");
	parse_bad("ssh-ed25519");
	parse_bad("ssh-ed25519 ");
	parse_bad(key_dsa);                             /* not accepted */
	parse_bad(key_ed25519 + 1);                     /* "sh-ed25519 ..." */
	snprintf(line, sizeof(line), "ssh-rsa %s", key_ed25519 + 12); /* type says RSA, blob says Ed25519 */
	parse_bad(line);
	snprintf(line, sizeof(line), "ecdsa-sha2-nistp384 %s", key_p256 + 20); /* curve differs */
	parse_bad(line);
	snprintf(line, sizeof(line), "%.79s", key_ed25519); /* one digit short */
	parse_bad(line);
	snprintf(line, sizeof(line), "%.76s", key_ed25519); /* 64 digits: the blob cut short */
	parse_bad(line);
	snprintf(line, sizeof(line), "%.79s=", key_ed25519); /* a pad where a digit belongs */
	parse_bad(line);
	snprintf(line, sizeof(line), "%.40s*%s", key_ed25519, key_ed25519 + 41); /* not base64 */
	parse_bad(line);
	snprintf(line, sizeof(line), "%s\nssh-ed25519 x", key_ed25519); /* two lines */
	parse_bad(line);
	snprintf(line, sizeof(line), "%.60s\r%s", key_ed25519, key_ed25519 + 61); /* a control byte */
	parse_bad(line);
	/* Base64 must be canonical: the last digit of the P-256 line is "c" ("cz" .. ): flip unused bits. */
	snprintf(line, sizeof(line), "%.152sd=", key_p256);
	parse_bad(line);

	/* Blobs wrong in one way each. */
	blob_line("ssh-ed25519", (struct part[]){ S("ssh-ed25519"), { k32, 32, false } }, 2, line, sizeof(line));
	assert_int_equal(sshkey_parse_public(line, t, sizeof(t), blob, sizeof(blob), &len), 0);
	assert_int_equal(len, 51);
	blob_line("ssh-ed25519", (struct part[]){ S("ssh-ed25519"), { k32, 31, false } }, 2, line, sizeof(line));
	parse_bad(line);
	blob_line("ssh-ed25519", (struct part[]){ S("ssh-ed25519"), { k32, 32, false }, { "x", 1, true } }, 3, line,
		  sizeof(line));
	parse_bad(line); /* a byte after the key */
	blob_line("ssh-ed25519", (struct part[]){ S("ssh-ed25519"), { k32, 3, true } }, 2, line, sizeof(line));
	parse_bad(line); /* a length that runs past the end */
	blob_line("ssh-ed25519", (struct part[]){ S("ssh-ed25519X") }, 1, line, sizeof(line));
	parse_bad(line);
	blob_line("ecdsa-sha2-nistp256", (struct part[]){ S("ecdsa-sha2-nistp256"), S("nistp256"), { p256, 65, false } },
		  3, line, sizeof(line));
	assert_int_equal(sshkey_parse_public(line, t, sizeof(t), blob, sizeof(blob), &len), 0);
	p256[0] = 2; /* compressed points are not SSH's */
	blob_line("ecdsa-sha2-nistp256", (struct part[]){ S("ecdsa-sha2-nistp256"), S("nistp256"), { p256, 65, false } },
		  3, line, sizeof(line));
	parse_bad(line);
	blob_line("ecdsa-sha2-nistp384", (struct part[]){ S("ecdsa-sha2-nistp384"), S("nistp384"), { p384, 65, false } },
		  3, line, sizeof(line));
	parse_bad(line); /* a P-256 sized point */
	/* RSA: e = 65537, n of 512 and 1024 bits (top bit set, so with a leading zero byte). */
	n512[1] = 0xc1;
	n1024[1] = 0xc1;
	blob_line("ssh-rsa", (struct part[]){ S("ssh-rsa"), S("\x01\x00\x01"), { n512, 65, false } }, 3, line,
		  sizeof(line));
	parse_bad(line); /* too small */
	blob_line("ssh-rsa", (struct part[]){ S("ssh-rsa"), S("\x01\x00\x01"), { n1024, 129, false } }, 3, line,
		  sizeof(line));
	assert_int_equal(sshkey_parse_public(line, t, sizeof(t), blob, sizeof(blob), &len), 0);
	blob_line("ssh-rsa", (struct part[]){ S("ssh-rsa"), S("\x01\x00\x01"), { n1024 + 1, 128, false } }, 3, line,
		  sizeof(line));
	parse_bad(line); /* negative: the top bit set without a leading zero */
	blob_line("ssh-rsa", (struct part[]){ S("ssh-rsa"), S("\x00\x01\x00\x01"), { n1024, 129, false } }, 3, line,
		  sizeof(line));
	parse_bad(line); /* e with a leading zero it does not need */
	blob_line("ssh-rsa", (struct part[]){ S("ssh-rsa"), { "", 0, false }, { n1024, 129, false } }, 3, line,
		  sizeof(line));
	parse_bad(line); /* e = 0 */

	/* Buffers one short: refused whole. */
	assert_int_equal(sshkey_parse_public(key_ed25519, t, sizeof(t), blob, 50, &len), -ENOBUFS);
	assert_int_equal(sshkey_parse_public(key_ed25519, t, 11, blob, sizeof(blob), &len), -ENOBUFS);
	assert_int_equal(sshkey_parse_public(key_ed25519, t, 12, blob, 51, &len), 0);

	/* Longer than SSHKEY_LINE_MAX: refused before anything is read. */
	memset(big, 'A', sizeof(big));
	memcpy(big, "ssh-rsa ", 8);
	big[sizeof(big) - 1] = '\0';
	parse_bad((const char *)big);
}

static void test_format_fingerprint(void **state)
{
	char type[SSHKEY_TYPE_MAX], line[1024], fp[SSHKEY_FP_SIZE];
	uint8_t blob[SSHKEY_BLOB_MAX];
	size_t len;
	(void)state;

	assert_int_equal(sshkey_parse_public(key_p521, type, sizeof(type), blob, sizeof(blob), &len), 0);
	assert_int_equal(sshkey_format_public(type, blob, len, "c-ecdsab521", line, sizeof(line)), 0);
	assert_string_equal(line, key_p521);
	assert_int_equal(sshkey_format_public(type, blob, len, NULL, line, strlen(key_p521) - 11), 0);
	assert_int_equal(sshkey_format_public(type, blob, len, NULL, line, strlen(key_p521) - 12), -ENOBUFS);
	assert_int_equal(sshkey_format_public(type, blob, len, "c-ecdsab521", line, strlen(key_p521)), -ENOBUFS);
	/* The fingerprint of nothing, as OpenSSH would print it. */
	sshkey_fingerprint((const uint8_t *)"", 0, fp);
	assert_string_equal(fp, "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU");
}

/* ---- sshkey: the appliance key ---- */

struct ensure_job {
	const char *dir;
	char pub[256];
	int r;
};

static void *ensure_thread(void *arg)
{
	struct ensure_job *j = arg;
	j->r = sshkey_ensure(j->dir, j->pub, sizeof(j->pub));
	return NULL;
}

static void test_appliance_key(void **state)
{
	char dir[256], path[300], pub[256], again[300], cmd[600], *text, *priv = NULL;
	struct ensure_job jobs[4];
	pthread_t th[4];
	struct stat st;
	size_t len = 0;
	FILE *p;
	(void)state;

	/* Made by several threads at once: one key, the same line for all. */
	snprintf(dir, sizeof(dir), "%s/key-race/sub", fx.dir);
	for (size_t i = 0; i < ARRAY_SIZE(jobs); i++) {
		jobs[i] = (struct ensure_job){ .dir = dir };
		assert_int_equal(pthread_create(&th[i], NULL, ensure_thread, &jobs[i]), 0);
	}
	for (size_t i = 0; i < ARRAY_SIZE(jobs); i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(jobs[i].r, 0);
		assert_string_equal(jobs[i].pub, jobs[0].pub);
	}
	memcpy(pub, jobs[0].pub, sizeof(pub));
	assert_int_equal(strncmp(pub, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI", 37), 0);
	assert_int_equal(strlen(pub), strlen("ssh-ed25519 ") + 68 + strlen(" bootwave@appliance"));
	assert_string_equal(pub + strlen(pub) - 19, " bootwave@appliance");
	{
		char type[SSHKEY_TYPE_MAX];
		uint8_t blob[SSHKEY_BLOB_MAX];
		size_t blob_len;
		assert_int_equal(sshkey_parse_public(pub, type, sizeof(type), blob, sizeof(blob), &blob_len), 0);
		assert_string_equal(type, "ssh-ed25519");
	}

	snprintf(path, sizeof(path), "%s/ssh_ed25519", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	text = slurp(path);
	assert_int_equal(strncmp(text, "-----BEGIN OPENSSH PRIVATE KEY-----\n", 36), 0);
	assert_non_null(strstr(text, "\n-----END OPENSSH PRIVATE KEY-----\n"));
	free(text);
	snprintf(path, sizeof(path), "%s/ssh_ed25519.pub", dir);
	text = slurp(path);
	snprintf(again, sizeof(again), "%s\n", pub);
	assert_string_equal(text, again);
	free(text);
	/* No temporary file left behind. */
	{
		DIR *d = opendir(dir);
		struct dirent *de;
		size_t n = 0;
		assert_non_null(d);
		while ((de = readdir(d)))
			if (de->d_name[0] != '.')
				n++;
		closedir(d);
		assert_int_equal(n, 2);
	}

	/* Loaded again, the same; the .pub file rewritten when gone or wrong. */
	assert_int_equal(sshkey_ensure(dir, again, sizeof(again)), 0);
	assert_string_equal(again, pub);
	unlink(path);
	assert_int_equal(sshkey_ensure(dir, again, sizeof(again)), 0);
	assert_string_equal(again, pub);
	assert_true(exists(path));
	assert_int_equal(write_file_atomic(path, "ssh-ed25519 AAAA other\n", 23, 0644), 0);
	assert_int_equal(sshkey_ensure(dir, again, sizeof(again)), 0);
	text = slurp(path);
	assert_int_equal(strncmp(text, pub, strlen(pub)), 0);
	free(text);
	assert_int_equal(sshkey_ensure(dir, again, 20), -ENOBUFS);

	assert_int_equal(sshkey_load(dir, &priv, &len, again, sizeof(again)), 0);
	assert_string_equal(again, pub);
	assert_int_equal(len, strlen(priv));
	free(priv);

	/* OpenSSH reads the private key and derives the same public key. */
	if (system("command -v ssh-keygen >/dev/null 2>&1") == 0) {
		snprintf(cmd, sizeof(cmd), "ssh-keygen -y -f %s/ssh_ed25519", dir);
		p = popen(cmd, "r");
		assert_non_null(p);
		assert_non_null(fgets(again, sizeof(again), p));
		assert_int_equal(pclose(p), 0);
		/* ssh-keygen prints the comment stored in the private key too. */
		again[strcspn(again, "\n")] = '\0';
		assert_string_equal(again, pub);
		/* And a key an operator made with ssh-keygen is taken as it is. */
		snprintf(cmd, sizeof(cmd), "mkdir %s/own && ssh-keygen -q -t ed25519 -N '' -C x -f %s/own/ssh_ed25519",
			 fx.dir, fx.dir);
		assert_int_equal(system(cmd), 0);
		snprintf(path, sizeof(path), "%s/own", fx.dir);
		assert_int_equal(sshkey_ensure(path, again, sizeof(again)), 0);
		snprintf(path, sizeof(path), "%s/own/ssh_ed25519.pub", fx.dir);
		text = slurp(path); /* ssh-keygen's line, now with the appliance's comment */
		assert_int_equal(strncmp(text, again, strlen(again) - strlen(SSHKEY_COMMENT)), 0);
		free(text);
	} else {
		print_message("ssh-keygen not installed: the key format is checked against dropbear only\n");
	}

	/* Not a key this module wrote: refused, not replaced. */
	snprintf(path, sizeof(path), "%s/ssh_ed25519", dir);
	text = slurp(path);
	text[100] ^= 1;
	assert_int_equal(write_file_atomic(path, text, strlen(text), 0600), 0);
	assert_int_equal(sshkey_ensure(dir, again, sizeof(again)), -EBADMSG);
	assert_int_equal(sshkey_load(dir, &priv, &len, again, sizeof(again)), -EBADMSG);
	free(text);
	snprintf(path, sizeof(path), "%s/none", fx.dir);
	assert_int_equal(sshkey_load(path, &priv, &len, again, sizeof(again)), -ENOENT);
}

/* ---- runs ---- */

static const char ok_script[] = "#!/bin/sh\n"
				"set -e\n"
				"printf 'settings=%s\\n' \"$(cat \"$BW_SETTINGS\")\"\n"
				"printf 'ext=%s ver=%s\\n' \"$BW_EXTENSION\" \"$BW_VERSION\"\n"
				"printf 'greeting=%s\\n' \"$GREETING\"\n"
				"printf 'pwd=%s\\n' \"$(pwd)\"\n"
				"cat data.txt\n"
				"echo ran >\"$MARK\"\n";

static void test_run_ok(void **state)
{
	static const char greeting[] = "it's \"quoted\" $HOME `id` \\ ; exit 9\nline two";
	/* data.txt says it belongs to uid 1234: on the node it must be root's. */
	struct tar_file v1[] = { { "run", ok_script, 0755, 0 }, { "data.txt", "data of v1\n", 0, 1234 } };
	struct tar_file v2[] = { { "run", "#!/bin/sh\necho v2; cat new.txt\n", 0755, 0 }, { "new.txt", "new\n", 0, 0 } };
	char name[64], mark[256], env_greeting[256], env_mark[300], want[1024], path[512], fp[SSHKEY_FP_SIZE], *text;
	const char *env[] = { env_greeting, env_mark, NULL };
	struct sshrun_req q = base_req();
	struct sshrun_result res;
	struct stat st;
	void *bundle;
	size_t len;
	int r;
	(void)state;

	ext_name(name, sizeof(name), "ok");
	snprintf(mark, sizeof(mark), "%s/mark-ok", fx.dir);
	snprintf(env_greeting, sizeof(env_greeting), "GREETING=%s", greeting);
	snprintf(env_mark, sizeof(env_mark), "MARK=%s", mark);
	bundle = make_tar(v1, ARRAY_SIZE(v1), &len);
	q.name = name;
	q.bundle = bundle;
	q.bundle_len = len;
	q.env = env;
	/* The server has an ECDSA and an Ed25519 key: pinning Ed25519 must get Ed25519. */
	r = sshrun_run(&q, &res);
	if (r != 0)
		fail_msg("sshrun_run = %d: %s (stderr: %s)", r, res.error, res.err ? res.err : "");
	assert_int_equal(res.stage, SR_DONE);
	assert_int_equal(res.exit_status, 0);
	assert_string_equal(res.exit_signal, "");
	assert_false(res.timed_out);
	assert_false(res.host_key_mismatch);
	assert_string_equal(res.error, "");
	fp_of(fx.main.ed25519, fp);
	assert_string_equal(res.seen_key_fp, fp);
	snprintf(want, sizeof(want), "settings={\"a\":1}\next=%s ver=1.0.0\ngreeting=%s\npwd=%s/%s\ndata of v1\n", name,
		 greeting, EXT_ROOT, name);
	assert_string_equal(res.out, want);
	assert_int_equal(res.out_len, strlen(want));
	assert_int_equal(res.out_total, strlen(want));
	assert_string_equal(res.err, "");
	assert_int_equal(res.err_len, 0);
	sshrun_result_free(&res);
	sshrun_result_free(&res); /* twice is fine */

	/* What the node has: the script ran, the files are in D, nothing is left in staging. */
	text = slurp(mark);
	assert_string_equal(text, "ran\n");
	free(text);
	snprintf(path, sizeof(path), "%s/%s/data.txt", EXT_ROOT, name);
	text = slurp(path);
	assert_string_equal(text, "data of v1\n");
	free(text);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_uid, 0);
	assert_int_equal(st.st_gid, 0);
	snprintf(path, sizeof(path), "%s/%s/settings.json", EXT_ROOT, name);
	text = slurp(path);
	assert_string_equal(text, "{\"a\":1}");
	free(text);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 077, 0);
	snprintf(path, sizeof(path), "%s/%s", STAGING, name);
	assert_false(exists(path));
	free(bundle);

	/* The next version replaces the files of the previous one; settings default to {}. */
	bundle = make_tar(v2, ARRAY_SIZE(v2), &len);
	q.bundle = bundle;
	q.bundle_len = len;
	q.settings = NULL;
	q.version = "2.0";
	q.env = NULL;
	r = sshrun_run(&q, &res);
	if (r != 0)
		fail_msg("sshrun_run = %d: %s", r, res.error);
	assert_string_equal(res.out, "v2\nnew\n");
	sshrun_result_free(&res);
	snprintf(path, sizeof(path), "%s/%s/data.txt", EXT_ROOT, name);
	assert_false(exists(path));
	snprintf(path, sizeof(path), "%s/%s/new.txt", EXT_ROOT, name);
	assert_true(exists(path));
	snprintf(path, sizeof(path), "%s/%s/settings.json", EXT_ROOT, name);
	text = slurp(path);
	assert_string_equal(text, "{}");
	free(text);
	free(bundle);
}

/* Pinning the node's other key (ECDSA) works too: the preference follows the pin. */
static void test_run_ecdsa_pin(void **state)
{
	char name[64], fp[SSHKEY_FP_SIZE];
	struct sshrun_req q = base_req();
	struct sshrun_result res;
	size_t len;
	void *bundle = script_bundle("#!/bin/sh\necho hi\n", &len);
	int r;
	(void)state;

	ext_name(name, sizeof(name), "ecdsa");
	q.name = name;
	q.bundle = bundle;
	q.bundle_len = len;
	q.host_key = fx.main.ecdsa;
	r = sshrun_run(&q, &res);
	if (r != 0)
		fail_msg("sshrun_run = %d: %s", r, res.error);
	fp_of(fx.main.ecdsa, fp);
	assert_string_equal(res.seen_key_fp, fp);
	assert_string_equal(res.out, "hi\n");
	sshrun_result_free(&res);
	free(bundle);
}

static void test_run_fails(void **state)
{
	char name[64], want[128];
	struct sshrun_req q = base_req();
	struct sshrun_result res;
	size_t len;
	void *bundle = script_bundle("#!/bin/sh\necho out\necho 'went wrong' >&2\nexit 3\n", &len);
	int r;
	(void)state;

	ext_name(name, sizeof(name), "fails");
	q.name = name;
	q.bundle = bundle;
	q.bundle_len = len;
	r = sshrun_run(&q, &res);
	assert_int_equal(r, -EREMOTEIO);
	assert_int_equal(res.stage, SR_DONE);
	assert_int_equal(res.exit_status, 3);
	assert_false(res.timed_out);
	assert_string_equal(res.out, "out\n");
	assert_string_equal(res.err, "went wrong\n");
	assert_int_equal(res.err_total, 11);
	snprintf(want, sizeof(want), "127.0.0.1:%u: run exited with status 3", fx.main.port);
	assert_string_equal(res.error, want);
	sshrun_result_free(&res);

	/* Killed by a signal: no status, the signal named. */
	free(bundle);
	bundle = script_bundle("#!/bin/sh\nkill -TERM $$\n", &len);
	q.bundle = bundle;
	q.bundle_len = len;
	r = sshrun_run(&q, &res);
	assert_int_equal(r, -EREMOTEIO);
	assert_int_equal(res.stage, SR_DONE);
	assert_int_equal(res.exit_status, -1);
	assert_string_equal(res.exit_signal, "TERM");
	snprintf(want, sizeof(want), "127.0.0.1:%u: run was killed by signal TERM", fx.main.port);
	assert_string_equal(res.error, want);
	sshrun_result_free(&res);
	free(bundle);
}

/* An upload that fails leaves the installed version alone. */
static void test_upload_fails(void **state)
{
	char name[64], path[512], *text;
	struct sshrun_req q = base_req();
	struct sshrun_result res;
	size_t len;
	void *bundle = script_bundle("#!/bin/sh\necho installed\n", &len);
	int r;
	(void)state;

	ext_name(name, sizeof(name), "upload");
	q.name = name;
	q.bundle = bundle;
	q.bundle_len = len;
	assert_int_equal(sshrun_run(&q, &res), 0);
	sshrun_result_free(&res);

	q.bundle = "this is not a tar archive, not at all, really not";
	q.bundle_len = strlen(q.bundle);
	r = sshrun_run(&q, &res);
	assert_int_equal(r, -EIO);
	assert_int_equal(res.stage, SR_UPLOAD);
	assert_int_equal(res.exit_status, -1);
	assert_non_null(strstr(res.error, ": upload: tar exited with status "));
	sshrun_result_free(&res);
	snprintf(path, sizeof(path), "%s/%s/run", EXT_ROOT, name);
	text = slurp(path);
	assert_string_equal(text, "#!/bin/sh\necho installed\n");
	free(text);
	free(bundle);
}

static void test_run_hang(void **state)
{
	char name[64], want[128];
	struct sshrun_req q = base_req();
	struct sshrun_result res;
	size_t len;
	char script[64], secs[16];
	void *bundle;
	int64_t t0, elapsed;
	int r;
	(void)state;

	/* sleep 1000 and a number of this process, unlike any other test's sleep. */
	snprintf(secs, sizeof(secs), "%d", 1000000 + (int)getpid());
	snprintf(script, sizeof(script), "#!/bin/sh\necho started\nsleep %s\n", secs);
	bundle = script_bundle(script, &len);
	assert_false(process_running("sleep", secs));
	ext_name(name, sizeof(name), "hang");
	q.name = name;
	q.bundle = bundle;
	q.bundle_len = len;
	q.timeout_s = 3;
	t0 = mono_ms();
	r = sshrun_run(&q, &res);
	elapsed = mono_ms() - t0;
	assert_int_equal(r, -ETIMEDOUT);
	assert_true(res.timed_out);
	assert_int_equal(res.stage, SR_RUN);
	assert_int_equal(res.exit_status, -1);
	assert_string_equal(res.out, "started\n");
	snprintf(want, sizeof(want), "127.0.0.1:%u: timed out after 3 s while running run", fx.main.port);
	assert_string_equal(res.error, want);
	if (elapsed >= 3000 + 2000)
		fail_msg("took %lld ms", (long long)elapsed);
	sshrun_result_free(&res);
	/* The node's timeout killed the script and its sleep. */
	sleep(1);
	assert_false(process_running("sleep", secs));
	free(bundle);
}

static void test_run_flood(void **state)
{
	char name[64];
	struct sshrun_req q = base_req();
	struct sshrun_result res;
	size_t len;
	void *bundle = script_bundle("#!/bin/sh\nyes | head -c 50000000\nyes e | head -c 3000000 >&2\n", &len);
	int r;
	(void)state;

	ext_name(name, sizeof(name), "flood");
	q.name = name;
	q.bundle = bundle;
	q.bundle_len = len;
	q.output_cap = 4096;
	q.timeout_s = 120;
	r = sshrun_run(&q, &res);
	if (r != 0)
		fail_msg("sshrun_run = %d: %s", r, res.error);
	assert_int_equal(res.out_len, 4096);
	assert_int_equal(strlen(res.out), 4096);
	assert_int_equal(res.out_total, 50000000);
	assert_int_equal(strncmp(res.out, "y\ny\ny\n", 6), 0);
	assert_int_equal(res.err_len, 4096);
	assert_int_equal(res.err_total, 3000000);
	assert_int_equal(strncmp(res.err, "e\ne\n", 4), 0);
	sshrun_result_free(&res);

	/* Nothing kept at all. */
	q.output_cap = 0;
	r = sshrun_run(&q, &res);
	assert_int_equal(r, 0);
	assert_string_equal(res.out, "");
	assert_int_equal(res.out_total, 50000000);
	sshrun_result_free(&res);
	free(bundle);
}

/*
 * Counts the main dropbear's log lines that name a user: a login, or the
 * exit of a connection that asked to log in ("Exit before auth from <...>:
 * (user 'root', 0 fails)"); a connection that never asked says no name.
 */
static size_t auth_lines(void)
{
	char path[256], *text = NULL;
	size_t len, n = 0;

	snprintf(path, sizeof(path), "%s/log", fx.main.dir);
	if (read_file(path, 1 << 20, &text, &len) < 0)
		return 0;
	for (char *p = text; (p = strstr(p, "'root'")); p++)
		n++;
	free(text);
	return n;
}

static void test_hostkey_mismatch(void **state)
{
	char name[64], mark[256], env_mark[300], seen[SSHKEY_FP_SIZE], want[256];
	const char *env[] = { env_mark, NULL };
	struct sshrun_req q = base_req();
	struct sshrun_result res;
	size_t len, before;
	void *bundle = script_bundle("#!/bin/sh\necho ran >\"$MARK\"\n", &len);
	int r;
	(void)state;

	ext_name(name, sizeof(name), "mismatch");
	snprintf(mark, sizeof(mark), "%s/mark-mismatch", fx.dir);
	snprintf(env_mark, sizeof(env_mark), "MARK=%s", mark);
	q.name = name;
	q.bundle = bundle;
	q.bundle_len = len;
	q.env = env;
	q.host_key = key_ed25519;
	before = auth_lines();
	r = sshrun_run(&q, &res);
	assert_int_equal(r, -EKEYREJECTED);
	assert_true(res.host_key_mismatch);
	assert_int_equal(res.stage, SR_HOSTKEY);
	fp_of(fx.main.ed25519, seen);
	assert_string_equal(res.seen_key_fp, seen);
	snprintf(want, sizeof(want), "127.0.0.1:%u: host key %s is not the pinned %s", fx.main.port, seen, fp_ed25519);
	assert_string_equal(res.error, want);
	sshrun_result_free(&res);
	assert_false(exists(mark));
	/* No login was tried (dropbear logs the connection's end by then). */
	usleep(300000);
	assert_int_equal(auth_lines(), before);

	/* The same key type is not enough, and neither is another type. */
	q.host_key = key_p256;
	r = sshrun_run(&q, &res);
	assert_int_equal(r, -EKEYREJECTED);
	assert_true(res.host_key_mismatch);
	fp_of(fx.main.ecdsa, seen);
	assert_string_equal(res.seen_key_fp, seen); /* asked for ECDSA, got the node's ECDSA key */
	sshrun_result_free(&res);
	/* A type the node has no key of: the handshake fails, nothing is sent. */
	q.host_key = key_rsa2048;
	r = sshrun_run(&q, &res);
	assert_int_equal(r, -EPROTO);
	assert_int_equal(res.stage, SR_HANDSHAKE);
	assert_false(res.host_key_mismatch);
	sshrun_result_free(&res);
	assert_false(exists(mark));
	free(bundle);
}

static void test_unreachable(void **state)
{
	char name[64], want[128];
	struct sshrun_req q = base_req();
	struct sshrun_result res;
	size_t len;
	void *bundle = script_bundle("#!/bin/sh\n", &len);
	int64_t t0;
	int r;
	(void)state;

	ext_name(name, sizeof(name), "unreachable");
	q.name = name;
	q.bundle = bundle;
	q.bundle_len = len;
	q.port = free_port();
	t0 = mono_ms();
	r = sshrun_run(&q, &res);
	assert_true(mono_ms() - t0 < 1000);
	assert_int_equal(r, -ECONNREFUSED);
	assert_int_equal(res.stage, SR_CONNECT);
	assert_false(res.timed_out);
	snprintf(want, sizeof(want), "127.0.0.1:%u: connect: Connection refused", q.port);
	assert_string_equal(res.error, want);
	assert_string_equal(res.seen_key_fp, "");
	sshrun_result_free(&res);
	free(bundle);
}

/* A peer that takes the connection and never says a word: the deadline ends the handshake. */
static void test_handshake_timeout(void **state)
{
	char name[64], want[128];
	struct sshrun_req q = base_req();
	struct sshrun_result res;
	size_t len;
	void *bundle = script_bundle("#!/bin/sh\n", &len);
	uint16_t port;
	int fd = listener(&port);
	int64_t t0, elapsed;
	int r;
	(void)state;

	ext_name(name, sizeof(name), "silent");
	q.name = name;
	q.bundle = bundle;
	q.bundle_len = len;
	q.port = port;
	q.timeout_s = 1;
	t0 = mono_ms();
	r = sshrun_run(&q, &res);
	elapsed = mono_ms() - t0;
	close(fd);
	assert_int_equal(r, -ETIMEDOUT);
	assert_true(res.timed_out);
	assert_int_equal(res.stage, SR_HANDSHAKE);
	assert_true(elapsed >= 990 && elapsed < 1500);
	snprintf(want, sizeof(want), "127.0.0.1:%u: timed out after 1 s during the handshake", port);
	assert_string_equal(res.error, want);
	sshrun_result_free(&res);
	free(bundle);
}

static void test_wrong_key(void **state)
{
	static struct sandbox other;
	char name[64], want[128];
	struct sshrun_req q = base_req();
	struct sshrun_result res;
	size_t len;
	void *bundle = script_bundle("#!/bin/sh\n", &len);
	int r;
	(void)state;

	sandbox_start(&other, "other", key_ed25519); /* lets another key in, not the appliance's */
	ext_name(name, sizeof(name), "wrongkey");
	q.name = name;
	q.bundle = bundle;
	q.bundle_len = len;
	q.port = other.port;
	q.host_key = other.ed25519;
	r = sshrun_run(&q, &res);
	assert_int_equal(r, -EACCES);
	assert_int_equal(res.stage, SR_AUTH);
	snprintf(want, sizeof(want), "127.0.0.1:%u: auth: the node refused the appliance key for user root", other.port);
	assert_string_equal(res.error, want);
	sshrun_result_free(&res);

	/* No appliance key at all: nothing is sent. */
	q.key_dir = "/nonexistent/bootwave";
	r = sshrun_run(&q, &res);
	assert_int_equal(r, -ENOENT);
	assert_int_equal(res.stage, SR_CONNECT);
	assert_non_null(strstr(res.error, "cannot load the appliance key from /nonexistent/bootwave"));
	sshrun_result_free(&res);
	free(bundle);
}

static void bad_request(const struct sshrun_req *q, const char *want_error)
{
	struct sshrun_result res;
	int r = sshrun_run(q, &res);

	if (r != -EINVAL || !strstr(res.error, want_error))
		fail_msg("sshrun_run = %d (%s), expected -EINVAL (%s)", r, res.error, want_error);
	assert_int_equal(res.stage, SR_CONNECT);
	assert_int_equal(res.exit_status, -1);
	sshrun_result_free(&res);
}

static void test_unsafe_input(void **state)
{
	const char *env_bad1[] = { "A B=x", NULL }, *env_bad2[] = { "=x", NULL }, *env_bad3[] = { "NOEQUALS", NULL },
		   *env_bad4[] = { "1A=x", NULL };
	char name[64], garbage[64], want[128];
	struct sshrun_req q = base_req(), b;
	struct pollfd p;
	size_t len;
	void *bundle = script_bundle("#!/bin/sh\n", &len);
	uint16_t port;
	int fd = listener(&port);
	(void)state;

	ext_name(name, sizeof(name), "unsafe");
	q.name = name;
	q.bundle = bundle;
	q.bundle_len = len;
	q.port = port;

	b = q;
	b.host_key = "ssh-ed25519 $(reboot); rm -rf / #";
	snprintf(want, sizeof(want), "127.0.0.1:%u: the pinned host key is not", port);
	bad_request(&b, want);
	snprintf(garbage, sizeof(garbage), "%.40s", key_ed25519);
	b.host_key = garbage;
	bad_request(&b, "the pinned host key is not");
	b.host_key = key_dsa;
	bad_request(&b, "the pinned host key is not");
	b.host_key = NULL;
	bad_request(&b, "no host key reported for this node");
	b.host_key = "";
	bad_request(&b, "no host key reported for this node");

	const char *bad_names[] = { "", ".", "..", "../etc", "a/b", ".staging", "a b", "x'y", "$(id)", NULL };
	for (size_t i = 0; i < ARRAY_SIZE(bad_names); i++) {
		b = q;
		b.name = bad_names[i];
		bad_request(&b, "name or version");
	}
	b = q;
	b.version = "1.0;reboot";
	bad_request(&b, "name or version");
	const char *bad_entries[] = { "", "/run", "../run", "a/../run", "./run", "a//run", "run/", "r'n", "r n", NULL };
	for (size_t i = 0; i < ARRAY_SIZE(bad_entries); i++) {
		b = q;
		b.entry = bad_entries[i];
		bad_request(&b, "the entry is not");
	}
	b = q;
	b.env = env_bad1;
	bad_request(&b, "environment");
	b.env = env_bad2;
	bad_request(&b, "environment");
	b.env = env_bad3;
	bad_request(&b, "environment");
	b.env = env_bad4;
	bad_request(&b, "environment");
	{
		/* Too large for one command line once quoted. */
		char *huge = malloc(SSHRUN_CMD_MAX / 4 + 16);
		const char *env_huge[] = { huge, NULL };
		assert_non_null(huge);
		memset(huge, '\'', SSHRUN_CMD_MAX / 4 + 15);
		memcpy(huge, "BIG=", 4);
		huge[SSHRUN_CMD_MAX / 4 + 15] = '\0';
		b = q;
		b.env = env_huge;
		bad_request(&b, "environment is larger");
		free(huge);
	}
	b = q;
	b.host = "localhost";
	bad_request(&b, "not an IPv4 address");
	b.host = "127.0.0.1; id";
	bad_request(&b, "not an IPv4 address");
	b.host = NULL;
	bad_request(&b, "not an IPv4 address");
	b = q;
	b.bundle_len = 0;
	bad_request(&b, "no bundle");
	b = q;
	b.timeout_s = 0;
	bad_request(&b, "timeout");
	b = q;
	b.user = "root; id";
	bad_request(&b, "bad user");

	/* None of these even connected. */
	p = (struct pollfd){ .fd = fd, .events = POLLIN };
	assert_int_equal(poll(&p, 1, 100), 0);
	close(fd);
	free(bundle);
}

/* Several runs at once from several threads (libssh2_init once, one session each). */
struct run_job {
	struct sshrun_req q;
	char name[64];
	void *bundle;
	struct sshrun_result res;
	int r;
};

/* ---- a node that drops commands before starting them ---- */

/* The parent of pid, from /proc, or 0. */
static pid_t parent_of(pid_t pid)
{
	char path[64], buf[512], *p;
	FILE *f;
	int ppid = 0;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (!(f = fopen(path, "r")))
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* "PID (COMM) STATE PPID ...": COMM may hold anything, so from its last ')'. */
	if ((p = strrchr(buf, ')')) && sscanf(p + 1, " %*c %d", &ppid) != 1)
		ppid = 0;
	return (pid_t)ppid;
}

struct chld_storm {
	pid_t root;
	atomic_bool stop;
	long sent;
};

/*
 * Sends SIGCHLD every 30 ms to every dropbear process under root (the
 * listener and its per-connection children), as their own children's exits
 * would: dropbear 2022.x then now and then closes a channel that has no
 * process yet, ignoring the exec request that follows (a run used to wait
 * for the answer until its deadline). Here about one connection in ten.
 */
static void *chld_storm(void *arg)
{
	struct chld_storm *c = arg;

	while (!atomic_load(&c->stop)) {
		DIR *d = opendir("/proc");
		struct dirent *e;
		while (d && (e = readdir(d))) {
			char path[64], comm[32] = "";
			pid_t pid = (pid_t)atoi(e->d_name), up = pid;
			FILE *f;
			if (pid <= 0)
				continue;
			snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
			if (!(f = fopen(path, "r")))
				continue;
			if (!fgets(comm, sizeof(comm), f))
				comm[0] = '\0';
			fclose(f);
			if (!str_eq(comm, "dropbear\n"))
				continue;
			for (int depth = 0; depth < 4 && up > 1 && up != c->root; depth++)
				up = parent_of(up);
			if (up == c->root && kill(pid, SIGCHLD) == 0)
				c->sent++;
		}
		if (d)
			closedir(d);
		usleep(30000);
	}
	return NULL;
}

static void test_node_drops_commands(void **state)
{
	struct chld_storm storm = { .root = fx.main.pid };
	pthread_t th;
	char name[64];
	size_t len, retried = 0, runs = 0;
	void *bundle = script_bundle("#!/bin/sh\necho hi\n", &len);
	int64_t until, t0;
	(void)state;

	ext_name(name, sizeof(name), "storm");
	atomic_init(&storm.stop, false);
	assert_int_equal(pthread_create(&th, NULL, chld_storm, &storm), 0);
	/* Until two runs had to connect again (or a bound): none may fail, none may hang. */
	until = mono_ms() + 60000;
	while (runs < 400 && retried < 2 && mono_ms() < until) {
		struct sshrun_req q = base_req();
		struct sshrun_result res;
		int r;

		q.name = name;
		q.bundle = bundle;
		q.bundle_len = len;
		t0 = mono_ms();
		r = sshrun_run(&q, &res);
		runs++;
		if (r != 0 || mono_ms() - t0 > 10000) {
			atomic_store(&storm.stop, true);
			pthread_join(th, NULL);
			fail_msg("run %zu: sshrun_run = %d after %d connections in %lld ms: %s", runs, r, res.attempts,
				 (long long)(mono_ms() - t0), res.error);
		}
		assert_string_equal(res.out, "hi\n");
		assert_true(res.attempts >= 1 && res.attempts <= SSHRUN_ATTEMPTS);
		if (res.attempts > 1)
			retried++;
		sshrun_result_free(&res);
	}
	atomic_store(&storm.stop, true);
	pthread_join(th, NULL);
	print_message("      %zu runs under %ld SIGCHLDs to dropbear: %zu connected again, none failed\n", runs,
		      storm.sent, retried);
	assert_true(storm.sent > 0);
	/* The storm must have hit: otherwise this test shows nothing. */
	assert_true(retried > 0);
	free(bundle);
}

static void *run_thread(void *arg)
{
	struct run_job *j = arg;
	j->r = sshrun_run(&j->q, &j->res);
	return NULL;
}

/* Four: dropbear takes at most 5 connections from one address that have not logged in yet. */
static void test_concurrent(void **state)
{
	struct run_job jobs[4];
	pthread_t th[ARRAY_SIZE(jobs)];
	char want[128];
	size_t len;
	(void)state;

	for (size_t i = 0; i < ARRAY_SIZE(jobs); i++) {
		char what[16];
		snprintf(what, sizeof(what), "multi%zu", i);
		jobs[i].q = base_req();
		ext_name(jobs[i].name, sizeof(jobs[i].name), what);
		jobs[i].bundle = script_bundle("#!/bin/sh\necho \"$BW_EXTENSION\"\n", &len);
		jobs[i].q.name = jobs[i].name;
		jobs[i].q.bundle = jobs[i].bundle;
		jobs[i].q.bundle_len = len;
		assert_int_equal(pthread_create(&th[i], NULL, run_thread, &jobs[i]), 0);
	}
	for (size_t i = 0; i < ARRAY_SIZE(jobs); i++)
		pthread_join(th[i], NULL);
	for (size_t i = 0; i < ARRAY_SIZE(jobs); i++) {
		if (jobs[i].r != 0)
			fail_msg("job %zu: %d %s", i, jobs[i].r, jobs[i].res.error);
		snprintf(want, sizeof(want), "%s\n", jobs[i].name);
		assert_string_equal(jobs[i].res.out, want);
		sshrun_result_free(&jobs[i].res);
		free(jobs[i].bundle);
	}
}

struct cancel_job {
	atomic_bool *flag;
	int ms;
};

static void *cancel_thread(void *arg)
{
	struct cancel_job *c = arg;
	usleep((useconds_t)c->ms * 1000);
	atomic_store(c->flag, true);
	return NULL;
}

static void test_cancel(void **state)
{
	char name[64];
	struct sshrun_req q = base_req();
	struct sshrun_result res;
	atomic_bool flag;
	struct cancel_job c = { &flag, 800 };
	pthread_t th;
	size_t len;
	char script[64], secs[16];
	void *bundle;
	int64_t t0, elapsed;
	int r;
	(void)state;

	snprintf(secs, sizeof(secs), "%d", 2000000 + (int)getpid());
	snprintf(script, sizeof(script), "#!/bin/sh\nsleep %s\n", secs);
	bundle = script_bundle(script, &len);
	atomic_init(&flag, true);
	ext_name(name, sizeof(name), "cancel");
	q.name = name;
	q.bundle = bundle;
	q.bundle_len = len;
	q.cancel = &flag;
	q.timeout_s = 3;
	/* Set before the call: nothing happens. */
	r = sshrun_run(&q, &res);
	assert_int_equal(r, -ECANCELED);
	assert_int_equal(res.stage, SR_CONNECT);
	sshrun_result_free(&res);

	atomic_store(&flag, false);
	assert_int_equal(pthread_create(&th, NULL, cancel_thread, &c), 0);
	t0 = mono_ms();
	r = sshrun_run(&q, &res);
	elapsed = mono_ms() - t0;
	pthread_join(th, NULL);
	assert_int_equal(r, -ECANCELED);
	assert_int_equal(res.stage, SR_RUN);
	assert_false(res.timed_out);
	assert_true(elapsed < 800 + SSHRUN_CANCEL_MS + 300);
	sshrun_result_free(&res);
	/* Left running (which also shows process_running sees such a sleep)... */
	assert_true(process_running("sleep", secs));
	/* ...until the node's timeout ends it. */
	for (int i = 0; i < 50 && process_running("sleep", secs); i++)
		usleep(100000);
	assert_false(process_running("sleep", secs));
	free(bundle);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_parse_public, heap_copy_teardown),
		cmocka_unit_test(test_format_fingerprint),
		cmocka_unit_test(test_appliance_key),
		cmocka_unit_test_setup_teardown(test_run_ok, run_setup, run_teardown),
		cmocka_unit_test_setup_teardown(test_run_ecdsa_pin, run_setup, run_teardown),
		cmocka_unit_test_setup_teardown(test_run_fails, run_setup, run_teardown),
		cmocka_unit_test_setup_teardown(test_upload_fails, run_setup, run_teardown),
		cmocka_unit_test_setup_teardown(test_run_hang, run_setup, run_teardown),
		cmocka_unit_test_setup_teardown(test_run_flood, run_setup, run_teardown),
		cmocka_unit_test_setup_teardown(test_hostkey_mismatch, run_setup, run_teardown),
		cmocka_unit_test_setup_teardown(test_unreachable, run_setup, run_teardown),
		cmocka_unit_test_setup_teardown(test_handshake_timeout, run_setup, run_teardown),
		cmocka_unit_test_setup_teardown(test_wrong_key, run_setup, run_teardown),
		cmocka_unit_test_setup_teardown(test_unsafe_input, run_setup, run_teardown),
		cmocka_unit_test_setup_teardown(test_concurrent, run_setup, run_teardown),
		cmocka_unit_test_setup_teardown(test_node_drops_commands, run_setup, run_teardown),
		cmocka_unit_test_setup_teardown(test_cancel, run_setup, run_teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
