// SPDX-License-Identifier: Apache-2.0
/*
 * loadgen: the client of the load test (tests/load/run, issue 11).
 *
 *   loadgen seed -u URL -t ADMIN -n NODES -P POOL -x SHA256 -o TOKENS
 *   loadgen run  -u URL -T TOKENS -V VIEWER -a ARTIFACT_PATH -z SIZE -x SHA256
 *                -P POOL [-s SECONDS] [-d DOWNLOADS] [-r RATE] [-c CLIENTS] [-p PID]
 *
 * seed enrolls NODES nodes (ld0000.., pool POOL) and brings each to the
 * state `active` the way a machine gets there: a reimage task through the
 * API, the reimage script served at /boot/<mac>.ipxe (its one-time agent
 * token), the agent's result with the sha256 of the version, the next
 * script (active, pending slot: its heartbeat token) and a Healthy
 * heartbeat, which commits the slot. It writes "name hbtoken" lines.
 *
 * run drives, from one thread with the libcurl multi interface:
 *  - every node's heartbeat once a second (POST /api/v1/agent/heartbeat with
 *    its own token, the body and headers bootwave-agent sends), spread evenly
 *    over the second, each node from its own source address (127.1.x.y) on
 *    its own kept-alive connection, as separate machines would;
 *  - DOWNLOADS concurrent GETs of ARTIFACT_PATH with the viewer token,
 *    looping, each limited to RATE bytes/s; every one must bring SIZE bytes,
 *    and those of the first slot must hash to SHA256;
 *  - CLIENTS API clients doing what the console does, back to back: the node
 *    list page by page, one node, the pool's rollout, /metrics.
 * Every request's latency is kept by kind. With -p, bootwaved's RSS is read
 * from /proc every 5 s. At the end it prints the figures and the verdict:
 * no heartbeat lost (each answered 2xx within LOADGEN_HB_TIMEOUT_MS), no
 * download or API call failed, and RSS flat (the highest of the last window
 * at most 10% or 4 MiB above the highest of the second). Exit 0 when all
 * hold, 1 otherwise, 2 on bad usage.
 */
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "crypto.h"
#include "latency.h"
#include "util.h"

#define LOADGEN_MAX_NODES 60000
#define LOADGEN_MAX_DOWNLOADS 1024
#define LOADGEN_MAX_CLIENTS 256
#define LOADGEN_HB_TIMEOUT_MS 5000L /* a heartbeat not answered 2xx within this is lost */
#define LOADGEN_API_TIMEOUT_S 30L
#define LOADGEN_RSS_EVERY_S 5.0
#define LOADGEN_TOKEN_MAX 64
#define LOADGEN_SEED_THREADS 4
#define LOADGEN_FAILS_SHOWN 10
#define LOADGEN_DL_BURST (256.0 * 1024)

static double now_s(void) { return clock_seconds(CLOCK_MONOTONIC); }

/* ---- replies ---- */

struct buf {
	char *p;
	size_t n, cap;
};

static size_t on_buf(char *ptr, size_t size, size_t n, void *ud)
{
	struct buf *b = ud;
	size_t len = size * n;

	if (b->n + len + 1 > b->cap) {
		size_t cap = (b->n + len + 1) * 2;
		char *p = realloc(b->p, cap);
		if (!p)
			return 0;
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->n, ptr, len);
	b->n += len;
	b->p[b->n] = '\0';
	return len;
}

/* ---- seed ---- */

struct seed {
	const char *url, *admin, *pool, *sha;
	unsigned nodes, next;
	char (*hbtokens)[LOADGEN_TOKEN_MAX];
	pthread_mutex_t lock;
	int failed;
};

static void node_name(unsigned i, char out[16]) { snprintf(out, 16, "ld%04u", i); }
static void node_mac(unsigned i, char out[18], char sep)
{
	snprintf(out, 18, "02%c00%c00%c%02x%c%02x%c%02x", sep, sep, sep, (i >> 16) & 0xff, sep, (i >> 8) & 0xff, sep,
		 i & 0xff);
}

/* One blocking request; the reply's status, and its body in rep (reset first). 0, or -EIO on a curl error. */
static int call(CURL *c, const char *method, const char *url, const char *token, const char *body, long *status,
		struct buf *rep)
{
	struct curl_slist *h = NULL;
	char auth[128];
	CURLcode rc;

	rep->n = 0;
	if (rep->p)
		rep->p[0] = '\0';
	curl_easy_reset(c);
	if (token) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
		h = curl_slist_append(h, auth);
	}
	h = curl_slist_append(h, "Accept: application/json");
	if (body) {
		h = curl_slist_append(h, "Content-Type: application/json");
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_buf);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, rep);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, LOADGEN_API_TIMEOUT_S);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	rc = curl_easy_perform(c);
	curl_slist_free_all(h);
	*status = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	return rc == CURLE_OK ? 0 : -EIO;
}

/* The value of "key=" in a boot script, up to the next space, into out. */
static int script_value(const char *script, const char *key, char *out, size_t size)
{
	const char *p = script ? strstr(script, key) : NULL;
	size_t n;

	if (!p)
		return -ENOENT;
	p += strlen(key);
	n = strcspn(p, " \n");
	if (n == 0 || n >= size)
		return -EINVAL;
	memcpy(out, p, n);
	out[n] = '\0';
	return 0;
}

/* Node i from nothing to active, as in the comment at the top; why names the step that failed. */
static int seed_node(struct seed *sd, CURL *c, struct buf *rep, unsigned i, char hbtoken[LOADGEN_TOKEN_MAX],
		     const char **why)
{
	char name[16], mac[18], hyp[18], url[512], body[512], token[LOADGEN_TOKEN_MAX];
	long status;
	json_t *j;
	json_int_t task;

	node_name(i, name);
	node_mac(i, mac, ':');
	node_mac(i, hyp, '-');
	snprintf(url, sizeof(url), "%s/api/v1/nodes", sd->url);
	snprintf(body, sizeof(body), "{\"name\":\"%s\",\"mac\":\"%s\",\"pool\":\"%s\",\"update_domain\":%u}", name, mac,
		 sd->pool, i % 20);
	if (call(c, "POST", url, sd->admin, body, &status, rep) < 0 || status != 201)
		return *why = "create the node", -EIO;
	snprintf(url, sizeof(url), "%s/api/v1/nodes/%s/reimage", sd->url, name);
	if (call(c, "POST", url, sd->admin, "{}", &status, rep) < 0 || status != 202)
		return *why = "ask for a reimage", -EIO;
	j = json_loads(rep->p, 0, NULL);
	task = json_integer_value(json_object_get(j, "id"));
	json_decref(j);
	if (task <= 0)
		return *why = "read the task id", -EIO;
	snprintf(url, sizeof(url), "%s/boot/%s.ipxe", sd->url, hyp);
	if (call(c, "GET", url, NULL, NULL, &status, rep) < 0 || status != 200 ||
	    script_value(rep->p, "bootwave.token=", token, sizeof(token)) < 0)
		return *why = "read the reimage script's token", -EIO;
	snprintf(url, sizeof(url), "%s/api/v1/agent/result", sd->url);
	snprintf(body, sizeof(body), "{\"task\":%lld,\"status\":\"succeeded\",\"sha256\":\"%s\",\"stage\":\"done\"}",
		 (long long)task, sd->sha);
	if (call(c, "POST", url, token, body, &status, rep) < 0 || status != 200)
		return *why = "report the agent's result", -EIO;
	snprintf(url, sizeof(url), "%s/boot/%s.ipxe", sd->url, hyp);
	if (call(c, "GET", url, NULL, NULL, &status, rep) < 0 || status != 200 ||
	    script_value(rep->p, "bootwave.hbtoken=", hbtoken, LOADGEN_TOKEN_MAX) < 0)
		return *why = "read the active script's heartbeat token", -EIO;
	snprintf(url, sizeof(url), "%s/api/v1/agent/heartbeat", sd->url);
	if (call(c, "POST", url, hbtoken, "{\"state\":\"Healthy\",\"version\":\"\",\"boot_id\":\"seed\"}", &status,
		 rep) < 0 ||
	    status != 200)
		return *why = "send the first heartbeat", -EIO;
	return 0;
}

static void *seed_worker(void *ud)
{
	struct seed *sd = ud;
	struct buf rep = { 0 };
	CURL *c = curl_easy_init();

	for (;;) {
		const char *why = NULL;
		unsigned i;

		pthread_mutex_lock(&sd->lock);
		i = sd->next++;
		pthread_mutex_unlock(&sd->lock);
		if (i >= sd->nodes || !c)
			break;
		if (seed_node(sd, c, &rep, i, sd->hbtokens[i], &why) < 0) {
			fprintf(stderr, "loadgen: seed node %u: cannot %s: %.300s\n", i, why, rep.p ? rep.p : "");
			pthread_mutex_lock(&sd->lock);
			sd->failed = 1;
			sd->next = sd->nodes;
			pthread_mutex_unlock(&sd->lock);
		}
	}
	curl_easy_cleanup(c);
	free(rep.p);
	return NULL;
}

static int seed_main(struct seed *sd, const char *out)
{
	pthread_t th[LOADGEN_SEED_THREADS];
	double t0 = now_s();
	FILE *f;

	sd->hbtokens = calloc(sd->nodes, sizeof(*sd->hbtokens));
	if (!sd->hbtokens)
		return 1;
	pthread_mutex_init(&sd->lock, NULL);
	for (int k = 0; k < LOADGEN_SEED_THREADS; k++)
		pthread_create(&th[k], NULL, seed_worker, sd);
	for (int k = 0; k < LOADGEN_SEED_THREADS; k++)
		pthread_join(th[k], NULL);
	if (sd->failed)
		return 1;
	if (!(f = fopen(out, "w")))
		return 1;
	for (unsigned i = 0; i < sd->nodes; i++) {
		char name[16];
		node_name(i, name);
		fprintf(f, "%s %s\n", name, sd->hbtokens[i]);
	}
	if (fclose(f) != 0)
		return 1;
	printf("seeded %u nodes to active in %.1f s\n", sd->nodes, now_s() - t0);
	free(sd->hbtokens);
	return 0;
}

/* ---- run ---- */

enum kind { K_HEARTBEAT, K_DOWNLOAD, K_NODES_PAGE, K_NODE, K_ROLLOUT, K_METRICS, K_N };
static const char *const kind_name[K_N] = { "heartbeat", "download", "nodes-page", "node", "rollout", "metrics" };

struct stat_kind {
	double *v;
	uint64_t n, cap, failed;
};

/* One client: a node's heartbeat, a download slot or an API client; owns its easy handle. */
struct client {
	CURL *easy;
	enum kind kind; /* what it does now; an API client changes kind as it goes */
	bool api, busy, again;
	unsigned index;
	struct curl_slist *hdrs;
	char url[512];
	char next[128]; /* an API client: the cursor of the next page, "" for the first */
	struct buf body;
	uint64_t got, rate;
	double started; /* a download: when it started, for its pace */
	bool paused;
	struct sha256_ctx *sha;
};

struct run {
	const char *url, *viewer, *artifact, *sha, *pool;
	uint64_t size, rate;
	unsigned seconds, downloads, clients, nodes;
	int pid;
	char (*names)[16];
	char (*tokens)[LOADGEN_TOKEN_MAX];
	CURLM *multi;
	struct stat_kind st[K_N];
	uint64_t hb_sent, hb_delayed, dl_bytes, sha_checked, sha_bad, nodes_listed_bad;
	double hb_max;
	unsigned fails_shown;
	double rss_t[4096];
	double rss_mib[4096];
	unsigned rss_n;
};

static void stat_add(struct stat_kind *s, double v)
{
	if (s->n == s->cap) {
		uint64_t cap = s->cap ? s->cap * 2 : 4096;
		double *p = realloc(s->v, cap * sizeof(*p));
		if (!p)
			return;
		s->v = p;
		s->cap = cap;
	}
	s->v[s->n++] = v;
}

/* The bytes a download at rate may have received by now, with a burst of LOADGEN_DL_BURST. */
static bool dl_over_pace(const struct client *cl)
{
	return cl->rate && (double)cl->got > (double)cl->rate * (now_s() - cl->started) + LOADGEN_DL_BURST;
}

/*
 * Paced by hand: libcurl's own receive limit (7.88) lets a loopback transfer
 * through at full speed. Over its pace the data is refused with a pause and
 * given again once run_main unpauses the transfer.
 */
static size_t on_download(char *ptr, size_t size, size_t n, void *ud)
{
	struct client *cl = ud;

	if (dl_over_pace(cl)) {
		cl->paused = true;
		return CURL_WRITEFUNC_PAUSE;
	}
	cl->got += (uint64_t)size * n;
	if (cl->sha)
		sha256_update(cl->sha, ptr, size * n);
	return size * n;
}

static int start(struct run *r, struct client *cl)
{
	cl->body.n = 0;
	if (cl->kind == K_DOWNLOAD) {
		cl->got = 0;
		cl->paused = false;
		cl->started = now_s();
		if (cl->index == 0) {
			sha256_free(cl->sha);
			cl->sha = sha256_new();
		}
	} else if (cl->api) {
		unsigned k;

		switch (cl->kind) {
		case K_NODES_PAGE:
			snprintf(cl->url, sizeof(cl->url), "%s/api/v1/nodes%s%s", r->url, cl->next[0] ? "?after=" : "",
				 cl->next);
			break;
		case K_NODE:
			k = (unsigned)random() % r->nodes;
			snprintf(cl->url, sizeof(cl->url), "%s/api/v1/nodes/%s", r->url, r->names[k]);
			break;
		case K_ROLLOUT:
			snprintf(cl->url, sizeof(cl->url), "%s/api/v1/pools/%s/rollout", r->url, r->pool);
			break;
		default:
			snprintf(cl->url, sizeof(cl->url), "%s/metrics", r->url);
			break;
		}
		curl_easy_setopt(cl->easy, CURLOPT_URL, cl->url);
	}
	cl->busy = true;
	return curl_multi_add_handle(r->multi, cl->easy) == CURLM_OK ? 0 : -EIO;
}

/* The API client's next call, after the one that just ended. */
static void api_advance(struct run *r, struct client *cl)
{
	json_t *j, *next;

	switch (cl->kind) {
	case K_NODES_PAGE:
		j = cl->body.p ? json_loads(cl->body.p, 0, NULL) : NULL;
		next = json_object_get(j, "next");
		if (!json_is_array(json_object_get(j, "items")))
			r->nodes_listed_bad++;
		if (json_is_string(next) && strlen(json_string_value(next)) < sizeof(cl->next))
			snprintf(cl->next, sizeof(cl->next), "%s", json_string_value(next));
		else {
			cl->next[0] = '\0';
			cl->kind = K_NODE;
		}
		json_decref(j);
		break;
	case K_NODE: cl->kind = K_ROLLOUT; break;
	case K_ROLLOUT: cl->kind = K_METRICS; break;
	default: cl->kind = K_NODES_PAGE; break;
	}
}

static void done(struct run *r, struct client *cl, CURLcode res, bool running)
{
	curl_off_t us = 0;
	long status = 0;
	double t;
	bool ok;
	char hex[SHA256_HEX_LEN + 1];

	curl_easy_getinfo(cl->easy, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(cl->easy, CURLINFO_TOTAL_TIME_T, &us);
	curl_multi_remove_handle(r->multi, cl->easy);
	cl->busy = false;
	t = (double)us / 1e6;
	ok = res == CURLE_OK && status >= 200 && status < 300;
	if (cl->kind == K_DOWNLOAD && ok) {
		ok = cl->got == r->size;
		r->dl_bytes += cl->got;
		if (ok && cl->sha) {
			sha256_final_hex(cl->sha, hex);
			r->sha_checked++;
			if (!str_eq(hex, r->sha)) {
				r->sha_bad++;
				ok = false;
			}
		}
	}
	if (cl->kind == K_HEARTBEAT && t > r->hb_max)
		r->hb_max = t;
	if (ok)
		stat_add(&r->st[cl->kind], t);
	else {
		r->st[cl->kind].failed++;
		if (r->fails_shown++ < LOADGEN_FAILS_SHOWN)
			fprintf(stderr, "loadgen: %s %s failed: %s, HTTP %ld, %.3f s, %" PRIu64 " bytes\n",
				kind_name[cl->kind], cl->kind == K_HEARTBEAT ? r->names[cl->index] : cl->url,
				curl_easy_strerror(res), status, t, cl->got);
	}
	if (cl->api)
		api_advance(r, cl);
	if (!running)
		return;
	if (cl->kind == K_HEARTBEAT) {
		if (cl->again) { /* its next second came while this one was in flight */
			cl->again = false;
			r->hb_sent++;
			start(r, cl);
		}
	} else
		start(r, cl);
}

static int read_tokens(struct run *r, const char *path)
{
	FILE *f = fopen(path, "r");
	char name[64], tok[128];

	if (!f)
		return -errno;
	r->names = calloc(LOADGEN_MAX_NODES, sizeof(*r->names));
	r->tokens = calloc(LOADGEN_MAX_NODES, sizeof(*r->tokens));
	if (!r->names || !r->tokens) {
		fclose(f);
		return -ENOMEM;
	}
	while (r->nodes < LOADGEN_MAX_NODES && fscanf(f, "%63s %127s", name, tok) == 2) {
		if (strlen(name) >= sizeof(r->names[0]) || strlen(tok) >= sizeof(r->tokens[0]))
			break;
		/* Lengths checked just above. */
		memcpy(r->names[r->nodes], name, strlen(name) + 1);
		memcpy(r->tokens[r->nodes], tok, strlen(tok) + 1);
		r->nodes++;
	}
	fclose(f);
	return r->nodes ? 0 : -EINVAL;
}

static double rss_mib(int pid)
{
	char path[64], line[256];
	double kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	if (!(f = fopen(path, "r")))
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %lf kB", &kb) == 1)
			break;
	fclose(f);
	return kb < 0 ? -1 : kb / 1024.0;
}

/* CPU seconds (user + system) of process pid so far, from /proc; -1 if unreadable. */
static double proc_cpu_s(int pid)
{
	char path[64], text[1024], *p;
	unsigned long long ut, st;
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (!(f = fopen(path, "r")))
		return -1;
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	/* After the command's closing parenthesis: state, then fields 4.. ; utime and stime are 14 and 15. */
	if (!(p = strrchr(text, ')')) ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* The first three figures of /proc/loadavg with a newline (the machine is shared: say how busy it was). */
static const char *loadavg(void)
{
	static char buf[64];
	FILE *f = fopen("/proc/loadavg", "r");

	snprintf(buf, sizeof(buf), "?\n");
	if (f) {
		double a, b, c;
		if (fscanf(f, "%lf %lf %lf", &a, &b, &c) == 3)
			snprintf(buf, sizeof(buf), "%.1f %.1f %.1f\n", a, b, c);
		fclose(f);
	}
	return buf;
}

static void rss_sample(struct run *r, double t)
{
	if (r->pid <= 0 || r->rss_n >= sizeof(r->rss_t) / sizeof(r->rss_t[0]))
		return;
	r->rss_t[r->rss_n] = t;
	r->rss_mib[r->rss_n++] = rss_mib(r->pid);
}

/* The highest RSS sampled in [from, to) seconds; -1 if none. */
static double rss_max(const struct run *r, double from, double to)
{
	double m = -1;

	for (unsigned i = 0; i < r->rss_n; i++)
		if (r->rss_t[i] >= from - 0.5 && r->rss_t[i] < to + 0.5 && r->rss_mib[i] > m)
			m = r->rss_mib[i];
	return m;
}

static void client_init(struct run *r, struct client *cl, enum kind kind, unsigned index)
{
	char hdr[160];

	cl->easy = curl_easy_init();
	cl->kind = kind;
	cl->index = index;
	curl_easy_setopt(cl->easy, CURLOPT_PRIVATE, cl);
	curl_easy_setopt(cl->easy, CURLOPT_NOSIGNAL, 1L);
	if (kind == K_HEARTBEAT) {
		/* What bootwave-agent heartbeat sends (imaging/agent/heartbeat.c, lib/httpc.c). */
		static const char body[] = "{\"state\":\"Healthy\",\"version\":\"v1\",\"boot_id\":\"load\"}";
		char iface[64];

		snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s", r->tokens[index]);
		cl->hdrs = curl_slist_append(cl->hdrs, "Content-Type: application/json");
		cl->hdrs = curl_slist_append(cl->hdrs, hdr);
		cl->hdrs = curl_slist_append(cl->hdrs, "Accept: application/json");
		snprintf(cl->url, sizeof(cl->url), "%s/api/v1/agent/heartbeat", r->url);
		curl_easy_setopt(cl->easy, CURLOPT_URL, cl->url);
		curl_easy_setopt(cl->easy, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(cl->easy, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
		curl_easy_setopt(cl->easy, CURLOPT_CUSTOMREQUEST, "POST");
		curl_easy_setopt(cl->easy, CURLOPT_TIMEOUT_MS, LOADGEN_HB_TIMEOUT_MS);
		/* Its own source address: a connection of its own, as a separate machine has. */
		snprintf(iface, sizeof(iface), "host!127.1.%u.%u", index / 250, index % 250 + 1);
		curl_easy_setopt(cl->easy, CURLOPT_INTERFACE, iface);
		curl_easy_setopt(cl->easy, CURLOPT_WRITEFUNCTION, on_buf);
		curl_easy_setopt(cl->easy, CURLOPT_WRITEDATA, &cl->body);
	} else {
		snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s", r->viewer);
		cl->hdrs = curl_slist_append(cl->hdrs, hdr);
		if (kind == K_DOWNLOAD) {
			snprintf(cl->url, sizeof(cl->url), "%s%s", r->url, r->artifact);
			curl_easy_setopt(cl->easy, CURLOPT_URL, cl->url);
			curl_easy_setopt(cl->easy, CURLOPT_WRITEFUNCTION, on_download);
			curl_easy_setopt(cl->easy, CURLOPT_WRITEDATA, cl);
			curl_easy_setopt(cl->easy, CURLOPT_BUFFERSIZE, 256L * 1024);
			cl->rate = r->rate;
		} else {
			cl->api = true;
			cl->hdrs = curl_slist_append(cl->hdrs, "Accept: application/json");
			curl_easy_setopt(cl->easy, CURLOPT_WRITEFUNCTION, on_buf);
			curl_easy_setopt(cl->easy, CURLOPT_WRITEDATA, &cl->body);
			curl_easy_setopt(cl->easy, CURLOPT_TIMEOUT, LOADGEN_API_TIMEOUT_S);
		}
	}
	curl_easy_setopt(cl->easy, CURLOPT_HTTPHEADER, cl->hdrs);
}

static void print_kind(const struct run *r, enum kind k)
{
	const struct stat_kind *s = &r->st[k];

	printf("  %-11s %8" PRIu64 " ok %4" PRIu64 " failed   p50 %7.1f  p90 %7.1f  p99 %7.1f  max %7.1f ms\n",
	       kind_name[k], s->n, s->failed, lat_pct(s->v, s->n, 50) * 1e3, lat_pct(s->v, s->n, 90) * 1e3,
	       lat_pct(s->v, s->n, 99) * 1e3, s->n ? s->v[s->n - 1] * 1e3 : 0.0);
}

static int run_main(struct run *r)
{
	unsigned total = r->nodes + r->downloads + r->clients, hb_next = 0, round = 0;
	struct client *cl = calloc(total, sizeof(*cl));
	double t0, end, hb_due, next_rss, next_progress, drain_until;
	uint64_t last_sent = 0;
	int running = 0, left, verdict = 0;
	double win, ref, last, cpu0 = r->pid > 0 ? proc_cpu_s(r->pid) : -1, my0 = clock_seconds(CLOCK_PROCESS_CPUTIME_ID);

	if (!cl || !(r->multi = curl_multi_init()))
		return 1;
	curl_multi_setopt(r->multi, CURLMOPT_MAXCONNECTS, (long)total + 16);
	for (unsigned i = 0; i < r->nodes; i++)
		client_init(r, &cl[i], K_HEARTBEAT, i);
	for (unsigned i = 0; i < r->downloads; i++)
		client_init(r, &cl[r->nodes + i], K_DOWNLOAD, i);
	for (unsigned i = 0; i < r->clients; i++)
		client_init(r, &cl[r->nodes + r->downloads + i], K_NODES_PAGE, i);
	for (unsigned i = 0; i < total; i++)
		if (!cl[i].easy)
			return 1;

	t0 = now_s();
	end = t0 + r->seconds;
	hb_due = t0;
	next_rss = t0;
	next_progress = t0 + 10;
	for (unsigned i = r->nodes; i < total; i++)
		start(r, &cl[i]);
	printf("load: %u nodes heartbeating every second, %u downloads of %" PRIu64 " bytes at %" PRIu64
	       " B/s each, %u API clients, for %u s\n",
	       r->nodes, r->downloads, r->size, r->rate, r->clients, r->seconds);
	fflush(stdout);
	for (;;) {
		double now = now_s(), wait;
		CURLMsg *m;

		if (now < end) {
			/* Node i's heartbeats are due at t0 + k + i/nodes: an even spread over each second. */
			while (hb_due <= now) {
				struct client *c = &cl[hb_next];

				if (c->busy)
					c->again = true, r->hb_delayed++;
				else {
					r->hb_sent++;
					start(r, c);
				}
				if (++hb_next == r->nodes) {
					hb_next = 0;
					round++;
				}
				hb_due = t0 + round + (double)hb_next / r->nodes;
			}
			if (now >= next_rss) {
				rss_sample(r, now - t0);
				next_rss += LOADGEN_RSS_EVERY_S;
			}
			if (now >= next_progress) {
				printf("  %3.0f s: heartbeats %" PRIu64 " sent (%.0f/s), %" PRIu64 " failed; downloads %" PRIu64
				       "; API calls %" PRIu64 "; RSS %.1f MiB\n",
				       now - t0, r->hb_sent, (double)(r->hb_sent - last_sent) / 10.0,
				       r->st[K_HEARTBEAT].failed, r->st[K_DOWNLOAD].n,
				       r->st[K_NODES_PAGE].n + r->st[K_NODE].n + r->st[K_ROLLOUT].n + r->st[K_METRICS].n,
				       r->rss_n ? r->rss_mib[r->rss_n - 1] : -1.0);
				fflush(stdout);
				last_sent = r->hb_sent;
				next_progress += 10;
			}
		}
		for (unsigned i = r->nodes; i < r->nodes + r->downloads; i++)
			if (cl[i].paused && cl[i].busy && !dl_over_pace(&cl[i])) {
				cl[i].paused = false;
				curl_easy_pause(cl[i].easy, CURLPAUSE_CONT);
			}
		if (curl_multi_perform(r->multi, &running) != CURLM_OK)
			break;
		while ((m = curl_multi_info_read(r->multi, &left))) {
			struct client *c;

			if (m->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&c);
			done(r, c, m->data.result, now_s() < end);
		}
		if (now >= end && running == 0)
			break;
		wait = now < end ? hb_due - now_s() : 0.1;
		if (wait > 0.01)
			wait = 0.01; /* paused downloads are looked at this often */
		if (now < end && next_rss - now_s() < wait)
			wait = next_rss - now_s();
		if (wait > 0.0005 && curl_multi_poll(r->multi, NULL, 0, (int)(wait * 1000) + 1, NULL) != CURLM_OK)
			break;
	}
	rss_sample(r, now_s() - t0);
	drain_until = now_s() - end;
	if (r->pid > 0)
		printf("CPU: bootwaved %.1f s (%.0f%% of one core), loadgen %.1f s, over %u s; load average %s", proc_cpu_s(r->pid) - cpu0,
		       (proc_cpu_s(r->pid) - cpu0) * 100.0 / (now_s() - t0), clock_seconds(CLOCK_PROCESS_CPUTIME_ID) - my0,
		       r->seconds, loadavg());

	for (int k = 0; k < K_N; k++)
		lat_sort(r->st[k].v, r->st[k].n);
	printf("load: done in %.0f s (%.1f s to let the last requests finish)\n", now_s() - t0, drain_until);
	printf("heartbeats: %" PRIu64 " sent of %" PRIu64 " due, %" PRIu64 " ok, %" PRIu64
	       " lost (not 2xx within %ld ms), %" PRIu64 " sent late (the node's previous one still in flight), worst %.1f ms\n",
	       r->hb_sent, (uint64_t)r->nodes * r->seconds, r->st[K_HEARTBEAT].n, r->st[K_HEARTBEAT].failed,
	       LOADGEN_HB_TIMEOUT_MS, r->hb_delayed, r->hb_max * 1e3);
	printf("downloads: %" PRIu64 " complete of %" PRIu64 " bytes, %" PRIu64 " failed, %.1f MiB/s, sha256 checked %" PRIu64
	       " (%" PRIu64 " wrong)\n",
	       r->st[K_DOWNLOAD].n, r->size, r->st[K_DOWNLOAD].failed, (double)r->dl_bytes / 1048576.0 / r->seconds,
	       r->sha_checked, r->sha_bad);
	printf("latency by kind:\n");
	for (int k = 0; k < K_N; k++)
		print_kind(r, (enum kind)k);
	if (r->pid > 0) {
		printf("bootwaved RSS (MiB, every %.0f s):", LOADGEN_RSS_EVERY_S);
		for (unsigned i = 0; i < r->rss_n; i++)
			printf(" %.1f", r->rss_mib[i]);
		printf("\n");
		/* Flat: the last window's highest is not above the second window's, beyond 10% or 4 MiB. */
		win = r->seconds >= 180 ? 60 : r->seconds / 3.0;
		ref = rss_max(r, win, 2 * win);
		last = rss_max(r, r->seconds - win, r->seconds);
		printf("RSS max %.1f MiB in [%.0f s, %.0f s), %.1f MiB in the last %.0f s: %s\n", ref, win, 2 * win, last,
		       win, last <= ref * 1.10 || last - ref <= 4.0 ? "flat" : "GROWING");
		if (!(last <= ref * 1.10 || last - ref <= 4.0) || ref < 0)
			verdict = 1;
	}
	if (r->st[K_HEARTBEAT].failed || r->hb_sent < (uint64_t)r->nodes * r->seconds * 99 / 100 ||
	    r->st[K_DOWNLOAD].failed || !r->st[K_DOWNLOAD].n || !r->sha_checked || r->nodes_listed_bad)
		verdict = 1;
	for (int k = K_NODES_PAGE; k < K_N; k++)
		if (r->st[k].failed || !r->st[k].n)
			verdict = 1;
	printf("load: %s\n", verdict ? "FAILED" : "passed");

	for (unsigned i = 0; i < total; i++) {
		curl_easy_cleanup(cl[i].easy);
		curl_slist_free_all(cl[i].hdrs);
		free(cl[i].body.p);
		sha256_free(cl[i].sha);
	}
	curl_multi_cleanup(r->multi);
	free(cl);
	return verdict;
}

static void usage(void)
{
	fprintf(stderr, "usage: loadgen seed -u URL -t ADMIN -n NODES -P POOL -x SHA256 -o TOKENS\n"
			"       loadgen run -u URL -T TOKENS -V VIEWER -a PATH -z SIZE -x SHA256 -P POOL\n"
			"                   [-s SECONDS] [-d DOWNLOADS] [-r RATE] [-c CLIENTS] [-p PID]\n");
	exit(2);
}

static unsigned num(const char *s, unsigned long long max)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || v > max)
		usage();
	return (unsigned)v;
}

int main(int argc, char **argv)
{
	struct seed sd = { .nodes = 0 };
	struct run r = { .seconds = 300, .downloads = 64, .clients = 8, .rate = 2 << 20 };
	const char *out = NULL, *tokens = NULL;
	bool seed;
	int c, rc;

	if (argc < 2 || (!str_eq(argv[1], "seed") && !str_eq(argv[1], "run")))
		usage();
	seed = str_eq(argv[1], "seed");
	optind = 2;
	while ((c = getopt(argc, argv, "u:t:n:P:x:o:T:V:a:z:s:d:r:c:p:")) != -1) {
		switch (c) {
		case 'u': sd.url = r.url = optarg; break;
		case 't': sd.admin = optarg; break;
		case 'n': sd.nodes = num(optarg, LOADGEN_MAX_NODES); break;
		case 'P': sd.pool = r.pool = optarg; break;
		case 'x': sd.sha = r.sha = optarg; break;
		case 'o': out = optarg; break;
		case 'T': tokens = optarg; break;
		case 'V': r.viewer = optarg; break;
		case 'a': r.artifact = optarg; break;
		case 'z': r.size = num(optarg, 1ULL << 40); break;
		case 's': r.seconds = num(optarg, 86400); break;
		case 'd': r.downloads = num(optarg, LOADGEN_MAX_DOWNLOADS); break;
		case 'r': r.rate = num(optarg, 1ULL << 40); break;
		case 'c': r.clients = num(optarg, LOADGEN_MAX_CLIENTS); break;
		case 'p': r.pid = (int)num(optarg, 1U << 30); break;
		default: usage();
		}
	}
	if (optind != argc || !r.url || !r.pool || !r.sha)
		usage();
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return 1;
	if (seed) {
		if (!sd.admin || !sd.nodes || !out)
			usage();
		rc = seed_main(&sd, out);
	} else {
		if (!tokens || !r.viewer || !r.artifact || !r.size || !r.seconds || r.clients < 1)
			usage();
		if ((rc = read_tokens(&r, tokens)) < 0) {
			fprintf(stderr, "loadgen: cannot read the tokens of %s: %s\n", tokens, strerror(-rc));
			return 1;
		}
		srandom(1);
		rc = run_main(&r);
		for (int k = 0; k < K_N; k++)
			free(r.st[k].v);
		free(r.names);
		free(r.tokens);
	}
	curl_global_cleanup();
	return rc;
}
