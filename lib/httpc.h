/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A small JSON-over-HTTP client on libcurl, shared by the CLI and the agent:
 * one handle per base URL and bearer token, requests with an optional JSON
 * body, replies parsed as JSON, uploads streamed from a file.
 */
#ifndef BW_HTTPC_H
#define BW_HTTPC_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct httpc;

/* Progress of an upload: done and total bytes. */
typedef void (*httpc_progress_fn)(uint64_t done, uint64_t total, void *userdata);

/*
 * base: "http://host:port" (no trailing slash needed); token may be NULL.
 * Returns NULL on allocation failure.
 */
struct httpc *httpc_new(const char *base, const char *token);
void httpc_free(struct httpc *c);
/* The limit of one httpc_request, connection included (default 120 s; 0
 * restores it). Uploads are bounded by their stall detection instead. */
void httpc_set_timeout(struct httpc *c, unsigned seconds);
/*
 * Checks the server's certificate against the CA (PEM) in path only, not
 * the system's; NULL or "": the system's CAs (the default).
 */
int httpc_set_ca(struct httpc *c, const char *path);
/* The same for a libcurl easy handle of another module (imaging/fetch.c). */
int httpc_curl_ca(void *curl, const char *path);
/* Appends to err, after a failed certificate check (curl_code), which CA it was checked against. */
void httpc_tls_hint(int curl_code, const char *ca, char *err, size_t size);

struct httpc_reply {
	long status;     /* HTTP status, 0 if no reply came */
	json_t *json;    /* parsed body if it was JSON, else NULL (caller decrefs) */
	char *text;      /* raw body (caller frees), NUL-terminated */
	size_t len;
	char err[256];   /* transport error when status is 0 */
};

/*
 * Sends method path (path starts with '/', already escaped) with body as
 * JSON (NULL: none). Returns 0 when a reply came (any status), -EIO with
 * reply->err set when none did. The reply must be released with
 * httpc_reply_clear.
 */
int httpc_request(struct httpc *c, const char *method, const char *path, json_t *body,
		  struct httpc_reply *reply);

/* PUT of size bytes read from f to path, calling progress as it goes (may be NULL). */
int httpc_upload(struct httpc *c, const char *path, FILE *f, uint64_t size, httpc_progress_fn progress,
		 void *userdata, struct httpc_reply *reply);

/* Receives a downloaded body piece by piece; a negative return stops the download. */
typedef int (*httpc_sink_fn)(const void *buf, size_t len, void *userdata);

/*
 * GET of path whose body, when the status is 2xx, goes to sink as it
 * arrives (any size, never held in memory); any other status fills reply
 * as httpc_request does. Returns 0 when a reply came (check reply->status:
 * a 2xx body may still have been cut off, then reply->err says so), -EIO
 * when none did, or the sink's error. Release reply with httpc_reply_clear.
 */
int httpc_download(struct httpc *c, const char *path, httpc_sink_fn sink, void *userdata, struct httpc_reply *reply);

void httpc_reply_clear(struct httpc_reply *reply);

/* Percent-escapes s for a path segment or query value; caller frees. */
char *httpc_escape(const char *s);

#endif
