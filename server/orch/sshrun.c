// SPDX-License-Identifier: Apache-2.0
/*
 * sshrun: one extension run on a node over SSH (sshrun.h). libssh2 runs
 * non-blocking on a non-blocking socket; whenever it says EAGAIN we poll()
 * the socket in the directions it names, never past the run's deadline.
 * Channels are drained on both streams until EOF whatever the caller keeps,
 * so a script that floods its output neither stalls nor grows memory: a run
 * holds at most 2 * output_cap of output plus fixed buffers.
 */
#include "sshrun.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libssh2.h>

#include "log.h"
#include "util.h"

/* Bytes kept of an upload command's stderr, for the error line. */
#define UPLOAD_ERR_CAP 200
/* Bytes read from a channel at a time. */
#define READ_CHUNK 16384
/* Bytes handed to libssh2_channel_write at a time. */
#define WRITE_CHUNK 32768
/* Times session_free is retried when libssh2 says EAGAIN on a closed socket. */
#define FREE_TRIES 16
/* Pause before connecting again after the node dropped a command it had not started. */
#define RETRY_PAUSE_MS 100

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_status;

static void init_libssh2(void) { init_status = libssh2_init(0); }

const char *sshrun_stage_name(enum sshrun_stage s)
{
	switch (s) {
	case SR_CONNECT: return "connect";
	case SR_HANDSHAKE: return "handshake";
	case SR_HOSTKEY: return "host key";
	case SR_AUTH: return "auth";
	case SR_UPLOAD: return "upload";
	case SR_RUN: return "run";
	case SR_DONE: return "done";
	}
	return "?";
}

void sshrun_result_free(struct sshrun_result *r)
{
	if (!r)
		return;
	free(r->out);
	free(r->err);
	r->out = r->err = NULL;
}

static bool name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
	       c == '-';
}

bool sshrun_name_valid(const char *s)
{
	size_t n;

	if (!s || s[0] == '\0' || s[0] == '.')
		return false;
	for (n = 0; s[n]; n++)
		if (n >= SSHRUN_NAME_MAX || !name_char(s[n]))
			return false;
	return true;
}

/* "run", "bin/setup": components of name characters, none "." or "..". */
static bool entry_valid(const char *s)
{
	size_t comp = 0;

	if (!s || strlen(s) > SSHRUN_NAME_MAX)
		return false;
	for (const char *p = s;; p++) {
		if (*p == '/' || *p == '\0') {
			if (comp == 0 || (comp == 1 && p[-1] == '.') || (comp == 2 && p[-1] == '.' && p[-2] == '.'))
				return false;
			if (*p == '\0')
				return true;
			comp = 0;
		} else if (!name_char(*p)) {
			return false;
		} else {
			comp++;
		}
	}
}

/* "NAME=value" with a shell variable name. */
static bool env_valid(const char *s)
{
	const char *eq = s ? strchr(s, '=') : NULL;

	if (!eq || eq == s || (s[0] >= '0' && s[0] <= '9'))
		return false;
	for (const char *p = s; p < eq; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_'))
			return false;
	return true;
}

/* ---- a growing command line, with sh quoting ---- */

struct cmd {
	char *p;
	size_t len, cap;
	bool bad; /* out of memory, or longer than SSHRUN_CMD_MAX */
};

static void cmd_bytes(struct cmd *c, const char *s, size_t n)
{
	if (c->bad)
		return;
	if (c->len + n + 1 > SSHRUN_CMD_MAX) {
		c->bad = true;
		return;
	}
	if (c->len + n + 1 > c->cap) {
		size_t cap = c->cap ? c->cap : 512;
		char *np;
		while (cap < c->len + n + 1)
			cap *= 2;
		if (!(np = realloc(c->p, cap))) {
			c->bad = true;
			return;
		}
		c->p = np;
		c->cap = cap;
	}
	memcpy(c->p + c->len, s, n);
	c->len += n;
	c->p[c->len] = '\0';
}

static void cmd_add(struct cmd *c, const char *s) { cmd_bytes(c, s, strlen(s)); }

/* s as one sh word: in single quotes, each ' as '\'' (nothing is special inside). */
static void cmd_quote(struct cmd *c, const char *s)
{
	cmd_add(c, "'");
	for (const char *p = s; *p;) {
		size_t n = strcspn(p, "'");
		cmd_bytes(c, p, n);
		p += n;
		if (*p == '\'') {
			cmd_add(c, "'\\''");
			p++;
		}
	}
	cmd_add(c, "'");
}

/* VAR='dir/name' */
static void cmd_dir(struct cmd *c, const char *var, const char *dir, const char *name)
{
	cmd_add(c, var);
	cmd_add(c, "=");
	cmd_quote(c, dir);
	cmd_add(c, "/");
	cmd_quote(c, name);
}

/* ---- one run ---- */

struct run {
	const struct sshrun_req *q;
	struct sshrun_result *res;
	char where[80]; /* "HOST:PORT", escaped */
	int64_t deadline; /* CLOCK_MONOTONIC, ms */
	int fd;
	LIBSSH2_SESSION *s;
	bool unstarted; /* the command did not start: the channel closed unconfirmed, or no channel opened */
};

/* Bytes of one stream: the first cap kept (NUL-terminated), all counted. */
struct sink {
	char *buf;
	size_t len, alloc, cap;
	uint64_t total;
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

_printf_(2, 3) static void set_error(struct run *r, const char *fmt, ...)
{
	size_t n = (size_t)snprintf(r->res->error, sizeof(r->res->error), "%s: ", r->where);
	va_list ap;

	if (n >= sizeof(r->res->error))
		return;
	va_start(ap, fmt);
	vsnprintf(r->res->error + n, sizeof(r->res->error) - n, fmt, ap);
	va_end(ap);
}

/* libssh2's last error message, escaped. */
static const char *ssh_error(struct run *r, char *buf, size_t size)
{
	char *msg = NULL;
	int len = 0;

	libssh2_session_last_error(r->s, &msg, &len, 0);
	if (!msg || len <= 0)
		return "unknown error";
	return log_escape(msg, (size_t)len, buf, size);
}

static const char *step_words(enum sshrun_stage s)
{
	switch (s) {
	case SR_CONNECT: return "while connecting";
	case SR_HANDSHAKE: return "during the handshake";
	case SR_HOSTKEY: return "while checking the host key";
	case SR_AUTH: return "while logging in";
	case SR_UPLOAD: return "while uploading";
	default: return "while running";
	}
}

/* The error of a wait that failed (r is -ETIMEDOUT or a poll errno). */
static int wait_failed(struct run *r, int err)
{
	if (err == -ETIMEDOUT) {
		r->res->timed_out = true;
		if (r->res->stage == SR_RUN)
			set_error(r, "timed out after %d s while running %s", r->q->timeout_s, r->q->entry);
		else
			set_error(r, "timed out after %d s %s", r->q->timeout_s, step_words(r->res->stage));
	} else if (err == -ECANCELED) {
		set_error(r, "%s: cancelled", sshrun_stage_name(r->res->stage));
	} else {
		set_error(r, "%s: poll: %s", sshrun_stage_name(r->res->stage), strerror(-err));
	}
	return err;
}

static bool cancelled(const struct run *r) { return r->q->cancel && atomic_load(r->q->cancel); }

/* Waits for events on the socket until the deadline, looking at the cancel flag now and then. */
static int poll_until_deadline(struct run *r, short events)
{
	struct pollfd p = { .fd = r->fd, .events = events };

	for (;;) {
		int64_t left = r->deadline - now_ms();
		int n;

		if (cancelled(r))
			return -ECANCELED;
		if (left <= 0)
			return -ETIMEDOUT;
		if (r->q->cancel && left > SSHRUN_CANCEL_MS)
			left = SSHRUN_CANCEL_MS;
		n = poll(&p, 1, left > INT_MAX ? INT_MAX : (int)left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n > 0)
			return 0;
	}
}

/* After EAGAIN: wait until the socket is ready the way libssh2 needs it. */
static int wait_socket(struct run *r)
{
	int dir = libssh2_session_block_directions(r->s);
	short events = 0;

	if (dir & LIBSSH2_SESSION_BLOCK_INBOUND)
		events |= POLLIN;
	if (dir & LIBSSH2_SESSION_BLOCK_OUTBOUND)
		events |= POLLOUT;
	return poll_until_deadline(r, events ? events : POLLIN);
}

static int tcp_connect(struct run *r)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(r->q->port ? r->q->port : 22) };
	int one = 1, err = 0, w;
	socklen_t len = sizeof(err);

	inet_pton(AF_INET, r->q->host, &sa.sin_addr); /* checked by the caller */
	r->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (r->fd < 0) {
		err = errno;
		set_error(r, "connect: socket: %s", strerror(err));
		return -err;
	}
	if (connect(r->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (errno != EINPROGRESS) {
			err = errno;
			set_error(r, "connect: %s", strerror(err));
			return -err;
		}
		if ((w = poll_until_deadline(r, POLLOUT)) < 0)
			return wait_failed(r, w);
		if (getsockopt(r->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = errno;
		if (err) {
			set_error(r, "connect: %s", strerror(err));
			return -err;
		}
	}
	setsockopt(r->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return 0;
}

/*
 * The host key algorithms to offer: only the pinned key's, so a node with
 * several keys shows that one. RSA keys sign with rsa-sha2-* where libssh2
 * has them (1.11). Only names libssh2 lists as supported are passed on:
 * libssh2 1.10 strips unknown names with an overlapping memcpy.
 */
static int hostkey_prefs(struct run *r, const char *type, char *out, size_t size)
{
	static const char *const rsa[] = { "rsa-sha2-512", "rsa-sha2-256", "ssh-rsa", NULL };
	const char *const one[] = { type, NULL };
	const char *const *want = strcmp(type, "ssh-rsa") == 0 ? rsa : one;
	const char **algs = NULL;
	int n = libssh2_session_supported_algs(r->s, LIBSSH2_METHOD_HOSTKEY, &algs);
	size_t len = 0;

	out[0] = '\0';
	for (size_t i = 0; want[i] && len < size; i++)
		for (int k = 0; k < n; k++)
			if (strcmp(algs[k], want[i]) == 0) {
				len += (size_t)snprintf(out + len, size - len, "%s%s", len ? "," : "", want[i]);
				break;
			}
	if (n > 0)
		libssh2_free(r->s, algs);
	return out[0] && len < size ? 0 : -EPROTO;
}

static int handshake(struct run *r, const char *type)
{
	char msg[128], prefs[128];
	int rc, w;

	r->res->stage = SR_HANDSHAKE;
	if (hostkey_prefs(r, type, prefs, sizeof(prefs)) < 0 ||
	    libssh2_session_method_pref(r->s, LIBSSH2_METHOD_HOSTKEY, prefs) < 0) {
		set_error(r, "handshake: this libssh2 cannot check %s host keys", type);
		return -EPROTO;
	}
	while ((rc = libssh2_session_handshake(r->s, r->fd)) == LIBSSH2_ERROR_EAGAIN)
		if ((w = wait_socket(r)) < 0)
			return wait_failed(r, w);
	if (rc < 0) {
		set_error(r, "handshake: %s", ssh_error(r, msg, sizeof(msg)));
		return -EPROTO;
	}
	return 0;
}

static int check_hostkey(struct run *r, const uint8_t *pinned, size_t pinned_len)
{
	char pinned_fp[SSHKEY_FP_SIZE];
	const char *key;
	size_t len = 0;
	int type;

	r->res->stage = SR_HOSTKEY;
	key = libssh2_session_hostkey(r->s, &len, &type);
	if (!key || len == 0) {
		set_error(r, "host key: the node presented none");
		return -EPROTO;
	}
	sshkey_fingerprint((const uint8_t *)key, len, r->res->seen_key_fp);
	if (len != pinned_len || memcmp(key, pinned, len) != 0) {
		sshkey_fingerprint(pinned, pinned_len, pinned_fp);
		r->res->host_key_mismatch = true;
		set_error(r, "host key %s is not the pinned %s", r->res->seen_key_fp, pinned_fp);
		return -EKEYREJECTED;
	}
	return 0;
}

static int auth(struct run *r, const char *user, const char *pub, const char *priv, size_t priv_len)
{
	char msg[128];
	int rc, w;

	r->res->stage = SR_AUTH;
	while ((rc = libssh2_userauth_publickey_frommemory(r->s, user, strlen(user), pub, strlen(pub), priv,
							   priv_len, NULL)) == LIBSSH2_ERROR_EAGAIN)
		if ((w = wait_socket(r)) < 0)
			return wait_failed(r, w);
	if (rc == LIBSSH2_ERROR_AUTHENTICATION_FAILED || rc == LIBSSH2_ERROR_PUBLICKEY_UNVERIFIED) {
		set_error(r, "auth: the node refused the appliance key for user %s", user);
		return -EACCES;
	}
	if (rc < 0) {
		set_error(r, "auth: %s", ssh_error(r, msg, sizeof(msg)));
		return rc == LIBSSH2_ERROR_SOCKET_DISCONNECT ? -ECONNRESET : -EPROTO;
	}
	return 0;
}

static int sink_add(struct sink *k, const char *data, size_t n)
{
	size_t take = k->cap - k->len < n ? k->cap - k->len : n;

	k->total += n;
	if (take == 0)
		return 0;
	if (k->len + take + 1 > k->alloc) {
		size_t alloc = k->alloc < 256 ? 256 : k->alloc;
		char *nb;
		while (alloc < k->len + take + 1)
			alloc *= 2;
		if (alloc > k->cap + 1)
			alloc = k->cap + 1;
		if (!(nb = realloc(k->buf, alloc)))
			return -ENOMEM;
		k->buf = nb;
		k->alloc = alloc;
	}
	memcpy(k->buf + k->len, data, take);
	k->len += take;
	k->buf[k->len] = '\0';
	return 0;
}

/* How a channel ended. */
struct chan_end {
	int status;      /* exit status, or -1 if killed by a signal */
	char signal[16]; /* the signal's name, or "" */
};

/* libssh2 errors that mean the connection is gone. */
static bool connection_lost(int e)
{
	return e == LIBSSH2_ERROR_SOCKET_DISCONNECT || e == LIBSSH2_ERROR_SOCKET_RECV || e == LIBSSH2_ERROR_SOCKET_SEND;
}

/*
 * Opens a channel and asks the node to run cmd; the node confirms a command
 * it started (SSH_MSG_CHANNEL_SUCCESS). A channel the node closes before
 * confirming was never given a process, so the command did not run:
 * r->unstarted is set, for the caller to try again; likewise when the
 * connection is lost before the channel opened. dropbear 2022.x (Debian
 * 12's) does this now and then: a SIGCHLD that lands while a new channel has
 * no process yet makes it close that channel and drop the exec request
 * unanswered (libssh2 would wait for the answer until our deadline), and at
 * times abort the session on an assertion. A connection lost after the
 * request was sent leaves it unknown whether the command started: that is
 * an error, not tried again.
 */
static int open_exec(struct run *r, const char *cmd, LIBSSH2_CHANNEL **ret)
{
	LIBSSH2_CHANNEL *ch;
	char msg[128];
	int rc, w;

	while (!(ch = libssh2_channel_open_session(r->s))) {
		int e = libssh2_session_last_errno(r->s);
		if (e != LIBSSH2_ERROR_EAGAIN) {
			r->unstarted = connection_lost(e);
			set_error(r, "%s: open channel: %s", sshrun_stage_name(r->res->stage),
				  ssh_error(r, msg, sizeof(msg)));
			return -EIO;
		}
		if ((w = wait_socket(r)) < 0)
			return wait_failed(r, w);
	}
	/* From here the session owns the channel: session_free frees it. */
	*ret = ch;
	while ((rc = libssh2_channel_exec(ch, cmd)) == LIBSSH2_ERROR_EAGAIN) {
		/* Closed unanswered: no answer will come. */
		if (libssh2_channel_eof(ch) == 1) {
			rc = LIBSSH2_ERROR_CHANNEL_CLOSED;
			break;
		}
		if ((w = wait_socket(r)) < 0)
			return wait_failed(r, w);
	}
	if (rc < 0) {
		if (rc == LIBSSH2_ERROR_CHANNEL_CLOSED || libssh2_channel_eof(ch) == 1) {
			r->unstarted = true;
			set_error(r, "%s: the node closed the channel before starting the command",
				  sshrun_stage_name(r->res->stage));
		} else if (connection_lost(rc)) {
			/* Not known whether it started: not tried again. */
			set_error(r, "%s: the node dropped the connection before confirming the command",
				  sshrun_stage_name(r->res->stage));
		} else {
			set_error(r, "%s: exec: %s", sshrun_stage_name(r->res->stage), ssh_error(r, msg, sizeof(msg)));
		}
		return -EIO;
	}
	return 0;
}

/*
 * Feeds in[in_len] to the channel's stdin, then EOF, and reads stdout and
 * stderr into out and err until the node ends both; then closes the channel
 * and reads how the command ended. Returns 0 or the error it has set.
 */
static int pump(struct run *r, LIBSSH2_CHANNEL *ch, const void *in, size_t in_len, struct sink *out,
		struct sink *err, struct chan_end *ret_end)
{
	const char *input = in;
	char buf[READ_CHUNK], msg[128];
	size_t sent = 0;
	bool eof_sent = false;
	char *sig = NULL;
	size_t sig_len = 0;
	int rc, w;

	for (;;) {
		bool progress = false, ended[2] = { false, false };

		/* A stream that never pauses must not outlive the deadline either. */
		if (cancelled(r))
			return wait_failed(r, -ECANCELED);
		if (now_ms() >= r->deadline)
			return wait_failed(r, -ETIMEDOUT);

		if (sent < in_len) {
			ssize_t n = libssh2_channel_write(ch, input + sent,
							  in_len - sent < WRITE_CHUNK ? in_len - sent : WRITE_CHUNK);
			if (n > 0) {
				sent += (size_t)n;
				progress = true;
			} else if (n != LIBSSH2_ERROR_EAGAIN) {
				/* The command stopped reading (exited): its status says why. */
				sent = in_len;
				eof_sent = true;
			}
		}
		if (sent == in_len && !eof_sent) {
			rc = libssh2_channel_send_eof(ch);
			if (rc != LIBSSH2_ERROR_EAGAIN) {
				eof_sent = true;
				progress = true;
			}
		}
		for (int stream = 0; stream < 2; stream++) {
			struct sink *k = stream ? err : out;
			ssize_t n;

			while ((n = libssh2_channel_read_ex(ch, stream ? SSH_EXTENDED_DATA_STDERR : 0, buf, sizeof(buf))) >
			       0) {
				progress = true;
				if (sink_add(k, buf, (size_t)n) < 0) {
					set_error(r, "%s: out of memory", sshrun_stage_name(r->res->stage));
					return -ENOMEM;
				}
			}
			if (n == 0)
				ended[stream] = true;
			else if (n != LIBSSH2_ERROR_EAGAIN) {
				set_error(r, "%s: read: %s", sshrun_stage_name(r->res->stage),
					  ssh_error(r, msg, sizeof(msg)));
				return -ECONNRESET;
			}
		}
		/*
		 * Both streams say "no more": the node sent EOF (or the connection
		 * broke, which libssh2 reports the same way; closing tells them apart).
		 */
		if (ended[0] && ended[1] && eof_sent)
			break;
		if (!progress && (w = wait_socket(r)) < 0)
			return wait_failed(r, w);
	}

	while ((rc = libssh2_channel_close(ch)) == LIBSSH2_ERROR_EAGAIN)
		if ((w = wait_socket(r)) < 0)
			return wait_failed(r, w);
	if (rc == 0)
		while ((rc = libssh2_channel_wait_closed(ch)) == LIBSSH2_ERROR_EAGAIN)
			if ((w = wait_socket(r)) < 0)
				return wait_failed(r, w);
	if (rc < 0) {
		set_error(r, "%s: connection lost: %s", sshrun_stage_name(r->res->stage), ssh_error(r, msg, sizeof(msg)));
		return -ECONNRESET;
	}

	ret_end->status = libssh2_channel_get_exit_status(ch);
	ret_end->signal[0] = '\0';
	if (libssh2_channel_get_exit_signal(ch, &sig, &sig_len, NULL, NULL, NULL, NULL) == 0 && sig) {
		/* A name from the node: keep it only if it looks like one. */
		size_t n = 0;
		while (n < sig_len && n + 1 < sizeof(ret_end->signal) &&
		       ((sig[n] >= 'A' && sig[n] <= 'Z') || (sig[n] >= '0' && sig[n] <= '9')))
			n++;
		memcpy(ret_end->signal, sig, n);
		ret_end->signal[n] = '\0';
		if (n == 0)
			strcpy(ret_end->signal, "?");
		ret_end->status = -1;
		libssh2_free(r->s, sig);
	}
	while ((rc = libssh2_channel_free(ch)) == LIBSSH2_ERROR_EAGAIN)
		if ((w = wait_socket(r)) < 0)
			return wait_failed(r, w);
	return 0;
}

/* One upload command: stdin in[len], must exit 0. */
static int upload_step(struct run *r, const char *what, const char *cmd, const void *in, size_t len)
{
	struct sink out = { .cap = 0 }, err = { .cap = UPLOAD_ERR_CAP };
	struct chan_end end;
	LIBSSH2_CHANNEL *ch = NULL;
	char text[UPLOAD_ERR_CAP * 4 + 1];
	int rc;

	rc = open_exec(r, cmd, &ch);
	if (rc == 0)
		rc = pump(r, ch, in, len, &out, &err, &end);
	if (rc == 0 && (end.status != 0 || end.signal[0])) {
		/* The first line of what the command said, e.g. "tar: invalid tar magic". */
		size_t n = err.len ? strcspn(err.buf, "\n") : 0;
		log_escape(err.buf ? err.buf : "", n, text, sizeof(text));
		if (end.signal[0])
			set_error(r, "upload: %s was killed by signal %s%s%s", what, end.signal, n ? ": " : "", text);
		else
			set_error(r, "upload: %s exited with status %d%s%s", what, end.status, n ? ": " : "", text);
		rc = -EIO;
	}
	free(out.buf);
	free(err.buf);
	return rc;
}

static int upload(struct run *r)
{
	const struct sshrun_req *q = r->q;
	const char *settings = q->settings ? q->settings : "{}";
	struct cmd c = { 0 };
	int rc;

	r->res->stage = SR_UPLOAD;
	/* 1: unpack into the staging directory. */
	cmd_add(&c, "umask 077 && ");
	cmd_dir(&c, "S", SSHRUN_DIR "/.staging", q->name);
	/* -o: files owned by root, not by whoever the archive names (GNU tar and busybox alike). */
	cmd_add(&c, " && rm -rf \"$S\" && mkdir -p \"$S\" && tar -x -o -f - -C \"$S\"");
	rc = c.bad ? -ENOMEM : upload_step(r, "tar", c.p, q->bundle, q->bundle_len);
	c.len = 0;
	if (rc < 0)
		goto out;
	/* 2: settings beside it (never through a link the bundle brought), then the swap. */
	cmd_add(&c, "umask 077 && ");
	cmd_dir(&c, "S", SSHRUN_DIR "/.staging", q->name);
	cmd_add(&c, " && ");
	cmd_dir(&c, "D", SSHRUN_DIR, q->name);
	cmd_add(&c, " && rm -f \"$S/settings.json\" && cat > \"$S/settings.json\" && rm -rf \"$D\" && mv \"$S\" \"$D\"");
	rc = c.bad ? -ENOMEM : upload_step(r, "settings", c.p, settings, strlen(settings));
out:
	if (rc == -ENOMEM && !r->res->error[0])
		set_error(r, "upload: out of memory");
	free(c.p);
	return rc;
}

static int run_entry(struct run *r)
{
	const struct sshrun_req *q = r->q;
	struct sink out = { .cap = q->output_cap }, err = { .cap = q->output_cap };
	struct chan_end end = { .status = -1 };
	LIBSSH2_CHANNEL *ch = NULL;
	struct cmd c = { 0 };
	int64_t started = now_ms(), left = r->deadline - started;
	/* Whole seconds left, so the node kills the script no later than our deadline (but at least 1). */
	long limit = left / 1000 > 0 ? (long)(left / 1000) : 1;
	char num[24];
	int rc;

	r->res->stage = SR_RUN;
	cmd_dir(&c, "D", SSHRUN_DIR, q->name);
	cmd_add(&c, "; cd \"$D\" || exit 126; export");
	for (const char *const *e = q->env; e && *e; e++) {
		const char *eq = strchr(*e, '=');
		cmd_add(&c, " ");
		cmd_bytes(&c, *e, (size_t)(eq - *e) + 1);
		cmd_quote(&c, eq + 1);
	}
	cmd_add(&c, " BW_EXTENSION=");
	cmd_quote(&c, q->name);
	cmd_add(&c, " BW_VERSION=");
	cmd_quote(&c, q->version);
	cmd_add(&c, " BW_SETTINGS=\"$D/settings.json\"; if command -v timeout >/dev/null 2>&1; then exec timeout -s KILL ");
	snprintf(num, sizeof(num), "%ld", limit);
	cmd_add(&c, num);
	cmd_add(&c, " ./");
	cmd_quote(&c, q->entry);
	cmd_add(&c, "; fi; exec ./");
	cmd_quote(&c, q->entry);
	if (c.bad) { /* its length was checked with the request */
		free(c.p);
		set_error(r, "run: out of memory");
		return -ENOMEM;
	}

	rc = open_exec(r, c.p, &ch);
	free(c.p);
	if (rc == 0)
		rc = pump(r, ch, NULL, 0, &out, &err, &end);
	/* What the script wrote so far is the caller's, also on failure. */
	if (out.buf) {
		free(r->res->out);
		r->res->out = out.buf;
		r->res->out_len = out.len;
	}
	if (err.buf) {
		free(r->res->err);
		r->res->err = err.buf;
		r->res->err_len = err.len;
	}
	r->res->out_total = out.total;
	r->res->err_total = err.total;
	if (rc < 0)
		return rc;

	/* Killed on the node by `timeout` once its limit passed: the deadline's doing. */
	if ((str_eq(end.signal, "KILL") || end.status == 128 + 9) && now_ms() - started >= limit * 1000 - 100) {
		r->res->timed_out = true;
		set_error(r, "timed out after %d s while running %s", q->timeout_s, q->entry);
		return -ETIMEDOUT;
	}
	r->res->stage = SR_DONE;
	r->res->exit_status = end.status;
	if (end.signal[0]) {
		str_copy(r->res->exit_signal, sizeof(r->res->exit_signal), end.signal);
		set_error(r, "%s was killed by signal %s", q->entry, end.signal);
		return -EREMOTEIO;
	}
	if (end.status != 0) {
		set_error(r, "%s exited with status %d", q->entry, end.status);
		return -EREMOTEIO;
	}
	return 0;
}

/* Ends the session: a polite disconnect after a good run, else just the socket. */
static void teardown(struct run *r, bool polite)
{
	if (r->s) {
		int rc;
		if (polite)
			while ((rc = libssh2_session_disconnect(r->s, "done")) == LIBSSH2_ERROR_EAGAIN)
				if (wait_socket(r) < 0)
					break;
		/* With the socket shut, libssh2 cannot wait on it: free does not block. */
		if (r->fd >= 0)
			shutdown(r->fd, SHUT_RDWR);
		for (int i = 0; i < FREE_TRIES; i++)
			if (libssh2_session_free(r->s) != LIBSSH2_ERROR_EAGAIN)
				break;
		r->s = NULL;
	}
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
}

/* The request's fields, before anything is sent. */
static int check_request(struct run *r, char *type, uint8_t *blob, size_t *blob_len)
{
	const struct sshrun_req *q = r->q;
	struct in_addr a;
	size_t env_len = 0;

	if (!q->host || inet_pton(AF_INET, q->host, &a) != 1) {
		set_error(r, "connect: the host is not an IPv4 address");
		return -EINVAL;
	}
	if (str_empty(q->host_key)) {
		set_error(r, "no host key reported for this node");
		return -EINVAL;
	}
	if (sshkey_parse_public(q->host_key, type, SSHKEY_TYPE_MAX, blob, SSHKEY_BLOB_MAX, blob_len) < 0) {
		set_error(r, "the pinned host key is not an OpenSSH public key line this appliance accepts");
		return -EINVAL;
	}
	if (!sshrun_name_valid(q->name) || !sshrun_name_valid(q->version)) {
		set_error(r, "the extension name or version is not [A-Za-z0-9._-]");
		return -EINVAL;
	}
	if (!entry_valid(q->entry)) {
		set_error(r, "the entry is not a relative path of [A-Za-z0-9._-] names");
		return -EINVAL;
	}
	for (const char *const *e = q->env; e && *e; e++) {
		if (!env_valid(*e)) {
			set_error(r, "an environment entry is not NAME=value");
			return -EINVAL;
		}
		/* Quoted, a value grows at most 4 times ('\'' for '). */
		env_len += 4 * strlen(*e) + 4;
	}
	if (env_len + 4 * 3 * SSHRUN_NAME_MAX + 512 > SSHRUN_CMD_MAX) {
		set_error(r, "the environment is larger than the command line allows");
		return -EINVAL;
	}
	if (!q->bundle || q->bundle_len == 0 || q->timeout_s <= 0 || str_empty(q->key_dir) ||
	    (q->user && !sshrun_name_valid(q->user))) {
		set_error(r, "the request has no bundle, timeout, key directory or a bad user");
		return -EINVAL;
	}
	return 0;
}

/* Waits ms, less if the deadline passes or the cancel flag is set first. */
static int pause_ms(struct run *r, int ms)
{
	int64_t until = now_ms() + ms;

	while (now_ms() < until) {
		if (cancelled(r))
			return -ECANCELED;
		if (now_ms() >= r->deadline)
			return -ETIMEDOUT;
		usleep(10000);
	}
	return 0;
}

/* One connection: connect, handshake, host key, login, upload, run. */
static int attempt(struct run *r, const char *type, const uint8_t *blob, size_t blob_len, const char *user,
		   const char *pub, const char *priv, size_t priv_len)
{
	int rc;

	if (!(r->s = libssh2_session_init())) {
		set_error(r, "connect: out of memory");
		return -ENOMEM;
	}
	libssh2_session_set_blocking(r->s, 0);
	if ((rc = tcp_connect(r)) < 0 || (rc = handshake(r, type)) < 0 || (rc = check_hostkey(r, blob, blob_len)) < 0 ||
	    (rc = auth(r, user, pub, priv, priv_len)) < 0 || (rc = upload(r)) < 0)
		return rc;
	return run_entry(r);
}

int sshrun_run(const struct sshrun_req *q, struct sshrun_result *ret)
{
	struct run r = { .q = q, .res = ret, .fd = -1 };
	char type[SSHKEY_TYPE_MAX], pub[256], host[48], *priv = NULL;
	uint8_t blob[SSHKEY_BLOB_MAX];
	size_t blob_len = 0, priv_len = 0;
	const char *user = q->user ? q->user : "root";
	int rc, w;

	memset(ret, 0, sizeof(*ret));
	ret->stage = SR_CONNECT;
	ret->exit_status = -1;
	ret->out = calloc(1, 1);
	ret->err = calloc(1, 1);
	log_escape(q->host ? q->host : "-", q->host ? strnlen(q->host, 32) : 1, host, sizeof(host));
	snprintf(r.where, sizeof(r.where), "%s:%u", host, q->port ? q->port : 22);
	if (!ret->out || !ret->err) {
		set_error(&r, "out of memory");
		return -ENOMEM;
	}
	if ((rc = check_request(&r, type, blob, &blob_len)) < 0)
		return rc;
	r.deadline = now_ms() + (int64_t)q->timeout_s * 1000;

	pthread_once(&init_once, init_libssh2);
	if (init_status != 0) {
		set_error(&r, "connect: libssh2_init failed");
		return -EIO;
	}
	if ((rc = sshkey_load(q->key_dir, &priv, &priv_len, pub, sizeof(pub))) < 0) {
		set_error(&r, "cannot load the appliance key from %s: %s", q->key_dir, strerror(-rc));
		return rc;
	}
	for (;;) {
		ret->attempts++;
		r.unstarted = false;
		rc = attempt(&r, type, blob, blob_len, user, pub, priv, priv_len);
		if (rc == 0 || !r.unstarted || ret->attempts >= SSHRUN_ATTEMPTS)
			break;
		/*
		 * The node dropped a command before starting it: again from the
		 * start, on a new connection (the upload steps are safe to redo).
		 */
		teardown(&r, false);
		ret->stage = SR_CONNECT;
		ret->error[0] = '\0';
		if ((w = pause_ms(&r, RETRY_PAUSE_MS)) < 0) {
			rc = wait_failed(&r, w);
			break;
		}
	}
	teardown(&r, rc == 0 || ret->stage == SR_DONE);
	explicit_bzero(priv, priv_len);
	free(priv);
	return rc;
}
