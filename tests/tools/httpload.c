// SPDX-License-Identifier: Apache-2.0
/*
 * httpload: the HTTP load client of tests/bench/bench-http. It keeps
 * CONCURRENCY transfers of one URL in flight with the libcurl multi
 * interface until TRANSFERS have finished, discards every body, and prints
 * one JSON line: bytes, wall seconds, goodput, per-transfer completion time
 * percentiles, failures, and its own CPU seconds (so a run can tell whether
 * the client, not the server, was the limit).
 *
 *   httpload -u URL [-c CONCURRENCY] [-n TRANSFERS] [-H HEADER]...
 *            [-z SIZE [-s SLICE | -r SLICE] [-S SEED]] [-t TIMEOUT_S]
 *
 *   -z SIZE   the size of the resource: a 200 must carry exactly SIZE bytes
 *   -s SLICE  transfer k asks for "Range: bytes=k*SLICE-..." (SLICE bytes,
 *             wrapping at SIZE): together the transfers read the file in order
 *   -r SLICE  each transfer asks for SLICE bytes at a random SLICE-aligned offset
 *
 * A transfer fails on a curl error, a status other than 200 (no range) or
 * 206 (range), a Content-Range other than the one asked for, or a body of
 * another length than expected. Connections are reused between the
 * transfers of a slot, as an agent resuming a download would.
 * Exit status: 0 when no transfer failed, 1 otherwise, 2 on bad usage.
 */
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "latency.h"
#include "util.h"

#define HTTPLOAD_MAX_CONCURRENCY 4096
#define HTTPLOAD_MAX_HEADERS 16

enum slice_mode { SLICE_NONE, SLICE_SEQ, SLICE_RANDOM };

struct xfer {
	CURL *easy;
	uint64_t want;      /* body bytes expected; 0: unknown (no -z, no range) */
	uint64_t off;       /* first byte asked for, with a range */
	uint64_t got;       /* body bytes received */
	bool ranged;
	bool content_range_ok;
	char range[64];
};

struct opts {
	const char *url;
	unsigned concurrency;
	uint64_t transfers;
	uint64_t size;
	uint64_t slice;
	enum slice_mode mode;
	unsigned seed;
	long timeout_s;
	struct curl_slist *headers;
};

static double now_s(void) { return clock_seconds(CLOCK_MONOTONIC); }
static double cpu_s(void) { return clock_seconds(CLOCK_PROCESS_CPUTIME_ID); }

static size_t on_body(char *ptr, size_t size, size_t n, void *ud)
{
	struct xfer *x = ud;

	(void)ptr;
	x->got += (uint64_t)size * n;
	return size * n;
}

/* Checks "Content-Range: bytes A-B/TOTAL" against what the transfer asked for. */
static size_t on_header(char *line, size_t size, size_t n, void *ud)
{
	struct xfer *x = ud;
	size_t len = size * n;
	unsigned long long a, b;
	char buf[160];

	if (len < 14 || len >= sizeof(buf) || strncasecmp(line, "Content-Range:", 14) != 0)
		return len;
	memcpy(buf, line, len);
	buf[len] = '\0';
	if (sscanf(buf + 14, " bytes %llu-%llu/", &a, &b) == 2 && a == x->off && b - a + 1 == x->want)
		x->content_range_ok = true;
	return len;
}

/* The next transfer's range, by mode: its offset and length, clipped at the size. */
static void plan(const struct opts *o, uint64_t k, struct xfer *x)
{
	uint64_t slices;

	x->ranged = o->mode != SLICE_NONE;
	x->want = o->size;
	x->off = 0;
	x->got = 0;
	x->content_range_ok = false;
	if (!x->ranged)
		return;
	slices = (o->size + o->slice - 1) / o->slice;
	if (o->mode == SLICE_SEQ)
		x->off = (k % slices) * o->slice;
	else
		x->off = ((uint64_t)random() % slices) * o->slice;
	x->want = o->size - x->off < o->slice ? o->size - x->off : o->slice;
	snprintf(x->range, sizeof(x->range), "%" PRIu64 "-%" PRIu64, x->off, x->off + x->want - 1);
}

static int start(CURLM *multi, const struct opts *o, uint64_t k, struct xfer *x)
{
	plan(o, k, x);
	curl_easy_setopt(x->easy, CURLOPT_RANGE, x->ranged ? x->range : NULL);
	return curl_multi_add_handle(multi, x->easy) == CURLM_OK ? 0 : -EIO;
}

/* 1 when the finished transfer x is what was asked for; its HTTP status in *ret_status. */
static int verdict(struct xfer *x, CURLcode res, long *ret_status)
{
	long status = 0;

	curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
	*ret_status = status;
	if (res != CURLE_OK)
		return 0;
	if (status != (x->ranged ? 206 : 200))
		return 0;
	if (x->ranged && !x->content_range_ok)
		return 0;
	if (x->want && x->got != x->want)
		return 0;
	return 1;
}

static int parse_u64(const char *s, uint64_t *ret)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -EINVAL;
	switch (*end) {
	case 'K': v <<= 10; end++; break;
	case 'M': v <<= 20; end++; break;
	case 'G': v <<= 30; end++; break;
	default: break;
	}
	if (*end)
		return -EINVAL;
	*ret = v;
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: httpload -u URL [-c CONCURRENCY] [-n TRANSFERS] [-H HEADER]...\n"
			"                [-z SIZE [-s SLICE | -r SLICE] [-S SEED]] [-t TIMEOUT_S]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct opts o = { .concurrency = 1, .transfers = 1, .seed = 1, .timeout_s = 300 };
	struct xfer *xs;
	double *times, t0, wall, c0;
	uint64_t started = 0, done = 0, ok = 0, bytes = 0, v;
	CURLM *multi;
	CURLMsg *m;
	int running = 0, left, c;
	unsigned i;

	while ((c = getopt(argc, argv, "u:c:n:H:z:s:r:S:t:")) != -1) {
		switch (c) {
		case 'u': o.url = optarg; break;
		case 'c':
			if (parse_u64(optarg, &v) < 0 || v < 1 || v > HTTPLOAD_MAX_CONCURRENCY)
				usage();
			o.concurrency = (unsigned)v;
			break;
		case 'n':
			if (parse_u64(optarg, &o.transfers) < 0 || o.transfers < 1)
				usage();
			break;
		case 'H': o.headers = curl_slist_append(o.headers, optarg); break;
		case 'z':
			if (parse_u64(optarg, &o.size) < 0 || o.size < 1)
				usage();
			break;
		case 's':
		case 'r':
			if (parse_u64(optarg, &o.slice) < 0 || o.slice < 1)
				usage();
			o.mode = c == 's' ? SLICE_SEQ : SLICE_RANDOM;
			break;
		case 'S':
			if (parse_u64(optarg, &v) < 0)
				usage();
			o.seed = (unsigned)v;
			break;
		case 't':
			if (parse_u64(optarg, &v) < 0 || v < 1)
				usage();
			o.timeout_s = (long)v;
			break;
		default: usage();
		}
	}
	if (!o.url || optind != argc || (o.mode != SLICE_NONE && !o.size))
		usage();
	if (o.concurrency > o.transfers)
		o.concurrency = (unsigned)o.transfers;
	srandom(o.seed);

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || !(multi = curl_multi_init())) {
		fprintf(stderr, "httpload: cannot initialize libcurl\n");
		return 1;
	}
	/* One connection per slot: the pool must hold them all between transfers. */
	curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, (long)o.concurrency);
	xs = calloc(o.concurrency, sizeof(*xs));
	times = calloc(o.transfers, sizeof(*times));
	if (!xs || !times) {
		fprintf(stderr, "httpload: out of memory\n");
		return 1;
	}
	for (i = 0; i < o.concurrency; i++) {
		CURL *e = curl_easy_init();

		if (!e) {
			fprintf(stderr, "httpload: cannot create a transfer\n");
			return 1;
		}
		xs[i].easy = e;
		curl_easy_setopt(e, CURLOPT_URL, o.url);
		curl_easy_setopt(e, CURLOPT_HTTPHEADER, o.headers);
		curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
		curl_easy_setopt(e, CURLOPT_WRITEDATA, &xs[i]);
		curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
		curl_easy_setopt(e, CURLOPT_HEADERDATA, &xs[i]);
		curl_easy_setopt(e, CURLOPT_PRIVATE, &xs[i]);
		curl_easy_setopt(e, CURLOPT_BUFFERSIZE, 512L * 1024);
		curl_easy_setopt(e, CURLOPT_TIMEOUT, o.timeout_s);
		curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	}

	t0 = now_s();
	c0 = cpu_s();
	for (i = 0; i < o.concurrency; i++)
		if (start(multi, &o, started++, &xs[i]) < 0)
			return 1;
	do {
		if (curl_multi_perform(multi, &running) != CURLM_OK)
			break;
		while ((m = curl_multi_info_read(multi, &left))) {
			struct xfer *x;
			curl_off_t us = 0;
			long status;

			if (m->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
			curl_easy_getinfo(x->easy, CURLINFO_TOTAL_TIME_T, &us);
			if (verdict(x, m->data.result, &status)) {
				bytes += x->got; /* goodput: bytes of transfers that succeeded */
				times[ok++] = (double)us / 1e6;
			} else {
				fprintf(stderr, "httpload: %s%s: %s, status %ld, %" PRIu64 " of %" PRIu64 " bytes%s\n",
					x->ranged ? "range " : "whole file", x->ranged ? x->range : "",
					curl_easy_strerror(m->data.result), status, x->got, x->want,
					x->ranged && !x->content_range_ok ? ", Content-Range not the one asked for" : "");
			}
			done++;
			curl_multi_remove_handle(multi, x->easy);
			if (started < o.transfers && start(multi, &o, started++, x) < 0)
				return 1;
		}
		if (done < o.transfers && curl_multi_poll(multi, NULL, 0, 1000, NULL) != CURLM_OK)
			break;
	} while (done < o.transfers);
	wall = now_s() - t0;

	lat_sort(times, ok);
	printf("{\"clients\":%u,\"transfers\":%" PRIu64 ",\"failures\":%" PRIu64 ",\"bytes\":%" PRIu64
	       ",\"wall_s\":%.3f,\"goodput_mib_s\":%.1f,\"p50_s\":%.4f,\"p99_s\":%.4f,\"client_cpu_s\":%.2f}\n",
	       o.concurrency, done, o.transfers - ok, bytes, wall, (double)bytes / 1048576.0 / wall,
	       lat_pct(times, ok, 50), lat_pct(times, ok, 99), cpu_s() - c0);

	for (i = 0; i < o.concurrency; i++)
		curl_easy_cleanup(xs[i].easy);
	curl_multi_cleanup(multi);
	curl_slist_free_all(o.headers);
	free(times);
	free(xs);
	curl_global_cleanup();
	return ok == o.transfers ? 0 : 1;
}
