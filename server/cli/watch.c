// SPDX-License-Identifier: Apache-2.0
/*
 * bootwave rollout watch POOL: a pool's rollout, live. Every --interval
 * seconds it asks the API for the rollout (GET /pools/P/rollout) and the
 * pool's nodes (GET /nodes?pool=P) and shows them by zone and rack: each
 * node's fault and update domain, version and slot, state and health, its
 * batch and its phase in the rollout (with how long it has been in it),
 * and the rollout's counts and ETA. On a terminal the view is redrawn in
 * place; otherwise (a log, a pipe) one line is printed per change. It ends
 * when the rollout does, with the last view: exit 0 when it Completed, 1
 * when it Faulted or was Cancelled. With --wait, a pool whose rollout has
 * ended waits for the next one to start first (an automatic upgrade after
 * a publish). Errors from an API that stopped answering are shown and
 * retried; a missing pool or a refused token ends the watch.
 */
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

struct watch {
	struct cli *c;
	const char *pool;
	char *epool;        /* the pool's name, URL-escaped */
	unsigned interval;  /* seconds */
	bool wait;          /* wait for the next rollout */
	bool tty;
	json_int_t skip_id; /* with wait: the rollout that had ended already */
	json_t *rollout;    /* the last answer, or NULL when there is none */
	json_t *nodes;      /* the pool's nodes, sorted */
	json_t *seen;       /* without a terminal: node name -> "batch phase" last printed */
	char seen_head[256];
	char err[300];      /* the last transport or server error, shown until it clears */
};

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

static const char *jstr(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}
static json_int_t jint(json_t *o, const char *k) { return json_integer_value(json_object_get(o, k)); }

/* "1h02m", "3m05s", "42s" */
static void span(char *out, size_t size, long long s)
{
	if (s < 0)
		s = 0;
	if (s >= 3600)
		snprintf(out, size, "%lldh%02lldm", s / 3600, s / 60 % 60);
	else if (s >= 60)
		snprintf(out, size, "%lldm%02llds", s / 60, s % 60);
	else
		snprintf(out, size, "%llds", s);
}

static int by_place(const void *a, const void *b)
{
	json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	int r = strcmp(jstr(x, "zone"), jstr(y, "zone"));
	if (!r)
		r = strcmp(jstr(x, "rack"), jstr(y, "rack"));
	if (!r)
		r = (jint(x, "update_domain") > jint(y, "update_domain")) - (jint(x, "update_domain") < jint(y, "update_domain"));
	return r ? r : strcmp(jstr(x, "name"), jstr(y, "name"));
}

/* GET path into *ret (NULL on 404). Returns 0, 1 when it failed for now (w->err set), or an exit code < 0. */
static int get(struct watch *w, const char *path, json_t **ret)
{
	struct httpc_reply rep;
	*ret = NULL;
	httpc_request(w->c->http, "GET", path, NULL, &rep);
	if (rep.status == 200 && rep.json) {
		*ret = json_incref(rep.json);
		httpc_reply_clear(&rep);
		return 0;
	}
	if (rep.status == 404 && strstr(path, "/rollout")) {
		httpc_reply_clear(&rep);
		return 0;
	}
	if (rep.status == 0 || rep.status >= 500) {
		snprintf(w->err, sizeof(w->err), "GET %s: %s", path,
			 rep.status ? jstr(json_object_get(rep.json, "error"), "message") : rep.err);
		httpc_reply_clear(&rep);
		return 1;
	}
	int r = cli_fail(&rep, path);
	httpc_reply_clear(&rep);
	return -r;
}

/* One look at the rollout and the nodes. Returns 0, 1 (try again later) or -exit code. */
static int poll_once(struct watch *w)
{
	char path[600];
	json_t *ro, *nodes;
	int r;

	snprintf(path, sizeof(path), "/api/v1/pools/%s/rollout", w->epool);
	if ((r = get(w, path, &ro)) != 0)
		return r;
	/* Every page of the pool's nodes. */
	nodes = json_array();
	char cursor[32] = "";
	for (bool more = true; more;) {
		json_t *page;
		snprintf(path, sizeof(path), "/api/v1/nodes?pool=%s%s%s", w->epool, cursor[0] ? "&after=" : "", cursor);
		if ((r = get(w, path, &page)) != 0) {
			json_decref(ro);
			json_decref(nodes);
			return r;
		}
		json_array_extend(nodes, json_object_get(page, "items"));
		const char *next = json_string_value(json_object_get(page, "next"));
		more = next && next[0] && !str_eq(next, cursor);
		if (more)
			snprintf(cursor, sizeof(cursor), "%s", next);
		json_decref(page);
	}
	size_t n = json_array_size(nodes);
	json_t **v = calloc(n ? n : 1, sizeof(*v));
	if (!v) {
		json_decref(ro);
		json_decref(nodes);
		return -EXIT_FAIL;
	}
	for (size_t i = 0; i < n; i++)
		v[i] = json_array_get(nodes, i);
	qsort(v, n, sizeof(*v), by_place);
	json_t *sorted = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append(sorted, v[i]);
	free(v);
	json_decref(nodes);
	json_decref(w->rollout);
	json_decref(w->nodes);
	w->rollout = ro;
	w->nodes = sorted;
	w->err[0] = '\0';
	return 0;
}

static bool running(const struct watch *w) { return w->rollout && str_eq(jstr(w->rollout, "status"), "RollingForward"); }
/* Whether the rollout shown is the one being waited for (or any, without --wait). */
static bool current(const struct watch *w) { return w->rollout && jint(w->rollout, "id") != w->skip_id; }

/* The rollout's headline into out. */
static void headline(const struct watch *w, char *out, size_t size, time_t now)
{
	json_t *ro = w->rollout, *p = json_object_get(ro, "progress"), *b = json_object_get(ro, "rollback");
	json_t *eta = json_object_get(ro, "eta");
	const char *what = jstr(ro, "extension")[0] ? jstr(ro, "extension") : jstr(ro, "image");
	const char *code = jstr(ro, "error_code");
	char ago[32], left[32], at[16] = "";
	size_t n;

	if (!ro) {
		snprintf(out, size, "pool %s: no rollout%s", w->pool, w->wait ? " yet (waiting for one)" : "");
		return;
	}
	if (!current(w)) {
		snprintf(out, size, "pool %s: rollout %lld ended %s; waiting for the next one", w->pool,
			 (long long)jint(ro, "id"), jstr(ro, "status"));
		return;
	}
	span(ago, sizeof(ago), now - jint(ro, "started_at"));
	n = (size_t)snprintf(out, size,
			     "rollout %lld of pool %s: %s %s, %s%s%s (by %s, %s ago)\n"
			     "batch %lld: %lld ok, %lld in progress, %lld pending, %lld failed, %lld skipped; rolled back %lld",
			     (long long)jint(ro, "id"), w->pool, what, jstr(ro, "version"), jstr(ro, "status"),
			     code[0] ? " " : "", code, jstr(ro, "started_by"), ago, (long long)jint(ro, "batches"),
			     (long long)jint(p, "successful"), (long long)jint(p, "in_progress"),
			     (long long)jint(p, "pending"), (long long)jint(p, "failed"), (long long)jint(p, "skipped"),
			     (long long)jint(b, "rolled_back"));
	if (n < size && json_is_integer(eta)) {
		time_t t = (time_t)json_integer_value(eta);
		strftime(at, sizeof(at), "%H:%M:%S", localtime(&t));
		span(left, sizeof(left), t - now);
		snprintf(out + n, size - n, "; ETA %s (in %s)", at, left);
	} else if (n < size && running(w)) {
		snprintf(out + n, size - n, "; ETA after the first batch");
	}
}

/* The rollout entry of node name, or NULL. */
static json_t *rollout_node(const struct watch *w, const char *name)
{
	size_t i;
	json_t *x;
	if (!current(w))
		return NULL;
	json_array_foreach(json_object_get(w->rollout, "nodes"), i, x) if (str_eq(jstr(x, "node"), name)) return x;
	return NULL;
}

/* node's phase in the rollout, with its age while in flight: "imaging 35s". */
static void phase_of(const struct watch *w, json_t *x, char *out, size_t size, time_t now)
{
	const char *ph = jstr(x, "phase");
	char age[32];
	bool done = str_eq(ph, "pending") || str_eq(ph, "skipped") || str_eq(ph, "succeeded") || str_eq(ph, "failed") ||
		    str_eq(ph, "rolled-back") || str_eq(ph, "rollback-failed");
	if (!x) {
		snprintf(out, size, "-");
		return;
	}
	if (done || !running(w) || !jint(x, "phase_at")) {
		snprintf(out, size, "%s", ph);
		return;
	}
	span(age, sizeof(age), now - jint(x, "phase_at"));
	snprintf(out, size, "%s %s", ph, age);
}

/* "v2 (slot b)", and "v2 (slot b) > v3 (a)" while v3 is written or booted and not yet committed. */
static void version_of(json_t *nd, char *out, size_t size)
{
	const char *v = jstr(nd, "installed_version"), *p = jstr(nd, "pending_version");
	int n = v[0] ? snprintf(out, size, "%s (slot %s)", v, jstr(nd, "active_slot")) : snprintf(out, size, "-");
	if (p[0] && n >= 0 && (size_t)n < size)
		snprintf(out + n, size - (size_t)n, " > %s (%s)", p, jstr(nd, "pending_slot"));
}

static void draw(struct watch *w)
{
	time_t now = time(NULL);
	char head[512], ph[64], tbuf[16], ver[160];
	int wn = 4, wv = 7;
	size_t i;
	json_t *nd;
	const char *zone = NULL, *rack = NULL;

	strftime(tbuf, sizeof(tbuf), "%H:%M:%S", localtime(&now));
	headline(w, head, sizeof(head), now);
	json_array_foreach(w->nodes, i, nd)
	{
		int l = (int)strlen(jstr(nd, "name"));
		wn = l > wn ? l : wn;
		version_of(nd, ver, sizeof(ver));
		l = (int)strlen(ver);
		wv = l > wv ? l : wv;
	}
	if (w->tty)
		fputs("\033[H\033[2J", stdout);
	printf("%s  bootwave rollout watch %s%s\n%s\n", tbuf, w->pool,
	       w->tty ? " (Ctrl-C stops watching, not the rollout)" : "", head);
	if (w->err[0])
		printf("(the API did not answer, retrying: %s)\n", w->err);
	printf("\n  %-*s  FD    UD  %-*s  %-14s %-12s %5s  %s\n", wn, "NODE", wv, "VERSION", "STATE", "HEALTH", "BATCH",
	       "PHASE");
	json_array_foreach(w->nodes, i, nd)
	{
		json_t *x = rollout_node(w, jstr(nd, "name"));
		if (!zone || !str_eq(zone, jstr(nd, "zone")) || !rack || !str_eq(rack, jstr(nd, "rack"))) {
			zone = jstr(nd, "zone");
			rack = jstr(nd, "rack");
			printf("zone %s, rack %s\n", zone[0] ? zone : "-", rack[0] ? rack : "-");
		}
		version_of(nd, ver, sizeof(ver));
		phase_of(w, x, ph, sizeof(ph), now);
		char batch[16] = "-";
		if (x && jint(x, "batch") > 0)
			snprintf(batch, sizeof(batch), "%lld", (long long)jint(x, "batch"));
		char fd[16] = "-";
		if (json_is_integer(json_object_get(nd, "fault_domain")))
			snprintf(fd, sizeof(fd), "%lld", (long long)jint(nd, "fault_domain"));
		printf("  %-*s  %-4s  %2lld  %-*s  %-14s %-12s %5s  %s\n", wn, jstr(nd, "name"), fd,
		       (long long)jint(nd, "update_domain"), wv, ver, jstr(nd, "state"), jstr(nd, "health"), batch, ph);
	}
	fflush(stdout);
}

/* Without a terminal: a line for the rollout when its headline changes, one per node phase change. */
static void log_changes(struct watch *w)
{
	time_t now = time(NULL);
	char tbuf[16], key[96], head[512];
	size_t i;
	json_t *nd;

	strftime(tbuf, sizeof(tbuf), "%H:%M:%S", localtime(&now));
	if (w->err[0])
		printf("%s  (the API did not answer, retrying: %s)\n", tbuf, w->err);
	headline(w, head, sizeof(head), now);
	/* A change: another rollout, status, batch or count (not the clock, not the ETA). */
	char cmp[sizeof(w->seen_head)];
	char *counts = json_dumps(json_object_get(w->rollout, "progress"), JSON_SORT_KEYS | JSON_COMPACT);
	snprintf(cmp, sizeof(cmp), "%lld %d %s %lld %s", (long long)jint(w->rollout, "id"), current(w),
		 jstr(w->rollout, "status"), (long long)jint(w->rollout, "batches"), counts ? counts : "");
	free(counts);
	if (!str_eq(cmp, w->seen_head)) {
		snprintf(w->seen_head, sizeof(w->seen_head), "%s", cmp);
		for (char *s = head; (s = strchr(s, '\n'));)
			*s = ' ';
		printf("%s  %s\n", tbuf, head);
	}
	json_array_foreach(w->nodes, i, nd)
	{
		json_t *x = rollout_node(w, jstr(nd, "name"));
		if (!x)
			continue;
		snprintf(key, sizeof(key), "%lld %s", (long long)jint(x, "batch"), jstr(x, "phase"));
		if (str_eq(json_string_value(json_object_get(w->seen, jstr(nd, "name"))), key))
			continue;
		json_object_set_new(w->seen, jstr(nd, "name"), json_string(key));
		const char *why = jstr(x, "reason");
		printf("%s  %s (zone %s, rack %s, UD %lld): batch %lld, %s%s%s\n", tbuf, jstr(nd, "name"),
		       jstr(nd, "zone")[0] ? jstr(nd, "zone") : "-", jstr(nd, "rack")[0] ? jstr(nd, "rack") : "-",
		       (long long)jint(nd, "update_domain"), (long long)jint(x, "batch"), jstr(x, "phase"),
		       why[0] ? ": " : "", why);
	}
	fflush(stdout);
}

int rollout_watch(struct cli *c, int argc, char **argv)
{
	struct watch w = { .c = c, .pool = argv[1], .interval = 2, .tty = isatty(STDOUT_FILENO) };
	char path[600];
	json_t *pool;
	int r = 0;

	for (int i = 2; i < argc; i++) {
		char *end;
		if (str_eq(argv[i], "--wait")) {
			w.wait = true;
		} else if (str_eq(argv[i], "--interval") && i + 1 < argc &&
			   (w.interval = (unsigned)strtoul(argv[i + 1], &end, 10)) >= 1 && w.interval <= 3600 && !*end &&
			   argv[i + 1][0] != '-') {
			i++;
		} else {
			usage_error("usage: bootwave rollout watch POOL [--wait] [--interval SECONDS (1-3600)]: unexpected \"%s\"",
				    argv[i]);
			return EXIT_USAGE;
		}
	}
	if (!(w.epool = httpc_escape(w.pool)) || !(w.seen = json_object()))
		return EXIT_FAIL;
	/* The pool must exist; a wrong name or token ends it at once. */
	snprintf(path, sizeof(path), "/api/v1/pools/%s", w.epool);
	while ((r = get(&w, path, &pool)) == 1) {
		fprintf(stderr, "bootwave: %s (retrying)\n", w.err);
		sleep(w.interval);
	}
	json_decref(pool);
	if (r < 0)
		goto out;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	httpc_set_timeout(c->http, 30);
	bool first = true;
	while (!stop) {
		r = poll_once(&w);
		if (r < 0)
			goto out;
		if (first && r == 0) {
			first = false;
			/* --wait on an ended rollout: the next one is the one to watch. */
			if (w.wait && w.rollout && !running(&w))
				w.skip_id = jint(w.rollout, "id");
		}
		if (w.tty)
			draw(&w);
		else
			log_changes(&w);
		if (r == 0 && current(&w) && !running(&w))
			break;
		if (r == 0 && !w.wait && !running(&w))
			break;
		for (unsigned s = 0; s < w.interval * 10 && !stop; s++)
			usleep(100000);
	}
	if (stop) {
		r = EXIT_OK;
		goto out;
	}
	if (!w.tty)
		draw(&w); /* the last view, whole */
	r = w.rollout && str_eq(jstr(w.rollout, "status"), "Completed") ? EXIT_OK : EXIT_FAIL;
	if (!w.rollout)
		r = EXIT_OK;
out:
	json_decref(w.rollout);
	json_decref(w.nodes);
	json_decref(w.seen);
	free(w.epool);
	return r < 0 ? -r : r;
}
