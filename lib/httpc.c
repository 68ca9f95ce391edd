// SPDX-License-Identifier: Apache-2.0
/* JSON-over-HTTP client on libcurl: see httpc.h. */
#include "httpc.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define REPLY_MAX (64u << 20) /* a reply larger than this is refused */

struct download;

struct httpc {
	CURL *curl;
	char base[512];
	char auth[256];
	char ca[512];   /* CA file the server's certificate is checked with; "": the system's */
	long timeout_s; /* of httpc_request, whole request */
	struct download *dl; /* during httpc_download only */
};

struct httpc *httpc_new(const char *base, const char *token)
{
	static bool inited;
	struct httpc *c;
	size_t n;

	if (!inited) {
		curl_global_init(CURL_GLOBAL_DEFAULT);
		inited = true;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->curl = curl_easy_init();
	if (!c->curl || str_copy(c->base, sizeof(c->base), base) < 0) {
		httpc_free(c);
		return NULL;
	}
	c->timeout_s = 120L;
	n = strlen(c->base);
	while (n && c->base[n - 1] == '/')
		c->base[--n] = '\0';
	if (token && *token)
		snprintf(c->auth, sizeof(c->auth), "Authorization: Bearer %s", token);
	return c;
}

int httpc_set_ca(struct httpc *c, const char *path)
{
	/* Applied at each request (they start with a curl_easy_reset). */
	if (str_copy(c->ca, sizeof(c->ca), path ? path : "") < 0)
		return -ENAMETOOLONG;
	return httpc_curl_ca(c->curl, c->ca);
}

int httpc_curl_ca(void *curl, const char *path)
{
	if (!path || !*path)
		return 0;
	/* Only this CA: not the system's as well (no CA directory). */
	if (curl_easy_setopt(curl, CURLOPT_CAINFO, path) != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_CAPATH, NULL) != CURLE_OK)
		return -ENOTSUP;
	return 0;
}

void httpc_tls_hint(int curl_code, const char *ca, char *err, size_t size)
{
	size_t n = strlen(err);
	if (curl_code != CURLE_PEER_FAILED_VERIFICATION && curl_code != CURLE_SSL_CACERT_BADFILE)
		return;
	snprintf(err + n, size - n, " (the server's certificate was checked against %s%s)",
		 ca && *ca ? "the CA in " : "the system's CAs", ca && *ca ? ca : "");
}

void httpc_set_timeout(struct httpc *c, unsigned seconds)
{
	c->timeout_s = seconds ? (long)seconds : 120L;
}

void httpc_free(struct httpc *c)
{
	if (!c)
		return;
	if (c->curl)
		curl_easy_cleanup(c->curl);
	explicit_bzero(c->auth, sizeof(c->auth));
	free(c);
}

void httpc_reply_clear(struct httpc_reply *reply)
{
	json_decref(reply->json);
	free(reply->text);
	memset(reply, 0, sizeof(*reply));
}

char *httpc_escape(const char *s)
{
	char *e = curl_easy_escape(NULL, s, 0), *out;
	if (!e)
		return NULL;
	out = strdup(e);
	curl_free(e);
	return out;
}

static size_t on_data(char *p, size_t size, size_t n, void *ud)
{
	struct httpc_reply *r = ud;
	size_t len = size * n;
	char *nt;

	if (r->len + len > REPLY_MAX)
		return 0; /* makes curl fail with CURLE_WRITE_ERROR */
	nt = realloc(r->text, r->len + len + 1);
	if (!nt)
		return 0;
	r->text = nt;
	memcpy(r->text + r->len, p, len);
	r->len += len;
	r->text[r->len] = '\0';
	return len;
}

/* httpc_download: a 2xx body goes to the sink, any other to the reply (an error to print). */
struct download {
	struct httpc *c;
	struct httpc_reply *reply;
	httpc_sink_fn sink;
	void *ud;
	int err; /* the sink's */
};

static size_t on_download(char *p, size_t size, size_t n, void *ud)
{
	struct download *d = ud;
	long status = 0;
	int r;

	curl_easy_getinfo(d->c->curl, CURLINFO_RESPONSE_CODE, &status);
	if (status < 200 || status >= 300)
		return on_data(p, size, n, d->reply);
	if ((r = d->sink(p, size * n, d->ud)) < 0) {
		d->err = r;
		return 0;
	}
	return size * n;
}

struct progress {
	httpc_progress_fn fn;
	void *ud;
	uint64_t total;
};

static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
	struct progress *p = ud;
	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	if (p->fn)
		p->fn((uint64_t)ulnow, p->total, p->ud);
	return 0;
}

static int perform(struct httpc *c, const char *method, const char *path, struct curl_slist *hdrs,
		   struct httpc_reply *reply)
{
	char url[2048];
	CURLcode rc;

	memset(reply, 0, sizeof(*reply));
	if ((size_t)snprintf(url, sizeof(url), "%s%s", c->base, path) >= sizeof(url)) {
		snprintf(reply->err, sizeof(reply->err), "URL too long");
		return -EIO;
	}
	if (c->auth[0])
		hdrs = curl_slist_append(hdrs, c->auth);
	hdrs = curl_slist_append(hdrs, "Accept: application/json");
	curl_easy_setopt(c->curl, CURLOPT_URL, url);
	curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, hdrs);
	if (c->dl) {
		curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_download);
		curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, c->dl);
	} else {
		curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_data);
		curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, reply);
	}
	curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
	httpc_curl_ca(c->curl, c->ca);
	curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, reply->err);
	rc = curl_easy_perform(c->curl);
	curl_slist_free_all(hdrs);
	curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, NULL);
	if (rc != CURLE_OK) {
		if (!reply->err[0])
			snprintf(reply->err, sizeof(reply->err), "%s", curl_easy_strerror(rc));
		httpc_tls_hint((int)rc, c->ca, reply->err, sizeof(reply->err));
		/* The server may have answered before the upload ended (e.g. 413). */
		curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &reply->status);
		if (!reply->status)
			return -EIO;
	} else {
		reply->err[0] = '\0';
		curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &reply->status);
	}
	if (reply->text && reply->len)
		reply->json = json_loadb(reply->text, reply->len, 0, NULL);
	return 0;
}

int httpc_request(struct httpc *c, const char *method, const char *path, json_t *body,
		  struct httpc_reply *reply)
{
	struct curl_slist *hdrs = NULL;
	_cleanup_free_ char *text = NULL;

	curl_easy_reset(c->curl);
	if (body) {
		text = json_dumps(body, JSON_COMPACT);
		if (!text) {
			memset(reply, 0, sizeof(*reply));
			snprintf(reply->err, sizeof(reply->err), "out of memory");
			return -ENOMEM;
		}
		hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, text);
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE, (long)strlen(text));
	} else if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(c->curl, CURLOPT_NOBODY, 1L);
	curl_easy_setopt(c->curl, CURLOPT_TIMEOUT, c->timeout_s);
	return perform(c, method, path, hdrs, reply);
}

int httpc_upload(struct httpc *c, const char *path, FILE *f, uint64_t size, httpc_progress_fn progress,
		 void *userdata, struct httpc_reply *reply)
{
	struct progress p = { .fn = progress, .ud = userdata, .total = size };
	struct curl_slist *hdrs = NULL;

	curl_easy_reset(c->curl);
	hdrs = curl_slist_append(hdrs, "Content-Type: application/octet-stream");
	/* The server answers a refusal (auth, unknown image, duplicate version,
	 * too large) before the body is sent. */
	hdrs = curl_slist_append(hdrs, "Expect: 100-continue");
	curl_easy_setopt(c->curl, CURLOPT_EXPECT_100_TIMEOUT_MS, 10000L);
	curl_easy_setopt(c->curl, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(c->curl, CURLOPT_READDATA, f);
	curl_easy_setopt(c->curl, CURLOPT_INFILESIZE_LARGE, (curl_off_t)size);
	curl_easy_setopt(c->curl, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c->curl, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(c->curl, CURLOPT_XFERINFODATA, &p);
	/* Stalled transfers fail; slow ones may take as long as they need. */
	curl_easy_setopt(c->curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c->curl, CURLOPT_LOW_SPEED_TIME, 120L);
	return perform(c, "PUT", path, hdrs, reply);
}

int httpc_download(struct httpc *c, const char *path, httpc_sink_fn sink, void *userdata, struct httpc_reply *reply)
{
	struct download d = { .c = c, .reply = reply, .sink = sink, .ud = userdata };
	int r;

	curl_easy_reset(c->curl);
	/* Like an upload: stalled transfers fail, slow ones may take as long as they need. */
	curl_easy_setopt(c->curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c->curl, CURLOPT_LOW_SPEED_TIME, 120L);
	c->dl = &d;
	r = perform(c, "GET", path, NULL, reply);
	c->dl = NULL;
	if (d.err < 0) {
		snprintf(reply->err, sizeof(reply->err), "cannot write the download: %s", strerror(-d.err));
		return d.err;
	}
	return r;
}
