// SPDX-License-Identifier: Apache-2.0
/* The TFTP server in its own sandboxed process: see tftp_proc.h. */
#include "tftp_proc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "sandbox.h"
#include "tftp.h"
#include "util.h"

#define CHILD_SOCKET_FD 3
#define CHILD_READY_FD 4
#define READY_TIMEOUT_MS 10000
#define STOP_TIMEOUT_MS 5000
#define RESTART_FIRST_MS 1000
#define RESTART_MAX_MS 30000
#define RAN_LONG_MS 60000 /* a process that served this long starts again at once */

struct tftp_proc {
	struct evloop *ev;
	int fd;          /* the bound socket, kept for the next process */
	pid_t pid;       /* 0: none running */
	int pidfd;
	uint64_t started_ms;
	unsigned backoff_ms;
	uint64_t restart_timer;
	char args[10][CONFIG_PATH_MAX]; /* argv of the process, built once */
	char *argv[12];
	char asan_env[512], ubsan_env[512];
	char *envp[3];
};

/* ---- the process ---- */

static struct evloop *child_ev;

static void on_term(int sig)
{
	(void)sig;
	evloop_stop(child_ev);
}

static bool arg_uint(const char *s, unsigned long max, unsigned *ret)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);
	if (!*s || *end || v > max)
		return false;
	*ret = (unsigned)v;
	return true;
}

int tftp_proc_main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_term };
	struct tftp_config tc;
	struct tftp_server *s = NULL;
	enum log_level lvl;
	unsigned ppid;
	sigset_t term;
	char why[CONFIG_PATH_MAX + 160];
	int r;

	/* Nothing of bootwaved's but the socket and the ready pipe (at the first start only). */
	bool have_ready = fcntl(CHILD_READY_FD, F_GETFD) >= 0;
	syscall(SYS_close_range, CHILD_READY_FD + 1, ~0U, 0);
	tftp_config_default(&tc);
	if (argc != 11 || !arg_uint(argv[2], 1u << 30, &ppid) || log_level_parse(argv[5], &lvl) < 0 ||
	    !arg_uint(argv[6], 4096, &tc.max_transfers) || !arg_uint(argv[7], 60000, &tc.timeout_ms) ||
	    !arg_uint(argv[8], 20, &tc.retries) || !arg_uint(argv[9], 65464, &tc.max_blksize) ||
	    !arg_uint(argv[10], 256, &tc.max_windowsize)) {
		fprintf(stderr, "bootwaved --sandboxed-tftp: started by bootwaved only\n");
		return 2;
	}
	/* Gone with bootwaved, even if it is killed. */
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	if ((unsigned)getppid() != ppid)
		return 1;
	prctl(PR_SET_NAME, "bootwaved-tftp", 0, 0, 0);
	log_set_level(lvl);
	tc.root = argv[3];
	if ((r = evloop_new(&child_ev)) < 0 || (r = tftp_server_new(child_ev, CHILD_SOCKET_FD, &tc, &s)) < 0) {
		log_error("tftp: cannot serve %s: %s", tc.root, strerror(-r));
		return 1;
	}
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	if (sigaction(SIGTERM, &sa, NULL) < 0 || sigprocmask(SIG_UNBLOCK, &term, NULL) < 0) {
		log_error("tftp: sigaction: %s", strerror(errno));
		return 1;
	}
	if ((r = sandbox_enter(argv[4], tc.root, SANDBOX_TFTP, why, sizeof(why))) < 0) {
		log_error("tftp: %s", why);
		return 1;
	}
	log_debug("tftp: sandboxed (pid %d, uid %u, seccomp), serving", (int)getpid(), (unsigned)getuid());
	if (have_ready) {
		(void)!write(CHILD_READY_FD, "1", 1);
		close(CHILD_READY_FD);
	}
	r = evloop_run(child_ev);
	tftp_server_free(s);
	evloop_free(child_ev);
	return r < 0 ? 1 : 0;
}

/* ---- bootwaved's side ---- */

static void on_exit_fd(struct evloop *ev, int fd, uint32_t events, void *ud);

/* fork + exec of /proc/self/exe; between them only async-signal-safe calls. */
static int spawn(struct tftp_proc *p, int *ret_ready)
{
	int ready[2] = { -1, -1 };
	pid_t pid;

	if (ret_ready && pipe2(ready, O_CLOEXEC) < 0)
		return -errno;
	snprintf(p->args[1], sizeof(p->args[1]), "%d", (int)getpid());
	pid = fork();
	if (pid < 0) {
		int e = errno;
		if (ret_ready) {
			close(ready[0]);
			close(ready[1]);
		}
		return -e;
	}
	if (pid == 0) {
		/* dup2 clears close-on-exec, except onto the same number. */
		if (p->fd == CHILD_SOCKET_FD ? fcntl(p->fd, F_SETFD, 0) < 0 : dup2(p->fd, CHILD_SOCKET_FD) < 0)
			_exit(127);
		if (ret_ready && dup2(ready[1], CHILD_READY_FD) < 0)
			_exit(127);
		if (!ret_ready)
			close(CHILD_READY_FD);
		execve("/proc/self/exe", p->argv, p->envp);
		_exit(127);
	}
	if (ret_ready) {
		close(ready[1]);
		*ret_ready = ready[0];
	}
	p->pid = pid;
	p->started_ms = evloop_now_ms();
	p->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (p->pidfd < 0 || evloop_add_fd(p->ev, p->pidfd, EPOLLIN, on_exit_fd, p) < 0) {
		int e = p->pidfd < 0 ? errno : ENOMEM;
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		if (p->pidfd >= 0)
			close(p->pidfd);
		p->pidfd = -1;
		p->pid = 0;
		return -e;
	}
	return 0;
}

static void reap(struct tftp_proc *p, int *ret_status)
{
	int st = 0;
	evloop_del_fd(p->ev, p->pidfd);
	close(p->pidfd);
	p->pidfd = -1;
	while (waitpid(p->pid, &st, 0) < 0 && errno == EINTR)
		;
	p->pid = 0;
	*ret_status = st;
}

static void describe(int st, char *buf, size_t size)
{
	if (WIFEXITED(st) && WEXITSTATUS(st) == SANDBOX_EXIT_SYSCALL)
		snprintf(buf, size, "was stopped by its sandbox (a system call it may not make)");
	else if (WIFEXITED(st))
		snprintf(buf, size, "exited with status %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		snprintf(buf, size, "was killed by signal %d (%s)", WTERMSIG(st), strsignal(WTERMSIG(st)));
	else
		snprintf(buf, size, "ended (status 0x%x)", (unsigned)st);
}

static void on_restart(struct evloop *ev, void *ud)
{
	struct tftp_proc *p = ud;
	int r;
	(void)ev;
	p->restart_timer = 0;
	if ((r = spawn(p, NULL)) < 0) {
		log_error("tftp: cannot start the TFTP server again: %s; next try in %u s", strerror(-r),
			  p->backoff_ms / 1000);
		p->restart_timer = evloop_timer(p->ev, p->backoff_ms, on_restart, p);
		p->backoff_ms = p->backoff_ms * 2 > RESTART_MAX_MS ? RESTART_MAX_MS : p->backoff_ms * 2;
		return;
	}
	log_info("tftp: the TFTP server runs again (pid %d)", (int)p->pid);
}

static void on_exit_fd(struct evloop *ev, int fd, uint32_t events, void *ud)
{
	struct tftp_proc *p = ud;
	uint64_t ran = evloop_now_ms() - p->started_ms;
	pid_t pid = p->pid;
	char how[96];
	int st;
	(void)ev;
	(void)fd;
	(void)events;
	reap(p, &st);
	describe(st, how, sizeof(how));
	if (ran >= RAN_LONG_MS)
		p->backoff_ms = RESTART_FIRST_MS;
	log_error("tftp: the sandboxed TFTP server (pid %d) %s after %llu s; starting it again in %u s", (int)pid,
		  how, (unsigned long long)(ran / 1000), p->backoff_ms / 1000);
	p->restart_timer = evloop_timer(p->ev, p->backoff_ms, on_restart, p);
	p->backoff_ms = p->backoff_ms * 2 > RESTART_MAX_MS ? RESTART_MAX_MS : p->backoff_ms * 2;
}

int tftp_proc_start(struct evloop *ev, int fd, const struct config *cfg, struct tftp_proc **ret)
{
	struct tftp_proc *p = calloc(1, sizeof(*p));
	struct pollfd pfd;
	char byte;
	int ready = -1, r;

	if (!p) {
		close(fd);
		return -ENOMEM;
	}
	p->ev = ev;
	p->fd = fd;
	p->pidfd = -1;
	p->backoff_ms = RESTART_FIRST_MS;
	snprintf(p->args[0], sizeof(p->args[0]), "--sandboxed-tftp");
	snprintf(p->args[2], sizeof(p->args[2]), "%s", cfg->firmware_dir);
	snprintf(p->args[3], sizeof(p->args[3]), "%s", cfg->user);
	snprintf(p->args[4], sizeof(p->args[4]), "%s", cfg->log_level);
	snprintf(p->args[5], sizeof(p->args[5]), "%lld", (long long)cfg->tftp_max_transfers);
	snprintf(p->args[6], sizeof(p->args[6]), "%lld", (long long)cfg->tftp_timeout_ms);
	snprintf(p->args[7], sizeof(p->args[7]), "%lld", (long long)cfg->tftp_retries);
	snprintf(p->args[8], sizeof(p->args[8]), "%lld", (long long)cfg->tftp_max_blksize);
	snprintf(p->args[9], sizeof(p->args[9]), "%lld", (long long)cfg->tftp_max_windowsize);
	p->argv[0] = (char *)"bootwaved";
	for (int i = 0; i < 10; i++)
		p->argv[i + 1] = p->args[i];
	p->argv[11] = NULL;
	/* A clean environment; the sanitizer builds keep their options (no leak
	 * check: it needs ptrace and /proc, which the sandbox takes away). */
	{
		int n = 0;
#ifdef __SANITIZE_ADDRESS__
		const char *asan = getenv("ASAN_OPTIONS"), *ubsan = getenv("UBSAN_OPTIONS");
		snprintf(p->asan_env, sizeof(p->asan_env), "ASAN_OPTIONS=%s%sdetect_leaks=0", asan ? asan : "",
			 asan && *asan ? ":" : "");
		p->envp[n++] = p->asan_env;
		if (ubsan) {
			snprintf(p->ubsan_env, sizeof(p->ubsan_env), "UBSAN_OPTIONS=%s", ubsan);
			p->envp[n++] = p->ubsan_env;
		}
#endif
		p->envp[n] = NULL;
	}
	if ((r = spawn(p, &ready)) < 0) {
		log_error("tftp: cannot start the TFTP server process: %s", strerror(-r));
		goto fail;
	}
	/* Serving once it wrote its byte; an end of file first: it failed (and said why). */
	pfd = (struct pollfd){ .fd = ready, .events = POLLIN };
	r = poll(&pfd, 1, READY_TIMEOUT_MS);
	if (r <= 0 || read(ready, &byte, 1) != 1) {
		int st = 0;
		char how[96];
		kill(p->pid, SIGKILL);
		reap(p, &st);
		describe(st, how, sizeof(how));
		log_error("tftp: the sandboxed TFTP server did not start: it %s", r == 0 ? "did not answer in 10 s" : how);
		r = -ECHILD;
		goto fail;
	}
	close(ready);
	log_info("tftp: the TFTP server runs sandboxed as %s (pid %d)", geteuid() == 0 ? cfg->user : "this user",
		 (int)p->pid);
	*ret = p;
	return 0;
fail:
	if (ready >= 0)
		close(ready);
	close(fd);
	free(p);
	return r;
}

int tftp_proc_pid(const struct tftp_proc *p) { return p ? (int)p->pid : 0; }

void tftp_proc_stop(struct tftp_proc *p)
{
	if (!p)
		return;
	if (p->restart_timer)
		evloop_timer_cancel(p->ev, p->restart_timer);
	if (p->pid) {
		struct pollfd pfd = { .fd = p->pidfd, .events = POLLIN };
		int st;
		kill(p->pid, SIGTERM);
		if (poll(&pfd, 1, STOP_TIMEOUT_MS) <= 0) {
			log_warn("tftp: the TFTP server (pid %d) did not stop in 5 s: killed", (int)p->pid);
			kill(p->pid, SIGKILL);
		}
		reap(p, &st);
	}
	close(p->fd);
	free(p);
}
