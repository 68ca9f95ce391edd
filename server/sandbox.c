// SPDX-License-Identifier: Apache-2.0
/* Privilege separation: see sandbox.h. */
#include "sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util.h"

/* One line naming the call, then out: async-signal-safe (write, _exit). */
static void on_sigsys(int sig, siginfo_t *si, void *uc)
{
	char msg[96] = "bootwaved: sandbox: system call ", num[12];
	size_t n = strlen(msg), k = 0;
	unsigned v = (unsigned)si->si_syscall;
	(void)sig;
	(void)uc;
	do
		num[k++] = (char)('0' + v % 10);
	while ((v /= 10) && k < sizeof(num));
	while (k && n < sizeof(msg) - 1)
		msg[n++] = num[--k];
	static const char tail[] = " is not allowed; exiting\n";
	for (size_t i = 0; tail[i] && n < sizeof(msg); i++)
		msg[n++] = tail[i];
	(void)!write(STDERR_FILENO, msg, n);
	_exit(SANDBOX_EXIT_SYSCALL);
}

/* System calls every profile needs: memory, time, its event loop, stderr, exiting. */
static const int base_calls[] = {
	SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(writev), SCMP_SYS(close), SCMP_SYS(fstat),
	SCMP_SYS(newfstatat), SCMP_SYS(statx), SCMP_SYS(lseek), SCMP_SYS(pread64), SCMP_SYS(mmap),
	SCMP_SYS(munmap), SCMP_SYS(mremap), SCMP_SYS(mprotect), SCMP_SYS(madvise), SCMP_SYS(brk),
	SCMP_SYS(futex), SCMP_SYS(epoll_wait), SCMP_SYS(epoll_pwait), SCMP_SYS(epoll_ctl), SCMP_SYS(fcntl),
	SCMP_SYS(clock_gettime), SCMP_SYS(clock_nanosleep), SCMP_SYS(nanosleep), SCMP_SYS(gettimeofday),
	SCMP_SYS(getpid), SCMP_SYS(gettid), SCMP_SYS(getppid), SCMP_SYS(getuid), SCMP_SYS(geteuid),
	SCMP_SYS(getgid), SCMP_SYS(getegid), SCMP_SYS(getrandom), SCMP_SYS(rt_sigreturn),
	SCMP_SYS(rt_sigprocmask), SCMP_SYS(restart_syscall), SCMP_SYS(sched_yield), SCMP_SYS(exit),
	SCMP_SYS(exit_group), SCMP_SYS(tgkill), SCMP_SYS(sigaltstack),
};

/* The TFTP server's: datagrams, and files opened under its root (openat2 for reading). */
static const int tftp_calls[] = {
	SCMP_SYS(bind), SCMP_SYS(setsockopt), SCMP_SYS(getsockopt), SCMP_SYS(getsockname), SCMP_SYS(recvfrom),
	SCMP_SYS(recvmsg), SCMP_SYS(recvmmsg), SCMP_SYS(sendto), SCMP_SYS(sendmsg), SCMP_SYS(sendmmsg),
	SCMP_SYS(openat2),
};

static int load_filter(enum sandbox_profile p, char *why, size_t size)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_TRAP);
	int r = ctx ? 0 : -ENOMEM;

	for (size_t i = 0; r == 0 && i < ARRAY_SIZE(base_calls); i++)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, base_calls[i], 0);
	if (p == SANDBOX_TFTP) {
		for (size_t i = 0; r == 0 && i < ARRAY_SIZE(tftp_calls); i++)
			r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, tftp_calls[i], 0);
		/* UDP over IPv4 or IPv6 only: no TCP, no netlink, no raw sockets. */
		for (int fam = 0; r == 0 && fam < 2; fam++)
			r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 2,
					     SCMP_A0(SCMP_CMP_EQ, fam ? AF_INET6 : AF_INET, 0),
					     SCMP_A1(SCMP_CMP_MASKED_EQ, 0xf, SOCK_DGRAM));
		/* openat only to read (openat2's flags are out of a filter's reach: the
		 * user and the chroot keep it from anything but the root's files). */
		if (r == 0)
			r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(openat), 1,
					     SCMP_A2(SCMP_CMP_MASKED_EQ, O_ACCMODE | O_CREAT | O_TRUNC, O_RDONLY));
	}
	if (p == SANDBOX_DHCP) {
		static const int recv_calls[] = { SCMP_SYS(recvfrom), SCMP_SYS(recvmsg), SCMP_SYS(recvmmsg) };
		static const int send_calls[] = { SCMP_SYS(sendto), SCMP_SYS(sendmsg) };
		for (size_t i = 0; r == 0 && i < ARRAY_SIZE(recv_calls); i++)
			r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, recv_calls[i], 0);
		for (size_t i = 0; r == 0 && i < ARRAY_SIZE(send_calls); i++)
			r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, send_calls[i], 1,
					     SCMP_A0(SCMP_CMP_EQ, SANDBOX_DHCP_OUT_FD, 0));
	}
	if (r == 0)
		r = seccomp_load(ctx);
	if (r < 0)
		snprintf(why, size, "cannot load the seccomp filter: %s", strerror(-r));
	seccomp_release(ctx);
	return r;
}

int sandbox_enter(const char *user, const char *root, enum sandbox_profile p, char *why, size_t size)
{
	struct sigaction sa = { .sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO };
	sigset_t sys;

	if (geteuid() == 0) {
		struct passwd *pw = getpwnam(user);
		if (!pw) {
			snprintf(why, size, "[daemon] user \"%s\": no such user (create it: useradd --system --no-create-home "
				 "--shell /usr/sbin/nologin %s)", user, user);
			return -ENOENT;
		}
		if (pw->pw_uid == 0 || pw->pw_gid == 0) {
			snprintf(why, size, "[daemon] user \"%s\": must not be root or in group root", user);
			return -EINVAL;
		}
		uid_t uid = pw->pw_uid;
		gid_t gid = pw->pw_gid;
		if (root && (chroot(root) < 0 || chdir("/") < 0)) {
			snprintf(why, size, "cannot chroot to %s: %s", root, strerror(errno));
			return -errno;
		}
		/* Capabilities out of the bounding set too, so that nothing executed could get one back. */
		for (int cap = 0; cap < 64; cap++)
			if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno == EINVAL)
				break;
		(void)prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
		if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0) {
			snprintf(why, size, "cannot become %s: %s", user, strerror(errno));
			return -errno;
		}
		if (setuid(0) == 0 || geteuid() == 0) {
			snprintf(why, size, "still root after switching to %s", user);
			return -EPERM;
		}
	} else if (root && chdir(root) < 0) {
		/* Not root: no chroot, but relative names still start at root. */
		snprintf(why, size, "cannot chdir to %s: %s", root, strerror(errno));
		return -errno;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) {
		snprintf(why, size, "prctl: %s", strerror(errno));
		return -errno;
	}
	sigemptyset(&sys);
	sigaddset(&sys, SIGSYS);
	if (sigaction(SIGSYS, &sa, NULL) < 0 || sigprocmask(SIG_UNBLOCK, &sys, NULL) < 0) {
		snprintf(why, size, "sigaction: %s", strerror(errno));
		return -errno;
	}
	return load_filter(p, why, size);
}
