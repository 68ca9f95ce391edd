// SPDX-License-Identifier: Apache-2.0
/*
 * redfish_sim: a Redfish BMC for the tests of hw/redfish.c, on libmicrohttpd
 * (a thread per connection) and jansson. It serves a DMTF mockup tree (each
 * folder's index.json is the resource at that path under /redfish/v1) and
 * acts on it as a BMC does: sessions are created through the SessionService
 * (201, X-Auth-Token, Location; listed in the Sessions collection) and ended
 * by DELETE, Basic auth is accepted too, and anything else without valid
 * credentials is answered 401; ComputerSystem.Reset changes the PowerState
 * (of the system and its chassis), a PATCH of Boot.BootSourceOverride* is
 * checked against the AllowableValues and kept; errors carry the messages of
 * the tree's own Base registry. All state is in memory, under one mutex.
 * Faults for the tests: --drop-property removes a property (at any depth)
 * from every resource, as if the BMC never had it; --garbage answers all
 * but the login with bytes that are not JSON; --hang-after N answers N
 * requests, then accepts and never replies; --delay MS takes that long over
 * each request, as a BMC's slow processor does. GET /sim/stats (no auth, not
 * counted) gives the counters as JSON; on SIGTERM or SIGINT the same JSON
 * goes to the --stats file and it exits 0. It listens on 127.0.0.1; PORT 0
 * binds an ephemeral port, written to the --portfile.
 *
 * --events FILE: a line per event, appended as it happens, so that a test
 * can tell what the BMC saw and when, also across many simulators sharing
 * one file (O_APPEND, one write() per line, no buffering; the time is
 * CLOCK_MONOTONIC, common to all processes of the machine):
 *   <ns> <port> open <session id>   a session was created (login)
 *   <ns> <port> close <session id>  it was deleted
 *   <ns> <port> begin <request no>  a request's headers came (before auth)
 *   <ns> <port> end <request no>    its answer was queued, before a byte of
 *                                   it is sent (or the connection ended
 *                                   without one)
 * begin/end are written for every counted request (not /sim/...), whatever
 * its auth; a request is in flight (the stats' max_in_flight) from begin to
 * end. Since a client sees the answer only after "end" and an event is
 * written with the lock held, a client that waits for each answer never
 * shows two requests in flight here.
 *
 *   redfish_sim --root DIR --port N [--user U --password P] [--portfile F]
 *               [--stats F] [--events F] [--tls-cert F --tls-key F]
 *               [--drop-property NAME]... [--garbage] [--hang-after N] [--delay MS]
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BODY_MAX (64 * 1024) /* a request body */
#define SESSIONS_MAX 16      /* open sessions, as a small BMC allows */
#define DROP_MAX 8
#define EVENT_MAX 160        /* one line of the --events file */
#define V1 "/redfish/v1"
#define SESSIONS V1 "/SessionService/Sessions"
#define RESET_ACTION "/Actions/ComputerSystem.Reset"

struct resource {
	char *path;           /* "/redfish/v1/Systems/X" */
	json_t *doc;          /* as loaded, then as changed by requests */
	struct resource *next;
};

struct session {
	char id[33];
	char token[65];
	char user[64];
	struct session *next;
};

struct sim {
	const char *root, *user, *password;
	const char *drop[DROP_MAX];
	int ndrop;
	bool garbage;
	long long hang_after;  /* -1: never */
	unsigned delay_ms;     /* before each answer */
	json_t *registry;      /* the Base message registry (NULL: none); read-only once started */
	json_t *session_tmpl;  /* a Session of the tree, the model of the ones created */

	int events_fd;         /* --events (-1: none) */

	pthread_mutex_t lock;  /* everything below */
	pthread_cond_t wake;   /* stopping */
	bool stopping;
	unsigned port;         /* as bound, for the events */
	bool events_failed;    /* a write to --events failed (said once) */
	struct resource *res;
	struct session *sessions;
	unsigned sessions_open, in_flight, max_in_flight;
	unsigned long long sessions_created, sessions_deleted, logins_failed, requests;
	json_t *resets;        /* ResetType -> count */
};

/* One request, from its headers to its completion. */
struct req {
	char *body;
	size_t len;
	bool too_big;
	bool counted;          /* in requests and in_flight */
	bool ended;            /* out of in_flight again ("end" written) */
	unsigned long long seq;
};

static const char *const known_resets[] = { "On", "ForceOn", "ForceOff", "GracefulShutdown", "GracefulRestart",
					    "ForceRestart", "PowerCycle", "PushPowerButton", "Nmi", NULL };
/* The schema's enums, when the resource lists no AllowableValues. */
static const char *const boot_targets[] = { "None", "Pxe", "Floppy", "Cd", "Usb", "Hdd", "BiosSetup", "Utilities",
					    "Diags", "UefiShell", "UefiTarget", "SDCard", "UefiHttp", "RemoteDrive",
					    "UefiBootNext", "Recovery", NULL };
static const char *const boot_enabled[] = { "Disabled", "Once", "Continuous", NULL };
static const char *const boot_modes[] = { "Legacy", "UEFI", NULL };

/* ---- the tree ---- */

static void drop_props(const struct sim *sim, json_t *j)
{
	const char *k;
	json_t *v;
	size_t i;

	if (json_is_object(j)) {
		for (int d = 0; d < sim->ndrop; d++)
			json_object_del(j, sim->drop[d]);
		json_object_foreach(j, k, v)
			drop_props(sim, v);
	} else if (json_is_array(j)) {
		json_array_foreach(j, i, v)
			drop_props(sim, v);
	}
}

/* A segment of a path as a file name: no "." or "..", nothing a shell or a URL would treat specially. */
static bool segment_ok(const char *s, size_t n)
{
	if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
		      strchr("._-$@:+", s[i])))
			return false;
	return true;
}

/*
 * The file of the resource at path (under /redfish/v1) into out[size]:
 * ROOT/X/Y/index.json, or ROOT/X/Y.json-like files as such (the registry).
 * file is "index.json" or "index.xml". False if path is not in the tree.
 */
static bool file_of(const struct sim *sim, const char *path, const char *file, char *out, size_t size)
{
	const char *rel, *p;
	struct stat st;

	if (strncmp(path, V1, strlen(V1)) != 0 || (path[strlen(V1)] != '\0' && path[strlen(V1)] != '/'))
		return false;
	rel = path + strlen(V1);
	for (p = rel; *p;) {
		const char *end = strchr(p + 1, '/');
		size_t n = end ? (size_t)(end - p - 1) : strlen(p + 1);
		if (!segment_ok(p + 1, n))
			return false;
		p += n + 1;
	}
	if (snprintf(out, size, "%s%s/%s", sim->root, rel, file) >= (int)size)
		return false;
	if (stat(out, &st) == 0 && S_ISREG(st.st_mode))
		return true;
	if (snprintf(out, size, "%s%s", sim->root, rel) >= (int)size)
		return false;
	return rel[0] && strstr(rel, ".json") && stat(out, &st) == 0 && S_ISREG(st.st_mode);
}

/* The resource at path, loaded on first use (lock held). Borrowed: resources live until exit. */
static json_t *resource(struct sim *sim, const char *path)
{
	char file[4096];
	struct resource *r;
	json_t *doc;

	for (r = sim->res; r; r = r->next)
		if (strcmp(r->path, path) == 0)
			return r->doc;
	if (!file_of(sim, path, "index.json", file, sizeof(file)) || !(doc = json_load_file(file, 0, NULL)))
		return NULL;
	if (!json_is_object(doc) || !(r = calloc(1, sizeof(*r))) || !(r->path = strdup(path))) {
		free(r);
		json_decref(doc);
		return NULL;
	}
	/* As if the BMC never had it: also what the handlers below see. */
	drop_props(sim, doc);
	r->doc = doc;
	r->next = sim->res;
	sim->res = r;
	return doc;
}

static json_t *resource_copy(struct sim *sim, const char *path)
{
	json_t *c;

	pthread_mutex_lock(&sim->lock);
	c = json_deep_copy(resource(sim, path));
	pthread_mutex_unlock(&sim->lock);
	return c;
}

static bool in_list(const json_t *allowed, const char *const *fallback, const char *v)
{
	size_t i;
	json_t *a;

	if (json_is_array(allowed)) {
		json_array_foreach(allowed, i, a)
			if (json_is_string(a) && strcmp(json_string_value(a), v) == 0)
				return true;
		return false;
	}
	for (; *fallback; fallback++)
		if (strcmp(*fallback, v) == 0)
			return true;
	return false;
}

/* The whole file at path, NUL-terminated (caller frees), or NULL. */
static char *read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char *text = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (text = calloc(1, (size_t)n + 1)) && fread(text, 1, (size_t)n, f) != (size_t)n) {
		free(text);
		text = NULL;
	}
	fclose(f);
	return text;
}

/* ---- replies ---- */

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *type, void *data, size_t len,
			     bool must_free, const char *h1, const char *v1, const char *h2, const char *v2)
{
	struct MHD_Response *r =
		MHD_create_response_from_buffer(len, data, must_free ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
	enum MHD_Result ret;

	if (!r) {
		if (must_free)
			free(data);
		return MHD_NO;
	}
	if (type)
		MHD_add_response_header(r, "Content-Type", type);
	MHD_add_response_header(r, "OData-Version", "4.0");
	MHD_add_response_header(r, "Cache-Control", "no-cache");
	if (h1)
		MHD_add_response_header(r, h1, v1);
	if (h2)
		MHD_add_response_header(r, h2, v2);
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

/* Replies j (taken), without the dropped properties. */
static enum MHD_Result reply_json(const struct sim *sim, struct MHD_Connection *c, unsigned status, json_t *j,
				  const char *h1, const char *v1, const char *h2, const char *v2)
{
	char *text;

	if (!j)
		return reply(c, 500, NULL, (void *)"", 0, false, NULL, NULL, NULL, NULL);
	drop_props(sim, j);
	text = json_dumps(j, JSON_INDENT(4));
	json_decref(j);
	if (!text)
		return reply(c, 500, NULL, (void *)"", 0, false, NULL, NULL, NULL, NULL);
	return reply(c, status, "application/json; charset=utf-8", text, strlen(text), true, h1, v1, h2, v2);
}

/*
 * A Redfish error body (DSP0266 "error" with @Message.ExtendedInfo) from the
 * registry's message id, its %1.. replaced by args (NULL-terminated).
 */
static json_t *redfish_error(const struct sim *sim, const char *id, const char *const *args)
{
	json_t *msg = json_object_get(json_object_get(sim->registry, "Messages"), id), *jargs = json_array();
	const char *tmpl = json_string_value(json_object_get(msg, "Message"));
	const char *prefix = json_string_value(json_object_get(sim->registry, "Id"));
	char text[1024], msgid[128];
	size_t o = 0;
	int nargs = 0;

	while (args && args[nargs])
		nargs++;

	snprintf(msgid, sizeof(msgid), "%s.%s", prefix ? prefix : "Base", id);
	if (!tmpl)
		tmpl = id;
	for (const char *p = tmpl; *p && o + 1 < sizeof(text); p++) {
		if (p[0] == '%' && p[1] >= '1' && p[1] <= '9') {
			int n = p[1] - '1';
			const char *a = n < nargs ? args[n] : "";
			o += (size_t)snprintf(text + o, sizeof(text) - o, "%s", a);
			if (o >= sizeof(text))
				o = sizeof(text) - 1;
			p++;
			continue;
		}
		text[o++] = *p;
	}
	text[o] = '\0';
	for (int k = 0; k < nargs; k++)
		json_array_append_new(jargs, json_string(args[k]));
	return json_pack("{s:{s:s, s:s, s:[{s:s, s:s, s:s, s:o, s:s, s:s}]}}", "error", "code", msgid, "message", text,
			 "@Message.ExtendedInfo", "@odata.type", "#Message.v1_1_1.Message", "MessageId", msgid, "Message",
			 text, "MessageArgs", jargs, "Severity",
			 json_string_value(json_object_get(msg, "Severity")) ? json_string_value(json_object_get(msg, "Severity"))
									      : "Critical",
			 "Resolution",
			 json_string_value(json_object_get(msg, "Resolution")) ? json_string_value(json_object_get(msg, "Resolution"))
										: "None");
}

static enum MHD_Result reply_error(const struct sim *sim, struct MHD_Connection *c, unsigned status, const char *id,
				   const char *a1, const char *a2, const char *a3)
{
	const char *args[] = { a1, a2, a3, NULL };

	if (status == 401)
		return reply_json(sim, c, status, redfish_error(sim, id, args), "WWW-Authenticate",
				  "Basic realm=\"redfish_sim\"", NULL, NULL);
	return reply_json(sim, c, status, redfish_error(sim, id, args), NULL, NULL, NULL, NULL);
}

static json_t *stats_json(struct sim *sim)
{
	json_t *j;

	pthread_mutex_lock(&sim->lock);
	j = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:O}", "sessions_created", (json_int_t)sim->sessions_created,
		      "sessions_deleted", (json_int_t)sim->sessions_deleted, "sessions_open", (json_int_t)sim->sessions_open,
		      "logins_failed", (json_int_t)sim->logins_failed, "requests", (json_int_t)sim->requests,
		      "max_in_flight", (json_int_t)sim->max_in_flight, "resets", sim->resets);
	pthread_mutex_unlock(&sim->lock);
	return j;
}

/* ---- events ---- */

/*
 * Appends "<CLOCK_MONOTONIC ns> <port> " and the printf text as one line to
 * the --events file, with one write() (lock held: a simulator's events are
 * in the order of its state changes, and the time is read at the change).
 */
static void event(struct sim *sim, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void event(struct sim *sim, const char *fmt, ...)
{
	char line[EVENT_MAX];
	struct timespec ts;
	va_list ap;
	int n, m;

	if (sim->events_fd < 0)
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	n = snprintf(line, sizeof(line), "%llu %u ", (unsigned long long)ts.tv_sec * 1000000000ULL +
			     (unsigned long long)ts.tv_nsec, sim->port);
	va_start(ap, fmt);
	m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (m < 0 || (size_t)m >= sizeof(line) - (size_t)n - 1)
		abort(); /* the formats above are bounded */
	n += m;
	line[n++] = '\n';
	if (write(sim->events_fd, line, (size_t)n) != n && !sim->events_failed) {
		sim->events_failed = true;
		fprintf(stderr, "redfish_sim: cannot write the events: %s\n", strerror(errno));
	}
}

/* ---- sessions ---- */

static void hex_random(char *out, size_t bytes)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char b[32];

	if (bytes > sizeof(b) || getrandom(b, bytes, 0) != (ssize_t)bytes)
		abort();
	for (size_t i = 0; i < bytes; i++) {
		out[2 * i] = hex[b[i] >> 4];
		out[2 * i + 1] = hex[b[i] & 15];
	}
	out[2 * bytes] = '\0';
}

/* The live session of that X-Auth-Token, or of that Id (lock held). */
static struct session *session_find(struct sim *sim, const char *token, const char *id)
{
	for (struct session *s = sim->sessions; s; s = s->next)
		if ((token && strcmp(s->token, token) == 0) || (id && strcmp(s->id, id) == 0))
			return s;
	return NULL;
}

/* A session as a resource, on the model of the tree's. */
static json_t *session_json(struct sim *sim, const struct session *s)
{
	char path[sizeof(SESSIONS) + 40];
	json_t *j = json_deep_copy(sim->session_tmpl);

	snprintf(path, sizeof(path), "%s/%s", SESSIONS, s->id);
	json_object_set_new(j, "Id", json_string(s->id));
	json_object_set_new(j, "UserName", json_string(s->user));
	json_object_set_new(j, "@odata.id", json_string(path));
	return j;
}

static bool authorized(struct sim *sim, struct MHD_Connection *c)
{
	const char *token = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Auth-Token");
	char *user, *pass = NULL;
	bool ok;

	if (token) {
		pthread_mutex_lock(&sim->lock);
		ok = session_find(sim, token, NULL) != NULL;
		pthread_mutex_unlock(&sim->lock);
		return ok;
	}
	if (!(user = MHD_basic_auth_get_username_password(c, &pass)))
		return false;
	ok = pass && strcmp(user, sim->user) == 0 && strcmp(pass, sim->password) == 0;
	if (!ok) {
		pthread_mutex_lock(&sim->lock);
		sim->logins_failed++;
		pthread_mutex_unlock(&sim->lock);
	}
	MHD_free(user);
	MHD_free(pass);
	return ok;
}

static enum MHD_Result do_login(struct sim *sim, struct MHD_Connection *c, const struct req *q)
{
	json_t *b = q->len ? json_loadb(q->body, q->len, 0, NULL) : NULL, *body;
	const char *user = json_string_value(json_object_get(b, "UserName"));
	const char *pass = json_string_value(json_object_get(b, "Password"));
	char location[sizeof(SESSIONS) + 40], token[sizeof(((struct session *)0)->token)];
	struct session *s;
	enum MHD_Result ret;

	if (!json_is_object(b)) {
		json_decref(b);
		return reply_error(sim, c, 400, "MalformedJSON", NULL, NULL, NULL);
	}
	if (!user || !pass) {
		json_decref(b);
		return reply_error(sim, c, 400, "PropertyMissing", user ? "Password" : "UserName", NULL, NULL);
	}
	if (strcmp(user, sim->user) != 0 || strcmp(pass, sim->password) != 0 || strlen(user) >= sizeof(s->user)) {
		json_decref(b);
		pthread_mutex_lock(&sim->lock);
		sim->logins_failed++;
		pthread_mutex_unlock(&sim->lock);
		return reply_error(sim, c, 401, "ResourceAtUriUnauthorized", SESSIONS, "invalid user name or password", NULL);
	}
	pthread_mutex_lock(&sim->lock);
	if (sim->sessions_open >= SESSIONS_MAX || !(s = calloc(1, sizeof(*s)))) {
		pthread_mutex_unlock(&sim->lock);
		json_decref(b);
		return reply_error(sim, c, 503, "SessionLimitExceeded", NULL, NULL, NULL);
	}
	hex_random(s->id, 16);
	hex_random(s->token, 32);
	snprintf(s->user, sizeof(s->user), "%s", user);
	s->next = sim->sessions;
	sim->sessions = s;
	sim->sessions_open++;
	sim->sessions_created++;
	event(sim, "open %s", s->id);
	body = session_json(sim, s);
	memcpy(token, s->token, sizeof(token));
	snprintf(location, sizeof(location), "%s/%s", SESSIONS, s->id);
	pthread_mutex_unlock(&sim->lock);
	json_decref(b);
	ret = reply_json(sim, c, 201, body, "X-Auth-Token", token, "Location", location);
	return ret;
}

/* The Sessions collection: the tree's members and the live sessions. */
static json_t *sessions_json(struct sim *sim)
{
	char path[sizeof(SESSIONS) + 40];
	json_t *coll, *members;

	pthread_mutex_lock(&sim->lock);
	coll = json_deep_copy(resource(sim, SESSIONS));
	members = json_object_get(coll, "Members");
	if (json_is_array(members)) {
		for (struct session *s = sim->sessions; s; s = s->next) {
			snprintf(path, sizeof(path), "%s/%s", SESSIONS, s->id);
			json_array_append_new(members, json_pack("{s:s}", "@odata.id", path));
		}
		json_object_set_new(coll, "Members@odata.count", json_integer((json_int_t)json_array_size(members)));
	}
	pthread_mutex_unlock(&sim->lock);
	return coll;
}

static enum MHD_Result do_delete(struct sim *sim, struct MHD_Connection *c, const char *path)
{
	struct session **pp, *s = NULL;
	bool exists;

	if (strncmp(path, SESSIONS "/", strlen(SESSIONS) + 1) == 0) {
		pthread_mutex_lock(&sim->lock);
		for (pp = &sim->sessions; *pp; pp = &(*pp)->next)
			if (strcmp((*pp)->id, path + strlen(SESSIONS) + 1) == 0) {
				s = *pp;
				*pp = s->next;
				sim->sessions_open--;
				sim->sessions_deleted++;
				event(sim, "close %s", s->id);
				break;
			}
		pthread_mutex_unlock(&sim->lock);
		if (s) {
			free(s);
			return reply(c, 204, NULL, (void *)"", 0, false, NULL, NULL, NULL, NULL);
		}
	}
	pthread_mutex_lock(&sim->lock);
	exists = resource(sim, path) != NULL;
	pthread_mutex_unlock(&sim->lock);
	if (exists)
		return reply_error(sim, c, 405, "ResourceCannotBeDeleted", NULL, NULL, NULL);
	return reply_error(sim, c, 404, "ResourceMissingAtURI", path, NULL, NULL);
}

/* ---- GET ---- */

static enum MHD_Result do_get(struct sim *sim, struct MHD_Connection *c, const char *path)
{
	const char *skip = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "$skiptoken");
	json_t *j = NULL, *members;
	char file[4096];

	if (strcmp(path, V1 "/$metadata") == 0 && file_of(sim, path, "index.xml", file, sizeof(file))) {
		char *text = read_file(file);
		if (!text)
			return reply_error(sim, c, 500, "InternalError", NULL, NULL, NULL);
		return reply(c, 200, "application/xml", text, strlen(text), true, NULL, NULL, NULL, NULL);
	}
	if (strcmp(path, SESSIONS) == 0) {
		j = sessions_json(sim);
	} else if (strncmp(path, SESSIONS "/", strlen(SESSIONS) + 1) == 0) {
		struct session *s;
		pthread_mutex_lock(&sim->lock);
		if ((s = session_find(sim, NULL, path + strlen(SESSIONS) + 1)))
			j = session_json(sim, s);
		pthread_mutex_unlock(&sim->lock);
	}
	if (!j)
		j = resource_copy(sim, path);
	if (!j)
		return reply_error(sim, c, 404, "ResourceMissingAtURI", path, NULL, NULL);
	/* Paging as the tree's @odata.nextLink asks: the members from that index on, no further page. */
	if (skip && json_is_array(members = json_object_get(j, "Members"))) {
		char *end;
		unsigned long from = strtoul(skip, &end, 10);
		json_t *rest = json_array();
		if (*end || !rest) {
			json_decref(rest);
			json_decref(j);
			return reply_error(sim, c, 400, "QueryParameterValueFormatError", skip, "$skiptoken", NULL);
		}
		for (size_t i = from; i < json_array_size(members); i++)
			json_array_append(rest, json_array_get(members, i));
		json_object_set_new(j, "Members", rest);
		json_object_del(j, "@odata.nextLink");
	}
	return reply_json(sim, c, 200, j, NULL, NULL, NULL, NULL);
}

/* ---- actions and changes ---- */

static enum MHD_Result do_reset(struct sim *sim, struct MHD_Connection *c, const char *path, const struct req *q)
{
	char sys_path[1024], *dump = NULL;
	json_t *b = q->len ? json_loadb(q->body, q->len, 0, NULL) : NULL, *rt, *sys, *allowed, *count, *ch;
	const char *type, *cur, *next;
	enum MHD_Result ret;
	size_t i;

	snprintf(sys_path, sizeof(sys_path), "%.*s", (int)(strlen(path) - strlen(RESET_ACTION)), path);
	if (!json_is_object(b)) {
		json_decref(b);
		return reply_error(sim, c, 400, "MalformedJSON", NULL, NULL, NULL);
	}
	rt = json_object_get(b, "ResetType");
	if (!rt) {
		json_decref(b);
		return reply_error(sim, c, 400, "ActionParameterMissing", "ComputerSystem.Reset", "ResetType", NULL);
	}
	if (!json_is_string(rt)) {
		dump = json_dumps(rt, JSON_ENCODE_ANY | JSON_COMPACT);
		ret = reply_error(sim, c, 400, "ActionParameterValueTypeError", dump ? dump : "?", "ResetType",
				  "ComputerSystem.Reset");
		free(dump);
		json_decref(b);
		return ret;
	}
	type = json_string_value(rt);
	pthread_mutex_lock(&sim->lock);
	sys = strncmp(sys_path, V1 "/Systems/", strlen(V1 "/Systems/")) == 0 ? resource(sim, sys_path) : NULL;
	if (!sys) {
		pthread_mutex_unlock(&sim->lock);
		json_decref(b);
		return reply_error(sim, c, 404, "ResourceMissingAtURI", path, NULL, NULL);
	}
	allowed = json_object_get(json_object_get(json_object_get(sys, "Actions"), "#ComputerSystem.Reset"),
				  "ResetType@Redfish.AllowableValues");
	if (!in_list(NULL, known_resets, type) || !in_list(allowed, known_resets, type)) {
		pthread_mutex_unlock(&sim->lock);
		ret = reply_error(sim, c, 400, "PropertyValueNotInList", type, "ResetType", NULL);
		json_decref(b);
		return ret;
	}
	cur = json_string_value(json_object_get(sys, "PowerState"));
	if (!cur)
		cur = "On";
	if (!strcmp(type, "On") || !strcmp(type, "ForceOn") || !strcmp(type, "PowerCycle"))
		next = "On";
	else if (!strcmp(type, "ForceOff") || !strcmp(type, "GracefulShutdown"))
		next = "Off";
	else if (!strcmp(type, "PushPowerButton"))
		next = strcmp(cur, "Off") == 0 ? "On" : "Off";
	else
		next = cur; /* restarts and NMI: a machine that is off stays off */
	next = strcmp(next, "On") == 0 ? "On" : "Off";
	json_object_set_new(sys, "PowerState", json_string(next));
	json_array_foreach(json_object_get(json_object_get(sys, "Links"), "Chassis"), i, ch) {
		const char *cp = json_string_value(json_object_get(ch, "@odata.id"));
		json_t *chassis = cp ? resource(sim, cp) : NULL;
		if (chassis)
			json_object_set_new(chassis, "PowerState", json_string(next));
	}
	count = json_object_get(sim->resets, type);
	json_object_set_new(sim->resets, type, json_integer(json_integer_value(count) + 1));
	pthread_mutex_unlock(&sim->lock);
	json_decref(b);
	return reply(c, 204, NULL, (void *)"", 0, false, NULL, NULL, NULL, NULL);
}

/* Checks one property of a Boot PATCH against the system; 0 or the error to answer (args in a[]). */
static const char *boot_check(const json_t *boot, const char *key, const json_t *v, char *dump, size_t size)
{
	char attr[128];
	const char *const *fallback;

	if (!strcmp(key, "BootSourceOverrideTarget"))
		fallback = boot_targets;
	else if (!strcmp(key, "BootSourceOverrideEnabled"))
		fallback = boot_enabled;
	else if (!strcmp(key, "BootSourceOverrideMode"))
		fallback = boot_modes;
	else
		return json_object_get(boot, key) ? "PropertyNotWritable" : "PropertyUnknown";
	if (!json_is_string(v)) {
		char *d = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
		snprintf(dump, size, "%s", d ? d : "?");
		free(d);
		return "PropertyValueTypeError";
	}
	snprintf(attr, sizeof(attr), "%s@Redfish.AllowableValues", key);
	if (!in_list(json_object_get(boot, attr), fallback, json_string_value(v)))
		return "PropertyValueNotInList";
	return NULL;
}

static enum MHD_Result do_patch(struct sim *sim, struct MHD_Connection *c, const char *path, const struct req *q)
{
	json_t *b = q->len ? json_loadb(q->body, q->len, 0, NULL) : NULL, *sys, *boot, *want, *v;
	const char *key, *err = NULL, *a1 = NULL, *a2 = NULL;
	char name[160], dump[160];
	enum MHD_Result ret;

	if (!json_is_object(b)) {
		json_decref(b);
		return reply_error(sim, c, 400, "MalformedJSON", NULL, NULL, NULL);
	}
	pthread_mutex_lock(&sim->lock);
	/* Only a ComputerSystem is writable here: /redfish/v1/Systems/ID. */
	sys = strncmp(path, V1 "/Systems/", strlen(V1 "/Systems/")) == 0 && !strchr(path + strlen(V1 "/Systems/"), '/')
		      ? resource(sim, path)
		      : NULL;
	if (!sys) {
		bool exists = resource(sim, path) != NULL;
		pthread_mutex_unlock(&sim->lock);
		json_decref(b);
		if (exists)
			return reply_error(sim, c, 405, "ActionNotSupported", "PATCH", NULL, NULL);
		return reply_error(sim, c, 404, "ResourceMissingAtURI", path, NULL, NULL);
	}
	boot = json_object_get(sys, "Boot");
	json_object_foreach(b, key, want) {
		if (strcmp(key, "Boot") != 0) {
			err = json_object_get(sys, key) ? "PropertyNotWritable" : "PropertyUnknown";
			snprintf(name, sizeof(name), "%s", key);
			a1 = name;
			break;
		}
		if (!json_is_object(want)) {
			err = "PropertyValueTypeError";
			a1 = "(not an object)";
			a2 = "Boot";
			break;
		}
		json_object_foreach(want, key, v) {
			snprintf(name, sizeof(name), "Boot/%s", key);
			if ((err = boot_check(boot, key, v, dump, sizeof(dump)))) {
				if (!strcmp(err, "PropertyValueTypeError"))
					a1 = dump, a2 = name;
				else if (!strcmp(err, "PropertyValueNotInList"))
					a1 = json_string_value(v), a2 = name;
				else
					a1 = name;
				break;
			}
		}
		if (err)
			break;
	}
	if (err) {
		/* Copies: the strings live in b, freed below. */
		char c1[160], c2[160];
		snprintf(c1, sizeof(c1), "%s", a1 ? a1 : "");
		snprintf(c2, sizeof(c2), "%s", a2 ? a2 : "");
		pthread_mutex_unlock(&sim->lock);
		json_decref(b);
		return reply_error(sim, c, 400, err, c1, a2 ? c2 : NULL, NULL);
	}
	if ((want = json_object_get(b, "Boot"))) {
		if (!json_is_object(boot)) {
			boot = json_object();
			json_object_set_new(sys, "Boot", boot);
		}
		json_object_foreach(want, key, v)
			json_object_set(boot, key, v);
	}
	pthread_mutex_unlock(&sim->lock);
	json_decref(b);
	ret = reply(c, 204, NULL, (void *)"", 0, false, NULL, NULL, NULL, NULL);
	return ret;
}

/* ---- the request ---- */

static enum MHD_Result dispatch(struct sim *sim, struct MHD_Connection *c, const char *url, const char *method,
				const struct req *q)
{
	static const char garbage[] = "<html>\x01\x02\xff\xfe this is not JSON }{";
	char path[1024];
	size_t n;
	bool login;

	if (strcmp(url, "/sim/stats") == 0 && strcmp(method, "GET") == 0) {
		json_t *j = stats_json(sim);
		char *text = json_dumps(j, JSON_COMPACT);
		json_decref(j);
		if (!text)
			return MHD_NO;
		return reply(c, 200, "application/json", text, strlen(text), true, NULL, NULL, NULL, NULL);
	}
	n = strlen(url);
	while (n > 1 && url[n - 1] == '/')
		n--;
	if (n >= sizeof(path))
		return reply_error(sim, c, 414, "GeneralError", NULL, NULL, NULL);
	memcpy(path, url, n);
	path[n] = '\0';
	login = strcmp(method, "POST") == 0 && strcmp(path, SESSIONS) == 0;
	if (sim->garbage && !login)
		return reply(c, 200, "application/json", (void *)garbage, sizeof(garbage) - 1, false, NULL, NULL, NULL,
			     NULL);
	if (q->too_big)
		return reply_error(sim, c, 413, "GeneralError", NULL, NULL, NULL);
	if (login)
		return do_login(sim, c, q);
	/* DSP0266: the service root and the OData documents need no auth. */
	if (!(strcmp(method, "GET") == 0 && (strcmp(path, V1) == 0 || strcmp(path, V1 "/odata") == 0 ||
					     strcmp(path, V1 "/$metadata") == 0)) &&
	    !authorized(sim, c))
		return reply_error(sim, c, 401, "NoValidSession", NULL, NULL, NULL);
	if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0)
		return do_get(sim, c, path);
	if (strcmp(method, "POST") == 0 && n > strlen(RESET_ACTION) && strcmp(path + n - strlen(RESET_ACTION), RESET_ACTION) == 0)
		return do_reset(sim, c, path, q);
	if (strcmp(method, "PATCH") == 0)
		return do_patch(sim, c, path, q);
	if (strcmp(method, "DELETE") == 0)
		return do_delete(sim, c, path);
	return reply_error(sim, c, 405, "ActionNotSupported", method, NULL, NULL);
}

/* q's request is over, answered or not: out of in_flight, "end" (once). */
static void req_end(struct sim *sim, struct req *q)
{
	if (!q->counted || q->ended)
		return;
	pthread_mutex_lock(&sim->lock);
	q->ended = true;
	sim->in_flight--;
	event(sim, "end %llu", q->seq);
	pthread_mutex_unlock(&sim->lock);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
				  const char *version, const char *upload, size_t *upload_size, void **ctx)
{
	struct sim *sim = cls;
	struct req *q = *ctx;
	enum MHD_Result ret;

	(void)version;
	if (!q) {
		if (!(q = calloc(1, sizeof(*q))))
			return MHD_NO;
		*ctx = q;
		if (strncmp(url, "/sim/", 5) != 0) {
			pthread_mutex_lock(&sim->lock);
			q->counted = true;
			q->seq = ++sim->requests;
			if (++sim->in_flight > sim->max_in_flight)
				sim->max_in_flight = sim->in_flight;
			event(sim, "begin %llu", q->seq);
			pthread_mutex_unlock(&sim->lock);
		}
		return MHD_YES;
	}
	if (*upload_size) {
		if (q->len + *upload_size > BODY_MAX) {
			q->too_big = true;
		} else {
			char *b = realloc(q->body, q->len + *upload_size + 1);
			if (!b)
				return MHD_NO;
			memcpy(b + q->len, upload, *upload_size);
			q->len += *upload_size;
			b[q->len] = '\0';
			q->body = b;
		}
		*upload_size = 0;
		return MHD_YES;
	}
	if (q->counted && sim->hang_after >= 0 && q->seq > (unsigned long long)sim->hang_after) {
		/* Accepted, never answered: until the simulator stops. */
		pthread_mutex_lock(&sim->lock);
		while (!sim->stopping)
			pthread_cond_wait(&sim->wake, &sim->lock);
		pthread_mutex_unlock(&sim->lock);
		return MHD_NO;
	}
	if (q->counted && sim->delay_ms)
		nanosleep(&(struct timespec){ .tv_sec = sim->delay_ms / 1000, .tv_nsec = (long)(sim->delay_ms % 1000) * 1000000L },
			  NULL);
	ret = dispatch(sim, c, url, method, q);
	/* The answer is queued, not sent: MHD sends it once this returns. */
	req_end(sim, q);
	return ret;
}

static void on_done(void *cls, struct MHD_Connection *c, void **ctx, enum MHD_RequestTerminationCode why)
{
	struct sim *sim = cls;
	struct req *q = *ctx;

	(void)c;
	(void)why;
	if (!q)
		return;
	req_end(sim, q);
	free(q->body);
	free(q);
	*ctx = NULL;
}

/* ---- main ---- */

/* The Base registry the tree's registry file points to (Location[].Uri), and a Session of the tree as the model. */
static void load_models(struct sim *sim)
{
	const char *first, *uri;
	json_t *j;
	char file[4096];

	pthread_mutex_lock(&sim->lock);
	j = resource(sim, V1 "/Registries");
	first = json_string_value(json_object_get(json_array_get(json_object_get(j, "Members"), 0), "@odata.id"));
	j = first ? resource(sim, first) : NULL;
	uri = json_string_value(json_object_get(json_array_get(json_object_get(j, "Location"), 0), "Uri"));
	if (uri && file_of(sim, uri, "index.json", file, sizeof(file)))
		sim->registry = json_load_file(file, 0, NULL);
	j = resource(sim, SESSIONS);
	first = json_string_value(json_object_get(json_array_get(json_object_get(j, "Members"), 0), "@odata.id"));
	j = first ? resource(sim, first) : NULL;
	sim->session_tmpl = j ? json_deep_copy(j) : json_pack("{s:s}", "@odata.type", "#Session.v1_0_0.Session");
	pthread_mutex_unlock(&sim->lock);
}

static int write_atomic(const char *path, const char *text)
{
	char tmp[4096];
	FILE *f;
	int ok;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp) || !(f = fopen(tmp, "w")))
		return -1;
	ok = fputs(text, f) >= 0;
	ok = (fclose(f) == 0) && ok;
	return ok && rename(tmp, path) == 0 ? 0 : -1;
}

static void usage(void)
{
	fprintf(stderr, "usage: redfish_sim --root DIR --port N [--user U --password P] [--portfile F] [--stats F]\n"
			"                   [--events F] [--tls-cert F --tls-key F] [--drop-property NAME]... [--garbage]\n"
			"                   [--hang-after N] [--delay MS]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "root", required_argument, NULL, 'r' },     { "port", required_argument, NULL, 'p' },
		{ "user", required_argument, NULL, 'u' },     { "password", required_argument, NULL, 'P' },
		{ "portfile", required_argument, NULL, 'f' }, { "stats", required_argument, NULL, 's' },
		{ "tls-cert", required_argument, NULL, 'c' }, { "tls-key", required_argument, NULL, 'k' },
		{ "drop-property", required_argument, NULL, 'd' }, { "garbage", no_argument, NULL, 'g' },
		{ "hang-after", required_argument, NULL, 'h' }, { "events", required_argument, NULL, 'e' },
		{ "delay", required_argument, NULL, 'D' },
		{ NULL, 0, NULL, 0 },
	};
	struct sim sim = { .user = "Administrator", .password = "password", .hang_after = -1, .events_fd = -1,
			   .lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER };
	const char *portfile = NULL, *statsfile = NULL, *certfile = NULL, *keyfile = NULL, *eventsfile = NULL;
	char *cert = NULL, *key = NULL, *end, portbuf[16], file[4096];
	long port = -1;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG;
	const union MHD_DaemonInfo *info;
	struct MHD_Daemon *d;
	sigset_t sigs;
	json_t *stats;
	char *text;
	int opt, sig;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'r': sim.root = optarg; break;
		case 'p':
			port = strtol(optarg, &end, 10);
			if (*end || port < 0 || port > 65535)
				usage();
			break;
		case 'u': sim.user = optarg; break;
		case 'P': sim.password = optarg; break;
		case 'f': portfile = optarg; break;
		case 's': statsfile = optarg; break;
		case 'e': eventsfile = optarg; break;
		case 'c': certfile = optarg; break;
		case 'k': keyfile = optarg; break;
		case 'd':
			if (sim.ndrop == DROP_MAX)
				usage();
			sim.drop[sim.ndrop++] = optarg;
			break;
		case 'g': sim.garbage = true; break;
		case 'h':
			sim.hang_after = strtoll(optarg, &end, 10);
			if (*end || sim.hang_after < 0)
				usage();
			break;
		case 'D': {
			long v = strtol(optarg, &end, 10);
			if (*end || v < 0 || v > 60000)
				usage();
			sim.delay_ms = (unsigned)v;
			break;
		}
		default: usage();
		}
	}
	if (!sim.root || port < 0 || optind != argc || !certfile != !keyfile)
		usage();
	if (snprintf(file, sizeof(file), "%s/index.json", sim.root) >= (int)sizeof(file) || access(file, R_OK) < 0) {
		fprintf(stderr, "redfish_sim: no service root at %s\n", file);
		return 1;
	}
	if (certfile && (!(cert = read_file(certfile)) || !(key = read_file(keyfile)))) {
		fprintf(stderr, "redfish_sim: cannot read %s: %s\n", cert ? keyfile : certfile, strerror(errno));
		return 1;
	}
	if (cert && MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
		fprintf(stderr, "redfish_sim: this libmicrohttpd has no TLS\n");
		return 1;
	}
	if (eventsfile && (sim.events_fd = open(eventsfile, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644)) < 0) {
		fprintf(stderr, "redfish_sim: cannot open %s: %s\n", eventsfile, strerror(errno));
		free(cert);
		free(key);
		return 1;
	}
	sim.resets = json_object();
	load_models(&sim);

	/* Signals are taken by sigwait() below: every thread started from here on has them blocked. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	sa.sin_port = htons((uint16_t)port);
	if (cert)
		d = MHD_start_daemon(flags | MHD_USE_TLS, 0, NULL, NULL, on_request, &sim, MHD_OPTION_SOCK_ADDR, &sa,
				     MHD_OPTION_NOTIFY_COMPLETED, on_done, &sim, MHD_OPTION_HTTPS_MEM_CERT, cert,
				     MHD_OPTION_HTTPS_MEM_KEY, key, MHD_OPTION_END);
	else
		d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, &sim, MHD_OPTION_SOCK_ADDR, &sa,
				     MHD_OPTION_NOTIFY_COMPLETED, on_done, &sim, MHD_OPTION_END);
	if (!d) {
		fprintf(stderr, "redfish_sim: cannot listen on 127.0.0.1:%ld\n", port);
		return 1;
	}
	info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	pthread_mutex_lock(&sim.lock);
	sim.port = info ? (unsigned)info->port : (unsigned)port;
	pthread_mutex_unlock(&sim.lock);
	snprintf(portbuf, sizeof(portbuf), "%u\n", sim.port);
	if (portfile && write_atomic(portfile, portbuf) < 0) {
		fprintf(stderr, "redfish_sim: cannot write %s\n", portfile);
		MHD_stop_daemon(d);
		return 1;
	}

	while (sigwait(&sigs, &sig) != 0)
		;
	pthread_mutex_lock(&sim.lock);
	sim.stopping = true;
	pthread_cond_broadcast(&sim.wake);
	pthread_mutex_unlock(&sim.lock);
	MHD_stop_daemon(d);

	stats = stats_json(&sim);
	text = json_dumps(stats, JSON_COMPACT);
	if (statsfile && (!text || write_atomic(statsfile, text) < 0))
		fprintf(stderr, "redfish_sim: cannot write %s\n", statsfile);
	free(text);
	json_decref(stats);
	while (sim.res) {
		struct resource *r = sim.res;
		sim.res = r->next;
		json_decref(r->doc);
		free(r->path);
		free(r);
	}
	while (sim.sessions) {
		struct session *s = sim.sessions;
		sim.sessions = s->next;
		free(s);
	}
	json_decref(sim.resets);
	json_decref(sim.registry);
	json_decref(sim.session_tmpl);
	if (sim.events_fd >= 0)
		close(sim.events_fd);
	free(cert);
	if (key)
		explicit_bzero(key, strlen(key));
	free(key);
	return 0;
}
