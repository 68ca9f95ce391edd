/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The TFTP server in its own process (child.h): bootwaved binds port 69,
 * then runs `bootwaved --sandboxed-tftp ...` with the socket as fd 3. That
 * process opens the firmware directory, chroots into it, becomes
 * [daemon] user and loads the SANDBOX_TFTP seccomp filter (sandbox.h)
 * before it reads a datagram. bootwaved starts it again when it dies.
 */
#ifndef BW_TFTP_PROC_H
#define BW_TFTP_PROC_H

#include "config.h"
#include "evloop.h"

struct tftp_proc;

/*
 * Starts the sandboxed server on fd (a bound UDP socket; taken over, closed
 * on failure too) and waits until it serves. -errno if it could not start
 * (the reason is logged, by it or here).
 */
int tftp_proc_start(struct evloop *ev, int fd, const struct config *cfg, struct tftp_proc **ret);

/* Stops the process (SIGTERM, then SIGKILL after 5 s) and frees p (NULL is fine). ev must still exist. */
void tftp_proc_stop(struct tftp_proc *p);

/* The running process, 0 while it is being started again. */
int tftp_proc_pid(const struct tftp_proc *p);

/* `bootwaved --sandboxed-tftp ...`: the process itself (server/main.c hands over). */
int tftp_proc_main(int argc, char **argv);

#endif
