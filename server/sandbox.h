/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Privilege separation: what a process of bootwaved that parses untrusted
 * bytes gives up before it reads the first one. sandbox_enter, called
 * once its sockets and files are open: chroot into a directory (so no
 * path leads to the store or the keys), switch to an unprivileged user
 * (all capabilities gone, supplementary groups dropped, no way back),
 * no new privileges, not dumpable, and a seccomp filter that allows only
 * the system calls of its profile. A call outside the profile kills the
 * process after one line on stderr naming the call's number.
 */
#ifndef BW_SANDBOX_H
#define BW_SANDBOX_H

#include <stddef.h>

enum sandbox_profile {
	/* The TFTP server: UDP sockets, reading files it opens under its root,
	 * its event loop, logging to stderr. No TCP, no connect, no exec, no
	 * file opened for writing. */
	SANDBOX_TFTP,
	/* The DHCP listener (boot/dhcp_listen.h): receiving datagrams on the
	 * sockets it was given, sending only on SANDBOX_DHCP_OUT_FD (its
	 * records to bootwaved). No socket of its own, no file, no exec. */
	SANDBOX_DHCP,
};

#define SANDBOX_DHCP_OUT_FD 5

/* Exit status of a process killed by its filter (after the line on stderr). */
#define SANDBOX_EXIT_SYSCALL 159

/*
 * user: the account to become when running as root (ignored otherwise:
 * an unprivileged process cannot switch, it keeps its own). root: the
 * directory to chroot into (as root; otherwise only the working directory;
 * NULL: none). 0, or <0 with why set.
 */
int sandbox_enter(const char *user, const char *root, enum sandbox_profile p, char *why, size_t size);

#endif
