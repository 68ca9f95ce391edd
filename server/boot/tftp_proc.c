// SPDX-License-Identifier: Apache-2.0
/* The TFTP server in its own sandboxed process: see tftp_proc.h. */
#include "tftp_proc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "child.h"
#include "log.h"
#include "sandbox.h"
#include "tftp.h"

#define CHILD_SOCKET_FD CHILD_FIRST_FD

struct tftp_proc {
	struct child *child;
	int fd; /* the bound socket, kept for the next process */
};

/* ---- the process ---- */

int tftp_proc_main(int argc, char **argv)
{
	struct tftp_config tc;
	struct tftp_server *s = NULL;
	struct evloop *ev = NULL;
	enum log_level lvl;
	int r;

	tftp_config_default(&tc);
	if (!child_begin(argc, argv, 1, "bootwaved-tftp") || argc != 11 || log_level_parse(argv[5], &lvl) < 0 ||
	    !child_arg_uint(argv[6], 4096, &tc.max_transfers) || !child_arg_uint(argv[7], 60000, &tc.timeout_ms) ||
	    !child_arg_uint(argv[8], 20, &tc.retries) || !child_arg_uint(argv[9], 65464, &tc.max_blksize) ||
	    !child_arg_uint(argv[10], 256, &tc.max_windowsize)) {
		fprintf(stderr, "bootwaved --sandboxed-tftp: started by bootwaved only\n");
		return 2;
	}
	log_set_level(lvl);
	tc.root = argv[3];
	if ((r = evloop_new(&ev)) < 0 || (r = tftp_server_new(ev, CHILD_SOCKET_FD, &tc, &s)) < 0) {
		log_error("tftp: cannot serve %s: %s", tc.root, strerror(-r));
		return 1;
	}
	r = child_serve(ev, "tftp", argv[4], tc.root, SANDBOX_TFTP);
	tftp_server_free(s);
	evloop_free(ev);
	return r;
}

/* ---- bootwaved's side ---- */

int tftp_proc_start(struct evloop *ev, int fd, const struct config *cfg, struct tftp_proc **ret)
{
	struct tftp_proc *p = calloc(1, sizeof(*p));
	char nums[5][24];
	struct child_spec spec = {
		.tag = "tftp", .name = "TFTP server", .user = cfg->user,
		.args = { cfg->firmware_dir, cfg->user, cfg->log_level, nums[0], nums[1], nums[2], nums[3], nums[4] },
		.fds = { fd }, .n_fds = 1,
	};
	int r;

	if (!p) {
		close(fd);
		return -ENOMEM;
	}
	snprintf(nums[0], sizeof(nums[0]), "%lld", (long long)cfg->tftp_max_transfers);
	snprintf(nums[1], sizeof(nums[1]), "%lld", (long long)cfg->tftp_timeout_ms);
	snprintf(nums[2], sizeof(nums[2]), "%lld", (long long)cfg->tftp_retries);
	snprintf(nums[3], sizeof(nums[3]), "%lld", (long long)cfg->tftp_max_blksize);
	snprintf(nums[4], sizeof(nums[4]), "%lld", (long long)cfg->tftp_max_windowsize);
	p->fd = fd;
	if ((r = child_start(ev, &spec, &p->child)) < 0) {
		close(fd);
		free(p);
		return r;
	}
	*ret = p;
	return 0;
}

int tftp_proc_pid(const struct tftp_proc *p) { return p ? child_pid(p->child) : 0; }

void tftp_proc_stop(struct tftp_proc *p)
{
	if (!p)
		return;
	child_stop(p->child);
	close(p->fd);
	free(p);
}
