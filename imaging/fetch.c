// SPDX-License-Identifier: Apache-2.0
/*
 * Pull-style HTTP download on curl_multi: fetch_read drives the transfer
 * until the buffer holds data; the write callback pauses curl when the
 * buffer is full (CURL_WRITEFUNC_PAUSE) and fetch_read resumes it.
 */
#include "fetch.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto.h"
#include "httpc.h"

/* A transfer cut by the server going away (a restart) resumes with a Range
 * request, as long as bytes came within the last stall_timeout seconds. */
#define RESUME_FIRST_MS 250
#define RESUME_MAX_MS 2000

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct fetch {
	CURLM *multi;
	CURL *easy;
	struct curl_slist *headers;
	uint8_t *buf;
	size_t head, fill; /* unread bytes: buf[head, head + fill) */
	bool paused, done, too_much, has_sha;
	CURLcode result;
	uint64_t size, received, read;
	uint64_t last_ms;   /* when the last byte came (or the transfer started) */
	unsigned stall;     /* seconds */
	unsigned resumes;
	struct sha256_ctx *sha;
	char sha_hex[65];
	char why[CURL_ERROR_SIZE + 64];
	char errbuf[CURL_ERROR_SIZE];
	char ca[256]; /* the CA file the server is checked with, for messages */
};

static size_t on_data(char *data, size_t sz, size_t n, void *userdata)
{
	struct fetch *f = userdata;
	size_t len = sz * n;
	long status = 0;

	curl_easy_getinfo(f->easy, CURLINFO_RESPONSE_CODE, &status);
	if (status != 200 && !(status == 206 && f->resumes))
		return len; /* an error body: dropped, the status says it all */
	f->last_ms = mono_ms();
	if (f->received + len > f->size) {
		f->too_much = true;
		return 0; /* aborts the transfer */
	}
	if (len > FETCH_BUF)
		return 0; /* never seen: curl hands at most CURL_MAX_WRITE_SIZE-sized pieces */
	if (f->head + f->fill + len > FETCH_BUF) {
		if (f->fill + len > FETCH_BUF) {
			f->paused = true;
			return CURL_WRITEFUNC_PAUSE; /* delivered again once resumed */
		}
		memmove(f->buf, f->buf + f->head, f->fill);
		f->head = 0;
	}
	memcpy(f->buf + f->head + f->fill, data, len);
	f->fill += len;
	f->received += len;
	return len;
}

int fetch_open(const char *url, const char *token, const char *ca, uint64_t size, unsigned stall_timeout,
	       struct fetch **ret)
{
	struct fetch *f = calloc(1, sizeof(*f));
	char auth[300];

	if (!f)
		return -ENOMEM;
	f->size = size;
	f->stall = stall_timeout;
	f->last_ms = mono_ms();
	f->buf = malloc(FETCH_BUF);
	f->sha = sha256_new();
	f->multi = curl_multi_init();
	f->easy = curl_easy_init();
	if (!f->buf || !f->sha || !f->multi || !f->easy)
		goto nomem;
	if (token) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
		if (!(f->headers = curl_slist_append(NULL, auth)))
			goto nomem;
		explicit_bzero(auth, sizeof(auth));
	}
	curl_easy_setopt(f->easy, CURLOPT_URL, url);
	curl_easy_setopt(f->easy, CURLOPT_HTTPHEADER, f->headers);
	curl_easy_setopt(f->easy, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(f->easy, CURLOPT_WRITEDATA, f);
	curl_easy_setopt(f->easy, CURLOPT_ERRORBUFFER, f->errbuf);
	curl_easy_setopt(f->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(f->easy, CURLOPT_CONNECTTIMEOUT, (long)stall_timeout);
	/* Stalled: under 1 byte/s for stall_timeout seconds. */
	curl_easy_setopt(f->easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(f->easy, CURLOPT_LOW_SPEED_TIME, (long)stall_timeout);
	curl_easy_setopt(f->easy, CURLOPT_BUFFERSIZE, 256L * 1024);
	curl_easy_setopt(f->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	if (ca && *ca) {
		if (httpc_curl_ca(f->easy, ca) < 0) {
			fetch_close(f);
			return -ENOTSUP;
		}
		snprintf(f->ca, sizeof(f->ca), "%s", ca);
	}
	if (curl_multi_add_handle(f->multi, f->easy) != CURLM_OK)
		goto nomem;
	*ret = f;
	return 0;
nomem:
	fetch_close(f);
	return -ENOMEM;
}

/* Runs the transfer until data is buffered or it ends. */
static int pump(struct fetch *f)
{
	while (f->fill == 0 && !f->done) {
		int running = 0, numfds;
		CURLMsg *m;
		int left;

		if (f->paused) {
			f->paused = false;
			curl_easy_pause(f->easy, CURLPAUSE_CONT);
		}
		if (curl_multi_perform(f->multi, &running) != CURLM_OK)
			return -EIO;
		while ((m = curl_multi_info_read(f->multi, &left)))
			if (m->msg == CURLMSG_DONE) {
				f->done = true;
				f->result = m->data.result;
			}
		if (f->fill || f->done)
			break;
		if (!f->paused && curl_multi_poll(f->multi, NULL, 0, 1000, &numfds) != CURLM_OK)
			return -EIO;
	}
	return 0;
}

/* Whether a transfer that ended this way may be resumed: the server went away or cut it short. */
static bool resumable(struct fetch *f)
{
	long status = 0;

	curl_easy_getinfo(f->easy, CURLINFO_RESPONSE_CODE, &status);
	if (f->too_much || f->received >= f->size)
		return false;
	switch (f->result) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
		return true;
	case CURLE_OK:
		/* a server busy starting up; a whole answer shorter than announced is a truncated artifact */
		return status == 502 || status == 503 || status == 504;
	default:
		return false;
	}
}

/* Waits a little and starts again from the first byte not received; -1 when the stall budget is spent. */
static int resume(struct fetch *f)
{
	uint64_t wait = RESUME_FIRST_MS << (f->resumes < 3 ? f->resumes : 3), now = mono_ms();
	struct timespec ts;

	if (wait > RESUME_MAX_MS)
		wait = RESUME_MAX_MS;
	if (now + wait >= f->last_ms + (uint64_t)f->stall * 1000)
		return -1;
	ts = (struct timespec){ .tv_sec = (time_t)(wait / 1000), .tv_nsec = (long)(wait % 1000) * 1000000 };
	nanosleep(&ts, NULL);
	curl_multi_remove_handle(f->multi, f->easy);
	curl_easy_setopt(f->easy, CURLOPT_RESUME_FROM_LARGE, (curl_off_t)f->received);
	f->errbuf[0] = '\0';
	f->done = false;
	f->paused = false;
	f->result = CURLE_OK;
	f->resumes++;
	return curl_multi_add_handle(f->multi, f->easy) == CURLM_OK ? 0 : -1;
}

ssize_t fetch_read(struct fetch *f, void *buf, size_t len, const char **ret_why)
{
	const char *dummy;
	long status = 0;
	size_t n;

	if (!ret_why)
		ret_why = &dummy;
	if (pump(f) < 0)
		return *ret_why = "curl failed", -EIO;
	while (f->fill == 0 && f->done && resumable(f) && resume(f) == 0)
		if (pump(f) < 0)
			return *ret_why = "curl failed", -EIO;
	if (f->fill == 0) {
		curl_easy_getinfo(f->easy, CURLINFO_RESPONSE_CODE, &status);
		if (f->too_much) {
			snprintf(f->why, sizeof(f->why), "the server sent more than the %llu bytes announced",
				 (unsigned long long)f->size);
			return *ret_why = f->why, -EFBIG;
		}
		if (f->result == CURLE_OPERATION_TIMEDOUT) {
			snprintf(f->why, sizeof(f->why), "download stalled after %llu of %llu bytes: %s",
				 (unsigned long long)f->received, (unsigned long long)f->size, f->errbuf);
			return *ret_why = f->why, -ETIMEDOUT;
		}
		if (f->result != CURLE_OK && f->result != CURLE_PARTIAL_FILE) {
			snprintf(f->why, sizeof(f->why), "download failed after %llu of %llu bytes: %s",
				 (unsigned long long)f->received, (unsigned long long)f->size,
				 f->errbuf[0] ? f->errbuf : curl_easy_strerror(f->result));
			httpc_tls_hint((int)f->result, f->ca, f->why, sizeof(f->why));
			return *ret_why = f->why, -EIO;
		}
		if (status != 200 && !(status == 206 && f->resumes)) {
			snprintf(f->why, sizeof(f->why), "the server answered HTTP %ld to the download", status);
			return *ret_why = f->why, -EPROTO;
		}
		if (f->received != f->size) {
			snprintf(f->why, sizeof(f->why), "download truncated: %llu of %llu bytes",
				 (unsigned long long)f->received, (unsigned long long)f->size);
			return *ret_why = f->why, -EPIPE;
		}
		return 0;
	}
	n = len < f->fill ? len : f->fill;
	memcpy(buf, f->buf + f->head, n);
	f->head += n;
	f->fill -= n;
	if (f->fill == 0)
		f->head = 0;
	sha256_update(f->sha, buf, n);
	f->read += n;
	return (ssize_t)n;
}

uint64_t fetch_done(const struct fetch *f) { return f->read; }

void fetch_sha256(struct fetch *f, char hex[65])
{
	if (!f->has_sha) {
		sha256_final_hex(f->sha, f->sha_hex);
		f->has_sha = true;
	}
	memcpy(hex, f->sha_hex, 65);
}

void fetch_close(struct fetch *f)
{
	if (!f)
		return;
	if (f->multi && f->easy)
		curl_multi_remove_handle(f->multi, f->easy);
	curl_easy_cleanup(f->easy);
	curl_multi_cleanup(f->multi);
	curl_slist_free_all(f->headers);
	sha256_free(f->sha);
	free(f->buf);
	free(f);
}
