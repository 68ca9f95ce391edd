// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target for what a Redfish BMC answers (hw/redfish.c): the real
 * driver, libcurl and all, logs in to a responder on 127.0.0.1 (a thread of
 * this program) that answers each request with the next reply the input
 * holds, then runs the operations the input names. So the login reply's
 * headers, the collections, the ComputerSystem (PowerState, Boot, Reset
 * action and its AllowableValues), the Chassis with Thermal/Power or
 * Sensors, the log services and their pages of entries, and the error
 * bodies all come from the input, in whatever order the driver asks.
 *
 * An input is text: a first line of operations, then replies, each
 * "=== STATUS" on a line of its own, header lines, an empty line and the
 * body up to the next "=== " line:
 *
 *   open status boot health=12 power=cycle setboot=pxe
 *   === 201
 *   X-Auth-Token: abc
 *   Location: /redfish/v1/SessionService/Sessions/1
 *
 *   {}
 *   === 200
 *   ...
 *
 * STATUS 0 closes the connection without an answer, 1xx is sent as an
 * interim response before the next reply; once the replies run out every
 * connection is closed at once. Content-Length is the responder's, and
 * framing headers of the input are dropped, so no input makes curl wait.
 *
 * Checked, beyond "no crash": every call returns 0 or an errno hw.h names,
 * a failure has a step and a message of printable ASCII (what the BMC said
 * is escaped) without the password, nor the session token once logged in;
 * the requests go to paths of printable ASCII, carry the token from the
 * login reply (and no token before), and never the password outside the
 * login; what health returns is in range, with every string terminated.
 *
 * The driver's poll between ForceOff and On sleeps 250 ms: nanosleep() is
 * replaced here by one that returns at once for the thread running the
 * driver, so that an input that polls costs no time.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "hw.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PASSWORD "Pw-7f3c-Secret"
#define MAX_REPLIES 64
#define MAX_CONNS 8
#define REQ_MAX 65536
#define SESSIONS "/redfish/v1/SessionService/Sessions"

struct reply {
	int status;
	const char *head; /* header lines of the input, '\n'-separated; head_len bytes */
	size_t head_len;
	const char *body;
	size_t body_len;
};

/* What the responder answers with, set by the fuzz thread for one input. */
static struct {
	pthread_mutex_t lock;
	struct reply replies[MAX_REPLIES];
	unsigned n, next;
	char *copy;       /* the input the replies point into: the responder may still be writing
	                     the end of one after the driver gave up on it and the input is done */
	char token[1100]; /* the X-Auth-Token of the last 2xx login reply ("" : none) */
	bool logged_in;   /* a 2xx login reply went out */
	bool password_given; /* the input holds the password */
} script = { .lock = PTHREAD_MUTEX_INITIALIZER };

static uint16_t port;
static __thread bool fast_sleep;

int nanosleep(const struct timespec *req, struct timespec *rem)
{
	if (fast_sleep)
		return 0;
	return (int)syscall(SYS_nanosleep, req, rem);
}

/* ---- the responder ---- */

static void write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL); /* the driver may have hung up */
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

/* Header line [p, p+n) of the input may go out: not framing, no CR/LF, has a colon. */
static bool header_allowed(const char *p, size_t n)
{
	static const char *const framing[] = { "content-length", "transfer-encoding", "connection", "content-encoding",
					       "trailer", "upgrade", "keep-alive" };
	const char *colon = memchr(p, ':', n);

	if (!colon || colon == p || *p == ' ' || *p == '\t' || memchr(p, '\r', n) || memchr(p, '\0', n))
		return false;
	for (size_t i = 0; i < sizeof(framing) / sizeof(framing[0]); i++)
		if ((size_t)(colon - p) == strlen(framing[i]) && strncasecmp(p, framing[i], (size_t)(colon - p)) == 0)
			return false;
	return true;
}

/* The trimmed value of header line [p, p+n) if it is name's, into out[size]; false if not that header. */
static bool header_is(const char *p, size_t n, const char *name, char *out, size_t size)
{
	size_t k = strlen(name), i, end;

	if (n <= k || strncasecmp(p, name, k) != 0 || p[k] != ':')
		return false;
	for (i = k + 1; i < n && (p[i] == ' ' || p[i] == '\t'); i++)
		;
	for (end = n; end > i && (p[end - 1] == ' ' || p[end - 1] == '\t'); end--)
		;
	snprintf(out, size, "%.*s", (int)(end - i), p + i);
	return true;
}

/* Writes one header block: status line, the input's allowed headers; notes a login token. */
static void put_head(int fd, const struct reply *rp, bool login, size_t body_len, bool interim)
{
	char line[128];
	const char *p = rp->head, *end = rp->head + rp->head_len;

	if (interim)
		write_all(fd, "HTTP/1.1 100 Continue\r\n", 23);
	else {
		snprintf(line, sizeof(line), "HTTP/1.1 %d Fuzz\r\n", rp->status);
		write_all(fd, line, strlen(line));
	}
	if (login)
		script.token[0] = '\0';
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		if (header_allowed(p, n)) {
			if (login && !interim)
				header_is(p, n, "X-Auth-Token", script.token, sizeof(script.token));
			write_all(fd, p, n);
			write_all(fd, "\r\n", 2);
		}
		p += n + (nl != NULL);
	}
	if (!interim) {
		snprintf(line, sizeof(line), "Content-Length: %zu\r\nConnection: keep-alive\r\n", body_len);
		write_all(fd, line, strlen(line));
	}
	write_all(fd, "\r\n", 2);
}

/* Checks one request [req, req+len) (head and body) against what the driver promises. */
static void check_request(const char *req, size_t head_len, size_t len, bool *ret_login)
{
	const char *sp1 = memchr(req, ' ', head_len), *sp2, *eol = memchr(req, '\r', head_len);
	char token[1100] = "";
	bool has_token = false, login;

	if (!sp1 || !eol || !(sp2 = memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1))))
		abort();
	if (!((sp1 - req == 3 && !memcmp(req, "GET", 3)) || (sp1 - req == 4 && !memcmp(req, "POST", 4)) ||
	      (sp1 - req == 5 && !memcmp(req, "PATCH", 5)) || (sp1 - req == 6 && !memcmp(req, "DELETE", 6))))
		abort();
	if (sp1[1] != '/')
		abort(); /* only paths of the target: never an absolute URL */
	for (const char *c = sp1 + 1; c < sp2; c++)
		if ((unsigned char)*c < 0x21 || (unsigned char)*c > 0x7e || *c == '#')
			abort();
	login = sp1 - req == 4 && (size_t)(sp2 - sp1 - 1) == strlen(SESSIONS) && !memcmp(sp1 + 1, SESSIONS, strlen(SESSIONS));
	for (const char *p = eol + 2; p < req + head_len;) {
		const char *e = memchr(p, '\r', (size_t)(req + head_len - p));
		size_t n = e ? (size_t)(e - p) : (size_t)(req + head_len - p);
		if (header_is(p, n, "X-Auth-Token", token, sizeof(token)))
			has_token = true;
		p += n + 2;
	}
	/* The password goes to the login only (unless the BMC handed out a path holding it). */
	if (!login && !script.password_given && memmem(req, len, PASSWORD, strlen(PASSWORD)))
		abort();
	if (login ? has_token : (script.logged_in && (!has_token || strcmp(token, script.token) != 0))) {
		/* No token before the login, the login's after. */
		fprintf(stderr, "fuzz_redfish: request with token \"%s\", expected \"%s\":\n%.*s\n", token, script.token,
			(int)head_len, req);
		abort();
	}
	*ret_login = login;
}

/* Answers the request [req, req+len); false: close the connection. */
static bool answer(int fd, const char *req, size_t head_len, size_t len)
{
	bool login, ok = false;

	pthread_mutex_lock(&script.lock);
	check_request(req, head_len, len, &login);
	while (script.next < script.n) {
		const struct reply *rp = &script.replies[script.next++];
		if (rp->status == 0)
			break;
		if (rp->status < 200) {
			put_head(fd, rp, login, 0, true);
			continue;
		}
		size_t blen = rp->status == 204 || rp->status == 304 ? 0 : rp->body_len;
		put_head(fd, rp, login, blen, false);
		write_all(fd, rp->body, blen);
		if (login && rp->status >= 200 && rp->status <= 299)
			script.logged_in = true;
		ok = true;
		break;
	}
	pthread_mutex_unlock(&script.lock);
	return ok;
}

struct conn {
	int fd;
	size_t len;
	char buf[REQ_MAX];
};

/* Serves one connection's buffer: whole requests are answered. false: close it. */
static bool serve(struct conn *c)
{
	for (;;) {
		char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
		size_t head, body = 0, total;
		const char *cl;

		if (!end)
			return c->len < sizeof(c->buf);
		head = (size_t)(end - c->buf) + 4;
		c->buf[head - 1] = '\0';
		cl = strcasestr(c->buf, "\r\nContent-Length:");
		c->buf[head - 1] = '\n';
		if (cl)
			body = strtoul(cl + 17, NULL, 10);
		if (body > sizeof(c->buf) - head)
			abort(); /* the driver's requests are small */
		total = head + body;
		if (c->len < total)
			return true;
		if (!answer(c->fd, c->buf, head, total))
			return false;
		memmove(c->buf, c->buf + total, c->len - total);
		c->len -= total;
	}
}

static void *responder(void *arg)
{
	int lfd = *(int *)arg;
	static struct conn conns[MAX_CONNS];
	struct pollfd pfd[MAX_CONNS + 1];
	unsigned n = 0;

	for (;;) {
		pfd[0] = (struct pollfd){ .fd = lfd, .events = POLLIN };
		for (unsigned i = 0; i < n; i++)
			pfd[i + 1] = (struct pollfd){ .fd = conns[i].fd, .events = POLLIN };
		if (poll(pfd, n + 1, -1) < 0)
			continue;
		for (unsigned i = n; i-- > 0;) {
			struct conn *c = &conns[i];
			ssize_t r;
			if (!(pfd[i + 1].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			r = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
			if (r > 0)
				c->len += (size_t)r;
			if (r <= 0 || !serve(c)) {
				close(c->fd);
				conns[i].fd = conns[n - 1].fd;
				conns[i].len = conns[n - 1].len;
				memcpy(conns[i].buf, conns[n - 1].buf, conns[n - 1].len);
				n--;
			}
		}
		if (pfd[0].revents & POLLIN) {
			int fd = accept(lfd, NULL, NULL);
			if (fd >= 0 && n < MAX_CONNS) {
				/* Replies go out in pieces: no Nagle wait for the client's delayed ACK. */
				setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 }, sizeof(int));
				conns[n].fd = fd;
				conns[n].len = 0;
				n++;
			} else if (fd >= 0) {
				close(fd);
			}
		}
	}
	return NULL;
}

static void start(void)
{
	static int lfd;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	pthread_t t;

	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(lfd, 16) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&a, &alen) < 0 || pthread_create(&t, NULL, responder, &lfd) != 0) {
		perror("fuzz_redfish: responder");
		exit(1);
	}
	pthread_detach(t);
	port = ntohs(a.sin_port);
}

/* ---- the input ---- */

/* Splits data into the operations text and the replies. */
static void load(const char *data, size_t size, const char **ret_ops, size_t *ret_ops_len)
{
	const char *p = data, *end = data + size;

	script.n = script.next = 0;
	script.token[0] = '\0';
	script.logged_in = false;
	/* The first "=== " at the start of a line begins the replies. */
	while (p < end && !(end - p >= 4 && !memcmp(p, "=== ", 4) && (p == data || p[-1] == '\n'))) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		p = nl ? nl + 1 : end;
	}
	*ret_ops = data;
	*ret_ops_len = (size_t)(p - data);
	while (p < end && script.n < MAX_REPLIES) {
		struct reply *rp = &script.replies[script.n++];
		const char *nl, *next, *blank;

		p += 4;
		rp->status = 0;
		for (int k = 0; k < 3 && p + k < end && p[k] >= '0' && p[k] <= '9'; k++)
			rp->status = rp->status * 10 + (p[k] - '0');
		if (rp->status >= 600)
			rp->status = 200;
		nl = memchr(p, '\n', (size_t)(end - p));
		p = nl ? nl + 1 : end;
		/* This reply ends where a line starts with "=== ". */
		for (next = p; next < end; next++)
			if (end - next >= 4 && !memcmp(next, "=== ", 4) && (next == p || next[-1] == '\n'))
				break;
		blank = p;
		if (blank < next && *blank == '\n') {
			rp->head_len = 0;
		} else {
			blank = memmem(p, (size_t)(next - p), "\n\n", 2);
			rp->head_len = blank ? (size_t)(blank - p) : (size_t)(next - p);
			if (blank)
				blank++;
		}
		rp->head = p;
		if (!blank || blank >= next) {
			rp->body = next;
			rp->body_len = 0;
		} else {
			rp->body = blank + 1;
			rp->body_len = (size_t)(next - blank - 1);
		}
		p = next;
	}
}

/* ---- the checks ---- */

static void check_text(const char *s, size_t size)
{
	const char *nul = memchr(s, '\0', size);

	if (!nul)
		abort(); /* not terminated within its array */
	for (const char *c = s; c < nul; c++)
		if ((unsigned char)*c < 0x20 || (unsigned char)*c > 0x7e)
			abort(); /* escaped, so printable */
}

static void check_result(const char *op, int r, const struct hw_err *e, bool logged_in)
{
	char token[sizeof(script.token)];

	if (getenv("FUZZ_VERBOSE")) /* what each operation gave, for whoever writes seeds */
		fprintf(stderr, "%s: %d %s%s%s\n", op, r, e->step, r ? ": " : "", r ? e->msg : "");
	if (r == 0)
		return;
	switch (-r) {
	case EACCES: case EHOSTUNREACH: case ETIMEDOUT: case EPROTO: case ENOTCONN: case ENOTSUP: case EINVAL: case ENOMEM:
		break;
	default:
		fprintf(stderr, "fuzz_redfish: errno %d is not one of hw.h's (%s: %s)\n", -r, e->step, e->msg);
		abort();
	}
	check_text(e->step, sizeof(e->step));
	check_text(e->msg, sizeof(e->msg));
	if (!e->step[0] || !e->msg[0])
		abort();
	pthread_mutex_lock(&script.lock);
	snprintf(token, sizeof(token), "%s", script.token);
	pthread_mutex_unlock(&script.lock);
	if (!logged_in && strstr(e->msg, PASSWORD))
		abort();
	if (logged_in && token[0] && strstr(e->msg, token))
		abort();
}

static void check_health(const struct hw_health *h)
{
	if (h->power != HW_POWER_ON && h->power != HW_POWER_OFF)
		abort();
	if ((unsigned)h->rollup > HW_HEALTH_CRITICAL || (h->sensors_crossed && h->rollup != HW_HEALTH_CRITICAL))
		abort();
	if (h->sel_critical > h->sel_new || (!h->sel_critical && h->sel_last[0]))
		abort();
	if (!h->sensors_crossed && h->sensors[0])
		abort();
	check_text(h->chassis, sizeof(h->chassis));
	check_text(h->sel_last, sizeof(h->sel_last));
	check_text(h->sensors, sizeof(h->sensors));
}

/* The word w (w_len bytes) is op, or op=arg with *arg set. */
static bool word_is(const char *w, size_t w_len, const char *op, const char **arg, size_t *arg_len)
{
	size_t n = strlen(op);

	if (w_len < n || memcmp(w, op, n) != 0 || (w_len > n && w[n] != '='))
		return false;
	*arg = w_len > n ? w + n + 1 : "";
	*arg_len = w_len > n ? w_len - n - 1 : 0;
	return true;
}

static void run_op(struct hw_session *s, const char *w, size_t n)
{
	const struct hw_ops *ops = &hw_redfish_ops;
	struct hw_err e = { { 0 }, { 0 } };
	const char *arg;
	size_t alen;
	char a[32];
	int r;

	if (word_is(w, n, "status", &arg, &alen)) {
		enum hw_power p = HW_POWER_UNKNOWN;
		r = ops->power_status(s, &p, &e);
		if (r == 0 && p != HW_POWER_ON && p != HW_POWER_OFF)
			abort();
	} else if (word_is(w, n, "boot", &arg, &alen)) {
		struct hw_boot b = { .dev = 99 };
		r = ops->get_boot(s, &b, &e);
		if (r == 0 && ((unsigned)b.dev > HW_BOOT_DISK || (b.dev == HW_BOOT_NONE && (b.persistent || b.uefi))))
			abort();
	} else if (word_is(w, n, "health", &arg, &alen)) {
		struct hw_health h;
		snprintf(a, sizeof(a), "%.*s", (int)(alen < 31 ? alen : 31), arg);
		memset(&h, 0xa5, sizeof(h));
		r = ops->health(s, strtoull(a, NULL, 10), &h, &e);
		if (r == 0)
			check_health(&h);
		if (r == 0 && getenv("FUZZ_VERBOSE"))
			fprintf(stderr, "health: power %d rollup %d chassis \"%s\" sel %u new %u critical, marker %llu, \"%s\"; sensors %u \"%s\"\n",
				h.power, h.rollup, h.chassis, h.sel_new, h.sel_critical, (unsigned long long)h.sel_marker,
				h.sel_last, h.sensors_crossed, h.sensors);
	} else if (word_is(w, n, "power", &arg, &alen)) {
		enum hw_power_action act = HW_ACT_CYCLE;
		snprintf(a, sizeof(a), "%.*s", (int)(alen < 31 ? alen : 31), arg);
		hw_action_parse(a, &act);
		r = ops->power(s, act, &e);
	} else if (word_is(w, n, "setboot", &arg, &alen)) {
		struct hw_boot b = { .dev = HW_BOOT_PXE };
		snprintf(a, sizeof(a), "%.*s", (int)(alen < 31 ? alen : 31), arg);
		hw_bootdev_parse(a, &b.dev);
		b.persistent = strstr(a, "persist") != NULL;
		b.uefi = strstr(a, "uefi") != NULL;
		r = ops->set_boot(s, &b, &e);
	} else {
		return;
	}
	snprintf(a, sizeof(a), "%.*s", (int)(n < 31 ? n : 31), w);
	check_result(a, r, &e, true);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool started;
	struct hw_target t = { .driver = "redfish", .host = "127.0.0.1", .user = "admin", .password = PASSWORD,
			       .http = true, .timeout_ms = 3000 };
	struct hw_err e = { { 0 }, { 0 } };
	struct hw_session *s = NULL;
	const char *ops, *p, *end;
	size_t ops_len;
	int r;

	if (!started) {
		start();
		started = true;
	}
	t.port = port;
	pthread_mutex_lock(&script.lock);
	free(script.copy);
	if (!(script.copy = malloc(size ? size : 1))) {
		pthread_mutex_unlock(&script.lock);
		return 0;
	}
	memcpy(script.copy, data, size);
	script.password_given = memmem(data, size, PASSWORD, strlen(PASSWORD)) != NULL;
	load(script.copy, size, &ops, &ops_len);
	pthread_mutex_unlock(&script.lock);

	fast_sleep = true;
	r = hw_redfish_ops.open(&t, &s, &e);
	check_result("open", r, &e, false);
	if (r == 0) {
		/* The operations, in the order the first line gives (words separated by blanks). */
		for (p = ops, end = ops + ops_len; p < end;) {
			size_t n = 0;
			while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
				p++;
			while (p + n < end && p[n] != ' ' && p[n] != '\t' && p[n] != '\n' && p[n] != '\r')
				n++;
			if (n)
				run_op(s, p, n);
			p += n;
		}
		hw_redfish_ops.close(s);
	} else if (s) {
		abort(); /* a failed open leaves nothing to close */
	}
	fast_sleep = false;
	return 0;
}
