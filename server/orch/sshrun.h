/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sshrun: runs one extension bundle on a node over SSH (libssh2), the last
 * step of a node's upgrade (DESIGN.md, "The path of one reimage"). One call
 * is one connection: TCP connect, handshake, the node's host key checked
 * against the key its agent reported (pinned), public key login with the
 * appliance key (sshkey.h), then three exec channels, since a node may
 * have nothing but busybox (no SFTP):
 *
 *   1. the bundle (a tar) on stdin of `tar -x` into a staging directory;
 *   2. settings.json on stdin of `cat`, then the staging directory replaces
 *      D = /var/lib/bootwave/extensions/NAME in one rename, so a failed
 *      upload leaves the previous version in place;
 *   3. `cd D && exec ./ENTRY` with BW_EXTENSION, BW_VERSION, BW_SETTINGS
 *      (D/settings.json) and the caller's variables exported; under
 *      `timeout -s KILL SECONDS` where the node has `timeout`, so a hung
 *      script dies on the node about when the run's deadline passes.
 *
 * One deadline bounds the whole call; the socket is non-blocking and every
 * wait is a poll() that ends at the deadline. A command is started only when
 * the node confirms it; a node that closes the channel before that, or the
 * connection before the channel opened (dropbear 2022.x does, now and then:
 * see open_exec), is connected to again from the start, SSHRUN_ATTEMPTS
 * connections in all. Safe to call from several threads at once (each call
 * has its own session). Does not log above debug.
 */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sshkey.h"

/* Where bundles go on a node: SSHRUN_DIR/NAME, staged in SSHRUN_DIR/.staging/NAME. */
#define SSHRUN_DIR "/var/lib/bootwave/extensions"
/* Longest extension name, version or entry path accepted. */
#define SSHRUN_NAME_MAX 128
/* Longest remote command; the run command carries env, so a larger env is refused (-EINVAL). */
#define SSHRUN_CMD_MAX 65536
/* How often a wait looks at the request's cancel flag. */
#define SSHRUN_CANCEL_MS 200
/*
 * Connections tried, within the deadline, when the node closes the channel
 * before it confirms a command, or the connection before the channel opened:
 * either way the command never started.
 */
#define SSHRUN_ATTEMPTS 5

struct sshrun_req {
	const char *host;        /* IPv4 literal */
	uint16_t port;           /* 0: 22 */
	const char *user;        /* NULL: "root" */
	const char *host_key;    /* the node's pinned OpenSSH public key line (what its agent reported) */
	const char *key_dir;     /* the appliance key's directory (sshkey_ensure's dir) */
	const char *name;        /* extension name: [A-Za-z0-9._-], not starting with '.' */
	const char *version;     /* extension version: [A-Za-z0-9._-] */
	const void *bundle;      /* an uncompressed POSIX tar of the extension's files */
	size_t bundle_len;       /* > 0 */
	const char *entry;       /* the script to run, relative to the bundle's top: "run", "bin/setup" */
	const char *settings;    /* JSON text, written as settings.json beside the bundle; NULL: "{}" */
	const char *const *env;  /* NULL-terminated "NAME=value" pairs exported to the script, or NULL */
	int timeout_s;           /* for the whole run: connect, upload, script; > 0 */
	size_t output_cap;       /* bytes kept per stream (stdout, stderr) */
	const atomic_bool *cancel; /* when it becomes true the run stops within SSHRUN_CANCEL_MS; may be NULL */
};

/* The step a run reached; the result's stage is where it stopped. */
enum sshrun_stage { SR_CONNECT, SR_HANDSHAKE, SR_HOSTKEY, SR_AUTH, SR_UPLOAD, SR_RUN, SR_DONE };

struct sshrun_result {
	enum sshrun_stage stage;
	int exit_status;               /* the script's, when stage == SR_DONE and it exited; -1 otherwise */
	char exit_signal[16];          /* the signal that killed it ("TERM"), or "" */
	bool timed_out;                /* the deadline passed (or the node's timeout killed the script) */
	bool host_key_mismatch;        /* the node presented another key than the pinned one */
	int attempts;                  /* connections made: more than 1 when the node dropped a command
					  before starting it (SSHRUN_ATTEMPTS) */
	char *out, *err;               /* the first output_cap bytes of stdout and stderr, NUL-terminated;
					  owned by the result (sshrun_result_free) */
	size_t out_len, err_len;
	uint64_t out_total, err_total; /* bytes the script wrote to each in all */
	char seen_key_fp[SSHKEY_FP_SIZE]; /* fingerprint of the key the node presented, or "" */
	char error[256];               /* one line, "HOST:PORT: " and the step and what failed; "" on success */
};

/*
 * Runs the bundle as described above. ret is always filled in (zeroed
 * first), also on failure; free it with sshrun_result_free. Returns 0 when
 * the script ran and exited 0, else:
 *   -EINVAL       a request field is unusable (also: no pinned host key); nothing was sent
 *   -ENOENT etc.  the appliance key could not be loaded (sshkey_load), nothing was sent
 *   -ECONNREFUSED etc.  the TCP connection failed (connect's errno)
 *   -EPROTO       the SSH handshake failed
 *   -EKEYREJECTED the host key is not the pinned one; nothing more was sent
 *   -EACCES       the node refused the appliance key
 *   -EIO          a channel could not be opened or the upload commands failed, or the node
 *                 closed the channel before starting the command SSHRUN_ATTEMPTS times, or
 *                 dropped the connection before confirming it (not tried again)
 *   -ECONNRESET   the connection broke while running
 *   -ETIMEDOUT    the deadline passed, or the node's `timeout` killed the script
 *   -ECANCELED    the cancel flag was set (the script, if started, is left to the node's `timeout`)
 *   -EREMOTEIO    the script exited with another status than 0 or was killed by a signal
 *   -ENOMEM
 */
int sshrun_run(const struct sshrun_req *q, struct sshrun_result *ret);

/* Frees what a result owns (not the struct itself); accepts NULL. */
void sshrun_result_free(struct sshrun_result *r);

/* "connect", "handshake", "host key", "auth", "upload", "run", "done". */
const char *sshrun_stage_name(enum sshrun_stage s);

/*
 * Whether s is usable as an extension name or version: 1 to SSHRUN_NAME_MAX
 * bytes of [A-Za-z0-9._-], not starting with '.'.
 */
bool sshrun_name_valid(const char *s);
