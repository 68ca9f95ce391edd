// SPDX-License-Identifier: Apache-2.0
/*
 * A TFTP download client for tests/bench/bench-tftp: N concurrent octet
 * reads of one file from one process (epoll, one UDP socket per transfer),
 * with the blksize, windowsize and tsize options (RFC 2347, 2348, 2349,
 * 7440), so that every server is measured by the same client. Standalone
 * (libc only) so it can be pointed at any server.
 *
 *   tftpc [-n transfers] [-b blksize] [-w windowsize] [-T] [-t timeout_ms]
 *         [-r retries] [-d deadline_s] [-f localfile] [-l N] HOST PORT FILENAME
 *
 * -b and -w are asked for only when given; -T asks for tsize. An option the
 * server ignores takes its default (512 bytes, window 1; RFC 1350). Each
 * transfer ACKs the last block of each window (RFC 7440 section 4), and on
 * a gap or a duplicate ACKs the last block it has in order, once per
 * position, so the server rewinds; after timeout_ms (default 1000) without
 * progress it resends its RRQ or its last ACK, and gives up after retries
 * (default 5) such resends. -d (default 60) bounds the whole run: the
 * transfers still running then fail. -f LOCALFILE: every block is compared
 * with the bytes of LOCALFILE at its offset, and the size too; a tsize
 * answered in the OACK must match the size received. -l N drops every Nth
 * DATA that arrives, as a lossy network would (to check that a server, and
 * this client, recover).
 *
 * Prints one JSON line: the counts, the bytes of the transfers that
 * completed, the wall time from the first RRQ to the last transfer's end,
 * the rate (MiB/s), the options granted, the timeouts, the gap ACKs, the
 * client's own CPU seconds (user + system), every transfer's duration in
 * ms (-1 when it failed), their minimum, median and maximum over the
 * transfers that completed, and the first failures.
 * Exit 0 when every transfer completed, 1 when one failed, 2 on bad usage.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum { OP_RRQ = 1, OP_DATA = 3, OP_ACK = 4, OP_ERROR = 5, OP_OACK = 6 };

#define BLKSIZE_MIN 8	   /* RFC 2348 */
#define BLKSIZE_MAX 65464  /* RFC 2348 */
#define WINDOW_MAX 65535   /* RFC 7440 */
#define TRANSFERS_MAX 1000 /* sockets of one process */
#define PKT_MAX (4 + BLKSIZE_MAX)
#define RRQ_MAX 512
#define ERRORS_SHOWN 5

enum state { ST_RRQ, ST_DATA, ST_DONE, ST_FAILED };

struct xfer {
	int fd;
	enum state st;
	bool locked;		 /* the server's transfer ID is known (socket connected) */
	unsigned blksize, window; /* granted */
	bool has_tsize;
	uint64_t tsize;
	uint64_t blocks;	  /* blocks received in order */
	uint64_t bytes;
	unsigned in_window;	  /* blocks in order since the last ACK */
	uint64_t answered_at; /* blocks+1 when a gap or duplicate was last ACKed there; 0: never */
	unsigned tries;		  /* resends since the last progress */
	unsigned timeouts;
	unsigned gap_acks;
	unsigned long rx_data; /* DATA datagrams arrived, for -l */
	int64_t t_start, t_end, deadline; /* ns, CLOCK_MONOTONIC */
	char err[160];
};

static struct {
	unsigned n, blksize, window, timeout_ms, retries, deadline_s, loss;
	bool tsize;
	struct sockaddr_in server;
	uint8_t rrq[RRQ_MAX];
	size_t rrq_len;
	const uint8_t *file; /* -f, mapped */
	uint64_t file_size;
	bool have_file;
} opt = { .n = 1, .timeout_ms = 1000, .retries = 5, .deadline_s = 60 };

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void usage(void)
{
	fprintf(stderr, "usage: tftpc [-n transfers] [-b blksize] [-w windowsize] [-T] [-t timeout_ms]\n"
			"             [-r retries] [-d deadline_s] [-f localfile] [-l N] HOST PORT FILENAME\n");
	exit(2);
}

static unsigned parse_uint(const char *s, unsigned min, unsigned max, const char *what)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max) {
		fprintf(stderr, "tftpc: %s: %s is not in %u..%u\n", what, s, min, max);
		exit(2);
	}
	return (unsigned)v;
}

/* Appends NUL-terminated s to the RRQ; false when it does not fit. */
static bool rrq_put(const char *s)
{
	size_t l = strlen(s) + 1;

	if (opt.rrq_len + l > sizeof(opt.rrq))
		return false;
	memcpy(opt.rrq + opt.rrq_len, s, l);
	opt.rrq_len += l;
	return true;
}

static void build_rrq(const char *filename)
{
	char v[16];
	bool ok;

	opt.rrq[0] = 0;
	opt.rrq[1] = OP_RRQ;
	opt.rrq_len = 2;
	ok = rrq_put(filename) && rrq_put("octet");
	if (ok && opt.blksize) {
		snprintf(v, sizeof(v), "%u", opt.blksize);
		ok = rrq_put("blksize") && rrq_put(v);
	}
	if (ok && opt.tsize)
		ok = rrq_put("tsize") && rrq_put("0");
	if (ok && opt.window) {
		snprintf(v, sizeof(v), "%u", opt.window);
		ok = rrq_put("windowsize") && rrq_put(v);
	}
	if (!ok) {
		fprintf(stderr, "tftpc: filename too long\n");
		exit(2);
	}
}

static void fail(struct xfer *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(struct xfer *x, const char *fmt, ...)
{
	va_list ap;

	if (x->st == ST_DONE || x->st == ST_FAILED)
		return;
	va_start(ap, fmt);
	vsnprintf(x->err, sizeof(x->err), fmt, ap);
	va_end(ap);
	x->st = ST_FAILED;
	x->t_end = now_ns();
	close(x->fd);
	x->fd = -1;
}

static void finish(struct xfer *x)
{
	x->st = ST_DONE;
	x->t_end = now_ns();
	close(x->fd);
	x->fd = -1;
}

static void xsend(struct xfer *x, const uint8_t *p, size_t len)
{
	ssize_t r;

	if (x->locked)
		r = send(x->fd, p, len, 0);
	else
		r = sendto(x->fd, p, len, 0, (const struct sockaddr *)&opt.server, sizeof(opt.server));
	/* A full socket buffer is a lost packet: the timeout resends. */
	if (r < 0 && errno != EAGAIN && errno != ENOBUFS && errno != ECONNREFUSED)
		fail(x, "send: %s", strerror(errno));
}

/* ACK of the last block received in order (block numbers wrap to 0). */
static void send_ack(struct xfer *x)
{
	uint8_t p[4] = { 0, OP_ACK, (uint8_t)(x->blocks >> 8), (uint8_t)x->blocks };

	x->in_window = 0;
	xsend(x, p, sizeof(p));
}

static void arm(struct xfer *x)
{
	x->deadline = now_ns() + (int64_t)opt.timeout_ms * 1000000;
}

/* The server's text up to its NUL, printable ASCII only, for the report. */
static void copy_msg(char *dst, size_t size, const uint8_t *p, size_t len)
{
	size_t i, o = 0;

	for (i = 0; i < len && p[i] && o + 1 < size; i++)
		dst[o++] = (p[i] >= 0x20 && p[i] < 0x7f) ? (char)p[i] : '?';
	dst[o] = '\0';
}

/* s as a JSON string: a failure may quote what the server sent. */
static void put_json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\')
			printf("\\%c", ch);
		else if (ch < 0x20 || ch >= 0x7f)
			printf("\\u%04x", ch);
		else
			putchar(ch);
	}
	putchar('"');
}

static bool parse_num(const char *s, uint64_t max, uint64_t *ret)
{
	char *end;
	unsigned long long v;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v > max)
		return false;
	*ret = v;
	return true;
}

/* OACK (RFC 2347): NUL-terminated name and value pairs. */
static void on_oack(struct xfer *x, const uint8_t *p, size_t len)
{
	const char *name, *val;
	size_t nl, vl;
	uint64_t v;

	if (x->st != ST_RRQ) {
		/* A second OACK: our ACK 0 was lost, or our RRQ went twice. */
		if (x->blocks == 0)
			send_ack(x);
		return;
	}
	x->blksize = 512;
	x->window = 1;
	while (len > 0) {
		name = (const char *)p;
		nl = strnlen(name, len);
		if (nl == len)
			goto too_short;
		p += nl + 1, len -= nl + 1;
		val = (const char *)p;
		vl = strnlen(val, len);
		if (vl == len)
			goto too_short;
		p += vl + 1, len -= vl + 1;
		if (!strcasecmp(name, "blksize")) {
			if (!opt.blksize || !parse_num(val, opt.blksize, &v) || v < BLKSIZE_MIN)
				return fail(x, "OACK: bad blksize %.16s", val);
			x->blksize = (unsigned)v;
		} else if (!strcasecmp(name, "windowsize")) {
			if (!opt.window || !parse_num(val, opt.window, &v) || v < 1)
				return fail(x, "OACK: bad windowsize %.16s", val);
			x->window = (unsigned)v;
		} else if (!strcasecmp(name, "tsize")) {
			if (!opt.tsize || !parse_num(val, UINT64_MAX, &v))
				return fail(x, "OACK: bad tsize %.24s", val);
			x->has_tsize = true;
			x->tsize = v;
		}
	}
	x->st = ST_DATA;
	x->tries = 0;
	send_ack(x);
	arm(x);
	return;
too_short:
	fail(x, "OACK: option not terminated");
}

static void on_data(struct xfer *x, const uint8_t *p, size_t len)
{
	uint16_t blk, want;
	int16_t d;
	uint64_t off;

	if (len < 2)
		return fail(x, "DATA: %zu bytes", len + 2);
	if (x->st == ST_RRQ) {
		/* No OACK: the server ignored every option (RFC 2347). */
		x->st = ST_DATA;
		x->blksize = 512;
		x->window = 1;
	}
	blk = (uint16_t)(p[0] << 8 | p[1]);
	p += 2, len -= 2;
	if (len > x->blksize)
		return fail(x, "DATA %u: %zu bytes, more than blksize %u", blk, len, x->blksize);
	want = (uint16_t)(x->blocks + 1);
	d = (int16_t)(uint16_t)(blk - want);
	if (d != 0) {
		/* RFC 7440 section 4: ACK the last block in order, so the server
		 * resends from there; once per position, as an ACK per stray
		 * block would double the traffic (Sorcerer's Apprentice). */
		if (x->answered_at != x->blocks + 1) {
			x->answered_at = x->blocks + 1;
			x->gap_acks++;
			send_ack(x);
		}
		return;
	}
	off = x->blocks * x->blksize;
	if (opt.have_file && off + len > opt.file_size)
		return fail(x, "DATA %u (offset %" PRIu64 "): past the file's %" PRIu64 " bytes", blk, off, opt.file_size);
	if (opt.have_file && len > 0 && memcmp(opt.file + off, p, len))
		return fail(x, "DATA %u (offset %" PRIu64 "): bytes differ from the file", blk, off);
	x->blocks++;
	x->bytes += len;
	x->tries = 0;
	arm(x);
	if (len < x->blksize) {
		send_ack(x);
		if (opt.have_file && x->bytes != opt.file_size)
			return fail(x, "received %" PRIu64 " bytes, the file has %" PRIu64, x->bytes, opt.file_size);
		if (x->has_tsize && x->bytes != x->tsize)
			return fail(x, "received %" PRIu64 " bytes, tsize was %" PRIu64, x->bytes, x->tsize);
		return finish(x);
	}
	if (++x->in_window >= x->window)
		send_ack(x);
}

static void on_packet(struct xfer *x, const uint8_t *p, size_t len, const struct sockaddr_in *from)
{
	uint16_t op;
	char msg[100];

	if (from->sin_addr.s_addr != opt.server.sin_addr.s_addr)
		return;
	if (!x->locked) {
		/* The server's transfer ID (RFC 1350 section 4): from now on the
		 * kernel drops datagrams from any other port. */
		if (connect(x->fd, (const struct sockaddr *)from, sizeof(*from)) < 0)
			return fail(x, "connect: %s", strerror(errno));
		x->locked = true;
	}
	if (len < 2)
		return;
	op = (uint16_t)(p[0] << 8 | p[1]);
	switch (op) {
	case OP_DATA:
		if (opt.loss && ++x->rx_data % opt.loss == 0)
			return;
		return on_data(x, p + 2, len - 2);
	case OP_OACK:
		return on_oack(x, p + 2, len - 2);
	case OP_ERROR:
		copy_msg(msg, sizeof(msg), p + 4, len >= 4 ? len - 4 : 0);
		return fail(x, "ERROR %u \"%s\"", len >= 4 ? (unsigned)(p[2] << 8 | p[3]) : 0u, msg);
	default:
		return fail(x, "unexpected opcode %u", op);
	}
}

static void on_timeout(struct xfer *x)
{
	if (x->tries >= opt.retries)
		return fail(x, "timeout after %u resends at block %" PRIu64, x->tries, x->blocks);
	x->tries++;
	x->timeouts++;
	if (x->st == ST_RRQ)
		xsend(x, opt.rrq, opt.rrq_len);
	else
		send_ack(x);
	arm(x);
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static void map_file(const char *path)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st) < 0) {
		fprintf(stderr, "tftpc: %s: %s\n", path, strerror(errno));
		exit(2);
	}
	opt.file_size = (uint64_t)st.st_size;
	opt.have_file = true;
	if (st.st_size > 0) {
		void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (m == MAP_FAILED) {
			fprintf(stderr, "tftpc: mmap %s: %s\n", path, strerror(errno));
			exit(2);
		}
		opt.file = m;
	}
	close(fd);
}

int main(int argc, char **argv)
{
	static uint8_t buf[PKT_MAX + 1];
	struct xfer *xs;
	struct epoll_event evs[64];
	int c, ep, nev;
	unsigned i, running, ok = 0, failed = 0, timeouts = 0, gap_acks = 0, shown = 0;
	unsigned bmin = UINT32_MAX, bmax = 0, wmin = UINT32_MAX, wmax = 0;
	int64_t t0, t_last = 0, stop_at, *durs;
	uint64_t bytes = 0;
	double wall;
	struct rusage ru;

	while ((c = getopt(argc, argv, "n:b:w:Tt:r:d:f:l:")) != -1) {
		switch (c) {
		case 'n': opt.n = parse_uint(optarg, 1, TRANSFERS_MAX, "-n"); break;
		case 'b': opt.blksize = parse_uint(optarg, BLKSIZE_MIN, BLKSIZE_MAX, "-b"); break;
		case 'w': opt.window = parse_uint(optarg, 1, WINDOW_MAX, "-w"); break;
		case 'T': opt.tsize = true; break;
		case 't': opt.timeout_ms = parse_uint(optarg, 1, 600000, "-t"); break;
		case 'r': opt.retries = parse_uint(optarg, 0, 1000, "-r"); break;
		case 'd': opt.deadline_s = parse_uint(optarg, 1, 86400, "-d"); break;
		case 'f': map_file(optarg); break;
		case 'l': opt.loss = parse_uint(optarg, 2, 1000000, "-l"); break;
		default: usage();
		}
	}
	if (argc - optind != 3)
		usage();
	opt.server.sin_family = AF_INET;
	if (inet_pton(AF_INET, argv[optind], &opt.server.sin_addr) != 1) {
		fprintf(stderr, "tftpc: %s: not an IPv4 address\n", argv[optind]);
		return 2;
	}
	opt.server.sin_port = htons((uint16_t)parse_uint(argv[optind + 1], 1, 65535, "PORT"));
	build_rrq(argv[optind + 2]);

	xs = calloc(opt.n, sizeof(*xs));
	durs = calloc(opt.n, sizeof(*durs));
	if (!xs || !durs || (ep = epoll_create1(EPOLL_CLOEXEC)) < 0) {
		perror("tftpc");
		return 2;
	}
	for (i = 0; i < opt.n; i++) {
		struct epoll_event ev = { .events = EPOLLIN, .data.u32 = i };
		xs[i].fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (xs[i].fd < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, xs[i].fd, &ev) < 0) {
			perror("tftpc: socket");
			return 2;
		}
	}
	t0 = now_ns();
	stop_at = t0 + (int64_t)opt.deadline_s * 1000000000;
	for (i = 0; i < opt.n; i++) {
		xs[i].t_start = now_ns();
		xsend(&xs[i], opt.rrq, opt.rrq_len);
		arm(&xs[i]);
	}
	for (;;) {
		int64_t now = now_ns(), next = stop_at;
		int wait_ms;

		running = 0;
		for (i = 0; i < opt.n; i++) {
			struct xfer *x = &xs[i];
			if (x->st == ST_DONE || x->st == ST_FAILED)
				continue;
			if (now >= stop_at) {
				fail(x, "deadline of %u s at block %" PRIu64, opt.deadline_s, x->blocks);
				continue;
			}
			if (now >= x->deadline)
				on_timeout(x);
			if (x->st == ST_DONE || x->st == ST_FAILED)
				continue;
			running++;
			if (x->deadline < next)
				next = x->deadline;
		}
		if (!running)
			break;
		wait_ms = (int)((next - now + 999999) / 1000000);
		nev = epoll_wait(ep, evs, (int)(sizeof(evs) / sizeof(evs[0])), wait_ms < 0 ? 0 : wait_ms);
		if (nev < 0 && errno != EINTR) {
			perror("tftpc: epoll_wait");
			return 2;
		}
		for (c = 0; c < nev; c++) {
			struct xfer *x = &xs[evs[c].data.u32];
			/* Drain, but let other sockets have a turn. */
			for (int k = 0; k < 64 && x->fd >= 0; k++) {
				struct sockaddr_in from;
				socklen_t fl = sizeof(from);
				ssize_t r = recvfrom(x->fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
				if (r < 0) {
					if (errno == ECONNREFUSED && x->locked)
						fail(x, "server port closed (ICMP) at block %" PRIu64, x->blocks);
					break;
				}
				if (fl < sizeof(from) || from.sin_family != AF_INET)
					continue;
				on_packet(x, buf, (size_t)r, &from);
			}
		}
	}

	for (i = 0; i < opt.n; i++) {
		struct xfer *x = &xs[i];
		if (x->t_end > t_last)
			t_last = x->t_end;
		timeouts += x->timeouts;
		gap_acks += x->gap_acks;
		if (x->st == ST_DONE) {
			ok++;
			bytes += x->bytes;
			durs[i] = (x->t_end - x->t_start) / 1000000;
			if (x->blksize < bmin) bmin = x->blksize;
			if (x->blksize > bmax) bmax = x->blksize;
			if (x->window < wmin) wmin = x->window;
			if (x->window > wmax) wmax = x->window;
		} else {
			failed++;
			durs[i] = -1;
		}
	}
	wall = (double)(t_last - t0) / 1e9;
	getrusage(RUSAGE_SELF, &ru);
	printf("{\"transfers\":%u,\"ok\":%u,\"failed\":%u,\"bytes\":%" PRIu64 ",\"wall_s\":%.3f,\"mib_s\":%.2f,",
	       opt.n, ok, failed, bytes, wall, wall > 0 ? (double)bytes / 1048576.0 / wall : 0.0);
	if (ok)
		printf("\"blksize\":[%u,%u],\"windowsize\":[%u,%u],", bmin, bmax, wmin, wmax);
	else
		printf("\"blksize\":null,\"windowsize\":null,");
	printf("\"timeouts\":%u,\"gap_acks\":%u,\"client_cpu_s\":%.2f,\"durations_ms\":[", timeouts, gap_acks,
	       (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
	for (i = 0; i < opt.n; i++)
		printf("%s%" PRId64, i ? "," : "", durs[i]);
	printf("],\"errors\":[");
	for (i = 0; i < opt.n && shown < ERRORS_SHOWN; i++) {
		if (xs[i].st != ST_FAILED)
			continue;
		char e[sizeof(xs[i].err) + 16];
		snprintf(e, sizeof(e), "#%u: %s", i, xs[i].err);
		printf("%s", shown ? "," : "");
		put_json_str(e);
		shown++;
	}
	printf("]");
	if (ok) {
		qsort(durs, opt.n, sizeof(*durs), cmp_i64);
		/* failed ones sort first as -1 */
		printf(",\"duration_ms\":{\"min\":%" PRId64 ",\"median\":%" PRId64 ",\"max\":%" PRId64 "}",
		       durs[opt.n - ok], durs[opt.n - ok + ok / 2], durs[opt.n - 1]);
	}
	printf("}\n");
	free(durs);
	free(xs);
	close(ep);
	return failed ? 1 : 0;
}
