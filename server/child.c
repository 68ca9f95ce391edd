// SPDX-License-Identifier: Apache-2.0
/* A sandboxed process of bootwaved, started and watched: see child.h. */
#include "child.h"

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
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "sandbox.h"
#include "util.h"

#define READY_TIMEOUT_MS 10000
#define STOP_TIMEOUT_MS 5000
#define RESTART_FIRST_MS 1000
#define RESTART_MAX_MS 30000
#define RAN_LONG_MS 60000 /* a process that served this long starts again at once */
#define ARG_MAX_LEN 4096

struct child {
	struct evloop *ev;
	char tag[16], name[48];
	int fds[CHILD_MAX_FDS];
	size_t n_fds;
	pid_t pid;       /* 0: none running */
	int pidfd;
	int ready;       /* a restarted process's ready pipe, until it says it serves; -1 */
	uint64_t started_ms;
	unsigned backoff_ms;
	uint64_t restart_timer;
	char args[CHILD_MAX_ARGS + 2][ARG_MAX_LEN]; /* argv of the process, built once */
	char *argv[CHILD_MAX_ARGS + 4];
	char asan_env[512], ubsan_env[512];
	char *envp[3];
};

/* ---- in the process ---- */

static struct evloop *term_ev;
static int ready_fd = -1; /* the pipe bootwaved waits on, if it was there at the start */

static void on_term(int sig)
{
	(void)sig;
	evloop_stop(term_ev);
}

bool child_arg_uint(const char *s, unsigned long max, unsigned *ret)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);
	if (!*s || *end || v > max)
		return false;
	*ret = (unsigned)v;
	return true;
}

bool child_begin(int argc, char **argv, size_t n_fds, const char *procname)
{
	unsigned ppid;
	int fd = CHILD_FIRST_FD + (int)n_fds;
	/* Nothing of bootwaved's but its descriptors and the ready pipe, noted
	 * now: anything opened later could take its number. */
	syscall(SYS_close_range, fd + 1, ~0U, 0);
	ready_fd = fcntl(fd, F_GETFD) >= 0 ? fd : -1;
	if (argc < 3 || !child_arg_uint(argv[2], 1u << 30, &ppid))
		return false;
	/* Gone with bootwaved, even if it is killed. */
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	if ((unsigned)getppid() != ppid)
		return false;
	prctl(PR_SET_NAME, procname, 0, 0, 0);
	/* glibc reads /etc/localtime at the first time conversion (gmtime_r in
	 * log lines too): now, while files can still be opened. */
	tzset();
	return true;
}

int child_serve(struct evloop *ev, const char *tag, const char *user, const char *root,
		enum sandbox_profile profile)
{
	struct sigaction sa = { .sa_handler = on_term };
	sigset_t term;
	char why[1024];
	int r;

	/* Before the sandbox: it takes sigaction away. */
	term_ev = ev;
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	if (sigaction(SIGTERM, &sa, NULL) < 0 || sigprocmask(SIG_UNBLOCK, &term, NULL) < 0) {
		log_error("%s: sigaction: %s", tag, strerror(errno));
		return 1;
	}
	if (sandbox_enter(user, root, profile, why, sizeof(why)) < 0) {
		log_error("%s: %s", tag, why);
		return 1;
	}
	log_debug("%s: sandboxed (pid %d, uid %u, seccomp), serving", tag, (int)getpid(), (unsigned)getuid());
	/* bootwaved waits for this byte (its ready pipe, noted by child_begin). */
	if (ready_fd >= 0) {
		(void)!write(ready_fd, "1", 1);
		close(ready_fd);
		ready_fd = -1;
	}
	r = evloop_run(ev);
	return r < 0 ? 1 : 0;
}

/* ---- bootwaved's side ---- */

static void on_exit_fd(struct evloop *ev, int fd, uint32_t events, void *ud);
static void on_ready(struct evloop *ev, int fd, uint32_t events, void *ud);

static void ready_done(struct child *c)
{
	if (c->ready < 0)
		return;
	evloop_del_fd(c->ev, c->ready);
	close(c->ready);
	c->ready = -1;
}

/* fork + exec of /proc/self/exe; between them only async-signal-safe calls. */
static int spawn(struct child *c, int *ret_ready)
{
	int ready[2] = { -1, -1 }, target = CHILD_FIRST_FD + (int)c->n_fds;
	pid_t pid;

	if (pipe2(ready, O_CLOEXEC) < 0)
		return -errno;
	snprintf(c->args[1], sizeof(c->args[1]), "%d", (int)getpid());
	pid = fork();
	if (pid < 0) {
		int e = errno;
		close(ready[0]);
		close(ready[1]);
		return -e;
	}
	if (pid == 0) {
		/* Out of the way first (a descriptor may sit on another's target
		 * number), then onto 3, 4, ...: dup2 clears close-on-exec. */
		int high[CHILD_MAX_FDS + 1];
		for (size_t i = 0; i < c->n_fds; i++)
			if ((high[i] = fcntl(c->fds[i], F_DUPFD_CLOEXEC, 64)) < 0)
				_exit(127);
		if ((high[c->n_fds] = fcntl(ready[1], F_DUPFD_CLOEXEC, 64)) < 0)
			_exit(127);
		for (size_t i = 0; i < c->n_fds; i++)
			if (dup2(high[i], CHILD_FIRST_FD + (int)i) < 0)
				_exit(127);
		if (dup2(high[c->n_fds], target) < 0)
			_exit(127);
		execve("/proc/self/exe", c->argv, c->envp);
		_exit(127);
	}
	close(ready[1]);
	c->pid = pid;
	c->started_ms = evloop_now_ms();
	c->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (c->pidfd < 0 || evloop_add_fd(c->ev, c->pidfd, EPOLLIN, on_exit_fd, c) < 0) {
		int e = c->pidfd < 0 ? errno : ENOMEM;
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		if (c->pidfd >= 0)
			close(c->pidfd);
		c->pidfd = -1;
		c->pid = 0;
		close(ready[0]);
		return -e;
	}
	if (ret_ready)
		*ret_ready = ready[0];
	else if (evloop_add_fd(c->ev, ready[0], EPOLLIN, on_ready, c) == 0)
		c->ready = ready[0];
	else
		close(ready[0]);
	return 0;
}

/* A restarted process serves once it wrote its byte (an end of file: it died first, on_exit_fd says why). */
static void on_ready(struct evloop *ev, int fd, uint32_t events, void *ud)
{
	struct child *c = ud;
	char byte;
	(void)ev;
	(void)events;
	if (read(fd, &byte, 1) == 1)
		log_info("%s: the %s runs again (pid %d)", c->tag, c->name, (int)c->pid);
	ready_done(c);
}

static void reap(struct child *c, int *ret_status)
{
	int st = 0;
	ready_done(c);
	evloop_del_fd(c->ev, c->pidfd);
	close(c->pidfd);
	c->pidfd = -1;
	while (waitpid(c->pid, &st, 0) < 0 && errno == EINTR)
		;
	c->pid = 0;
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
	struct child *c = ud;
	int r;
	(void)ev;
	c->restart_timer = 0;
	if ((r = spawn(c, NULL)) < 0) {
		log_error("%s: cannot start the %s again: %s; next try in %u s", c->tag, c->name, strerror(-r),
			  c->backoff_ms / 1000);
		c->restart_timer = evloop_timer(c->ev, c->backoff_ms, on_restart, c);
		c->backoff_ms = c->backoff_ms * 2 > RESTART_MAX_MS ? RESTART_MAX_MS : c->backoff_ms * 2;
		return;
	}
	log_debug("%s: started the %s again (pid %d)", c->tag, c->name, (int)c->pid);
}

static void on_exit_fd(struct evloop *ev, int fd, uint32_t events, void *ud)
{
	struct child *c = ud;
	uint64_t ran = evloop_now_ms() - c->started_ms;
	pid_t pid = c->pid;
	char how[96];
	int st;
	(void)ev;
	(void)fd;
	(void)events;
	reap(c, &st);
	describe(st, how, sizeof(how));
	if (ran >= RAN_LONG_MS)
		c->backoff_ms = RESTART_FIRST_MS;
	log_error("%s: the sandboxed %s (pid %d) %s after %llu s; starting it again in %u s", c->tag, c->name,
		  (int)pid, how, (unsigned long long)(ran / 1000), c->backoff_ms / 1000);
	c->restart_timer = evloop_timer(c->ev, c->backoff_ms, on_restart, c);
	c->backoff_ms = c->backoff_ms * 2 > RESTART_MAX_MS ? RESTART_MAX_MS : c->backoff_ms * 2;
}

int child_start(struct evloop *ev, const struct child_spec *spec, struct child **ret)
{
	struct child *c = calloc(1, sizeof(*c));
	struct pollfd pfd;
	size_t n = 0;
	char byte;
	int ready = -1, r;

	if (!c)
		return -ENOMEM;
	if (spec->n_fds > CHILD_MAX_FDS) {
		free(c);
		return -EINVAL;
	}
	c->ev = ev;
	c->pidfd = -1;
	c->ready = -1;
	c->backoff_ms = RESTART_FIRST_MS;
	snprintf(c->tag, sizeof(c->tag), "%s", spec->tag);
	snprintf(c->name, sizeof(c->name), "%s", spec->name);
	memcpy(c->fds, spec->fds, spec->n_fds * sizeof(int));
	c->n_fds = spec->n_fds;
	snprintf(c->args[0], sizeof(c->args[0]), "--sandboxed-%s", spec->tag);
	c->argv[0] = (char *)"bootwaved";
	c->argv[1] = c->args[0];
	c->argv[2] = c->args[1]; /* the parent's pid, at each spawn */
	for (n = 0; n < CHILD_MAX_ARGS && spec->args[n]; n++) {
		snprintf(c->args[n + 2], sizeof(c->args[n + 2]), "%s", spec->args[n]);
		c->argv[n + 3] = c->args[n + 2];
	}
	c->argv[n + 3] = NULL;
	/* A clean environment; the sanitizer builds keep their options (no leak
	 * check: it needs ptrace and /proc, which the sandbox takes away). */
	{
		int k = 0;
#ifdef __SANITIZE_ADDRESS__
		const char *asan = getenv("ASAN_OPTIONS"), *ubsan = getenv("UBSAN_OPTIONS");
		snprintf(c->asan_env, sizeof(c->asan_env), "ASAN_OPTIONS=%s%sdetect_leaks=0", asan ? asan : "",
			 asan && *asan ? ":" : "");
		c->envp[k++] = c->asan_env;
		if (ubsan) {
			snprintf(c->ubsan_env, sizeof(c->ubsan_env), "UBSAN_OPTIONS=%s", ubsan);
			c->envp[k++] = c->ubsan_env;
		}
#endif
		c->envp[k] = NULL;
	}
	if ((r = spawn(c, &ready)) < 0) {
		log_error("%s: cannot start the %s process: %s", c->tag, c->name, strerror(-r));
		goto fail;
	}
	/* Serving once it wrote its byte; an end of file first: it failed (and said why). */
	pfd = (struct pollfd){ .fd = ready, .events = POLLIN };
	r = poll(&pfd, 1, READY_TIMEOUT_MS);
	if (r <= 0 || read(ready, &byte, 1) != 1) {
		int st = 0;
		char how[96];
		kill(c->pid, SIGKILL);
		reap(c, &st);
		describe(st, how, sizeof(how));
		log_error("%s: the sandboxed %s did not start: it %s", c->tag, c->name,
			  r == 0 ? "did not answer in 10 s" : how);
		r = -ECHILD;
		goto fail;
	}
	close(ready);
	log_info("%s: the %s runs sandboxed as %s (pid %d)", c->tag, c->name, geteuid() == 0 ? spec->user : "this user",
		 (int)c->pid);
	*ret = c;
	return 0;
fail:
	if (ready >= 0)
		close(ready);
	free(c);
	return r;
}

int child_pid(const struct child *c) { return c ? (int)c->pid : 0; }

void child_stop(struct child *c)
{
	if (!c)
		return;
	if (c->restart_timer)
		evloop_timer_cancel(c->ev, c->restart_timer);
	if (c->pid) {
		struct pollfd pfd = { .fd = c->pidfd, .events = POLLIN };
		int st;
		kill(c->pid, SIGTERM);
		if (poll(&pfd, 1, STOP_TIMEOUT_MS) <= 0) {
			log_warn("%s: the %s (pid %d) did not stop in 5 s: killed", c->tag, c->name, (int)c->pid);
			kill(c->pid, SIGKILL);
		}
		reap(c, &st);
	}
	free(c);
}
