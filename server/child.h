/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A part of bootwaved that parses untrusted bytes, run as its own process:
 * bootwaved opens what it needs (sockets), then runs itself again (a fresh
 * image: no store, no key, no token in its memory) as
 * `bootwaved --sandboxed-NAME PPID ARGS...` with those descriptors as fd 3,
 * 4, ... That process enters its sandbox (sandbox.h) before it reads a
 * byte. bootwaved watches it (a pidfd on the caller's loop) and starts it
 * again when it dies, after 1 s doubling to 30 s, so a crash or a kill
 * costs retransmissions, not the service. The TFTP server
 * (boot/tftp_proc.h) and the DHCP listener (boot/dhcp_listen.h) run so.
 */
#ifndef BW_CHILD_H
#define BW_CHILD_H

#include <stdbool.h>
#include <stddef.h>

#include "evloop.h"
#include "sandbox.h"

#define CHILD_FIRST_FD 3
#define CHILD_MAX_FDS 4
#define CHILD_MAX_ARGS 10

struct child_spec {
	const char *tag;   /* log prefix and the mode: "tftp" -> --sandboxed-tftp */
	const char *name;  /* in log lines: "TFTP server" */
	const char *user;  /* the account it becomes (for the log line) */
	const char *args[CHILD_MAX_ARGS]; /* its arguments after the parent's pid; NULL-terminated */
	int fds[CHILD_MAX_FDS];           /* handed over as fd 3, 4, ...; stay the caller's */
	size_t n_fds;
};

struct child;

/*
 * Starts the process and waits until it says it serves (it has entered its
 * sandbox). -errno if it could not start (the reason is logged, by it or
 * here). The spec's descriptors must stay open until child_stop.
 */
int child_start(struct evloop *ev, const struct child_spec *spec, struct child **ret);
/* Stops the process (SIGTERM, then SIGKILL after 5 s) and frees c (NULL is fine). ev must still exist. */
void child_stop(struct child *c);
/* The running process, 0 while it is being started again. */
int child_pid(const struct child *c);

/* ---- in the process ---- */

/*
 * First thing in `bootwaved --sandboxed-NAME`: closes every descriptor but
 * its n_fds and the ready pipe, checks that argv[2] is its parent (false:
 * not started by bootwaved), dies with it, takes its name (15 characters
 * at most: "bootwaved-tftp").
 */
bool child_begin(int argc, char **argv, size_t n_fds, const char *procname);
/*
 * The rest of the process's life once its loop is set up: SIGTERM stops
 * ev's loop, it enters its sandbox (sandbox_enter(user, root, profile)),
 * tells bootwaved that it serves, and runs ev until SIGTERM. Returns the
 * process's exit status (1 if it could not, said on stderr as "TAG: why").
 */
int child_serve(struct evloop *ev, const char *tag, const char *user, const char *root,
		enum sandbox_profile profile);
/* A decimal argument up to max. */
bool child_arg_uint(const char *s, unsigned long max, unsigned *ret);

#endif
