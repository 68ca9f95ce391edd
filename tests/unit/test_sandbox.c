// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests of server/sandbox.c: what code that took over the TFTP
 * server could still do. Each case forks, enters SANDBOX_TFTP (as the user
 * bootwave, else nobody, when run as root; chrooted into an empty
 * directory) and tries one thing: what the server needs works (UDP,
 * reading a file it opened, time, memory), and everything else ends the
 * process with SANDBOX_EXIT_SYSCALL: TCP, Unix and netlink sockets,
 * connect, opening a file to write, exec, fork, ptrace, kill, setuid.
 * Paths outside the chroot do not exist for it.
 * SANDBOX_DHCP (the DHCP listener) the same way: it receives on a socket it
 * was given and sends its records on SANDBOX_DHCP_OUT_FD; sending on the
 * UDP socket (a reply of its own making), a socket of its own, opening any
 * file, exec, fork end it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox.h"
#include "testutil.h"

static char root[64], file[128];

static const char *user(void)
{
	return getpwnam("bootwave") ? "bootwave" : "nobody";
}

static int given_udp = -1; /* DHCP: the socket it was given, a datagram waiting */

/* What bootwaved gives the DHCP listener: a bound UDP socket, the record socket as fd 5. */
static void give_dhcp_fds(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int sp[2];
	given_udp = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (given_udp < 0 || bind(given_udp, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    getsockname(given_udp, (struct sockaddr *)&a, &len) < 0 ||
	    sendto(given_udp, "ping", 4, 0, (struct sockaddr *)&a, sizeof(a)) != 4 ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sp) < 0 || dup2(sp[0], SANDBOX_DHCP_OUT_FD) < 0)
		_exit(201);
}

/* Runs fn in a child sandboxed with profile p; returns its exit status (or 1000 + signal). */
static int in_profile(enum sandbox_profile p, int (*fn)(void))
{
	pid_t pid = fork();
	int st;
	assert_true(pid >= 0);
	if (pid == 0) {
		char why[256];
		int devnull = open("/dev/null", O_WRONLY);
		/* The sandbox's one line on stderr would only clutter the test's output. */
		if (devnull >= 0)
			dup2(devnull, STDERR_FILENO);
		if (p == SANDBOX_DHCP)
			give_dhcp_fds();
		if (sandbox_enter(user(), root, p, why, sizeof(why)) < 0)
			_exit(200);
		_exit(fn());
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 1000 + WTERMSIG(st);
}

static int in_sandbox(int (*fn)(void)) { return in_profile(SANDBOX_TFTP, fn); }

static int udp_roundtrip(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	char buf[8];
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || getsockname(fd, (struct sockaddr *)&a, &len) < 0)
		return 1;
	if (sendto(fd, "ping", 4, 0, (struct sockaddr *)&a, sizeof(a)) != 4 || recvfrom(fd, buf, sizeof(buf), 0, NULL, NULL) != 4)
		return 2;
	int fd6 = socket(AF_INET6, SOCK_DGRAM, 0);
	return fd6 < 0 ? 3 : 0;
}

/* What the TFTP server does with a file: openat2 under its root, fstat, pread. */
static int read_under_root(void)
{
	struct open_how how = { .flags = O_RDONLY, .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS };
	struct stat st;
	char buf[5] = "";
	int dir = open(".", O_RDONLY | O_DIRECTORY), fd;
	if (dir < 0)
		return 1;
	fd = (int)syscall(SYS_openat2, dir, "served", &how, sizeof(how));
	if (fd < 0 || fstat(fd, &st) < 0 || pread(fd, buf, 4, 0) != 4 || memcmp(buf, "data", 4) != 0)
		return 2;
	void *p = malloc(1 << 20);
	free(p);
	return 0;
}

/* As root the process is chrooted: the host's files are not there. */
static int outside_paths(void)
{
	int fd = open("/etc/passwd", O_RDONLY);
	return fd < 0 && errno == ENOENT ? 0 : 1;
}

static int tcp_socket(void) { return socket(AF_INET, SOCK_STREAM, 0) >= 0 ? 0 : 1; }
static int unix_socket(void) { return socket(AF_UNIX, SOCK_DGRAM, 0) >= 0 ? 0 : 1; }
static int netlink_socket(void) { return socket(AF_NETLINK, SOCK_RAW, 0) >= 0 ? 0 : 1; }
static int raw_socket(void) { return socket(AF_INET, SOCK_RAW, IPPROTO_UDP) >= 0 ? 0 : 1; }
static int udp_connect(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(9), .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	return connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0 ? 0 : 1;
}
static int open_write(void) { return open("x", O_WRONLY | O_CREAT, 0600) >= 0 ? 0 : 1; }
static int open_rdwr(void) { return open("served", O_RDWR) >= 0 ? 0 : 1; }
static int open_trunc(void) { return open("served", O_RDONLY | O_TRUNC) >= 0 ? 0 : 1; }
static int exec_shell(void)
{
	char *argv[] = { (char *)"sh", NULL };
	execve("/bin/sh", argv, NULL);
	return 1;
}
static int do_fork(void) { return (int)syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0) >= 0 ? 0 : 1; }
static int do_ptrace(void) { return ptrace(PTRACE_TRACEME, 0, NULL, NULL) == 0 ? 0 : 1; }
static int do_kill(void) { return kill(1, 0) == 0 ? 0 : 1; }
static int back_to_root(void) { return setuid(0) == 0 ? 0 : 1; }
static int do_unlink(void) { return unlink("served") == 0 ? 0 : 1; }

static void test_needs_work(void **state)
{
	(void)state;
	assert_int_equal(in_sandbox(udp_roundtrip), 0);
	assert_int_equal(in_sandbox(read_under_root), 0);
	if (geteuid() == 0)
		assert_int_equal(in_sandbox(outside_paths), 0);
}

static void test_everything_else_ends_it(void **state)
{
	static const struct {
		const char *what;
		int (*fn)(void);
	} cases[] = {
		{ "TCP socket", tcp_socket }, { "Unix socket", unix_socket }, { "netlink socket", netlink_socket },
		{ "raw socket", raw_socket }, { "connect", udp_connect },     { "open to write", open_write },
		{ "open read-write", open_rdwr }, { "open with O_TRUNC", open_trunc }, { "exec", exec_shell },
		{ "fork", do_fork }, { "ptrace", do_ptrace }, { "kill", do_kill }, { "setuid(0)", back_to_root },
		{ "unlink", do_unlink },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int st = in_sandbox(cases[i].fn);
		if (st != SANDBOX_EXIT_SYSCALL)
			fail_msg("%s: the sandboxed process ended with %d, expected %d (stopped by the filter)", cases[i].what,
				 st, SANDBOX_EXIT_SYSCALL);
	}
}

/* As root: the process is the user, with no capability and no way back. */
static int identity(void)
{
	return getuid() != 0 && geteuid() != 0 && getgid() != 0 && getegid() != 0 ? 0 : 1;
}

/* What the DHCP listener does: a datagram from its socket, a record to bootwaved. */
static int dhcp_receive_and_pass_on(void)
{
	char buf[8];
	struct sockaddr_in from;
	socklen_t fl = sizeof(from);
	if (recvfrom(given_udp, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl) != 4)
		return 1;
	if (send(SANDBOX_DHCP_OUT_FD, buf, 4, 0) != 4)
		return 2;
	void *p = malloc(1 << 20);
	free(p);
	return 0;
}

static int dhcp_reply_itself(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(68), .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	return sendto(given_udp, "offer", 5, 0, (struct sockaddr *)&a, sizeof(a)) == 5 ? 0 : 1;
}
static int udp_socket(void) { return socket(AF_INET, SOCK_DGRAM, 0) >= 0 ? 0 : 1; }
static int open_read(void) { return open("served", O_RDONLY) >= 0 ? 0 : 1; }

static void test_dhcp_profile(void **state)
{
	static const struct {
		const char *what;
		int (*fn)(void);
	} cases[] = {
		{ "sending on the UDP socket", dhcp_reply_itself }, { "UDP socket", udp_socket },
		{ "TCP socket", tcp_socket }, { "open to read", open_read }, { "open to write", open_write },
		{ "exec", exec_shell }, { "fork", do_fork }, { "kill", do_kill }, { "setuid(0)", back_to_root },
	};
	(void)state;
	assert_int_equal(in_profile(SANDBOX_DHCP, dhcp_receive_and_pass_on), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int st = in_profile(SANDBOX_DHCP, cases[i].fn);
		if (st != SANDBOX_EXIT_SYSCALL)
			fail_msg("DHCP: %s: the sandboxed process ended with %d, expected %d (stopped by the filter)",
				 cases[i].what, st, SANDBOX_EXIT_SYSCALL);
	}
}

static void test_identity(void **state)
{
	(void)state;
	if (geteuid() != 0)
		skip();
	assert_int_equal(in_sandbox(identity), 0);
}

static void test_unknown_user(void **state)
{
	char why[256];
	pid_t pid;
	int st;
	(void)state;
	if (geteuid() != 0)
		skip();
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(sandbox_enter("no-such-user-bw", root, SANDBOX_TFTP, why, sizeof(why)) == -ENOENT &&
			      strstr(why, "no such user") ? 0 : 1);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static int setup(void **state)
{
	FILE *f;
	(void)state;
	if (test_dir_make("sandbox", "served", root, file) < 0 || !(f = fopen(file, "w")))
		return -1;
	fputs("data", f);
	fclose(f);
	/* The unprivileged user must be able to enter and read it. */
	chmod(root, 0755);
	chmod(file, 0644);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	return rm_rf(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_needs_work),
		cmocka_unit_test(test_everything_else_ends_it),
		cmocka_unit_test(test_dhcp_profile),
		cmocka_unit_test(test_identity),
		cmocka_unit_test(test_unknown_user),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
