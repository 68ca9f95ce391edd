// SPDX-License-Identifier: Apache-2.0
/*
 * hw/redfish: the Redfish driver of hw.h (DMTF DSP0266), on libcurl and
 * jansson. open() logs in once through the SessionService (keeping the
 * X-Auth-Token and the session's Location) and finds the first
 * ComputerSystem and Chassis; every later call reuses that session and its
 * connection, one request at a time, each bounded by the target's timeout
 * and each answer body by RF_BODY_MAX; close() deletes the session. Power is
 * the system's ComputerSystem.Reset (with the ResetTypes the BMC allows),
 * the boot override a PATCH of its Boot object, health the Status of the
 * system and chassis with the chassis' Thermal/Power (or Sensors) and the
 * first log service's entries. Requests go only to the target's own origin
 * (paths the BMC hands out are cut to their path, so the token never leaves
 * for another host), and neither the password nor the token appears in any
 * message: what the BMC says is escaped and scrubbed of both first.
 */
#include "hw.h"

#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "log.h"
#include "util.h"

#define RF_BODY_MAX (4u << 20)   /* one answer's body */
#define RF_PATH_MAX 512          /* a resource path (@odata.id, Location) */
#define RF_TOKEN_MAX 1024        /* an X-Auth-Token */
#define RF_LOGIN_MAX 1024        /* the login request body */
#define RF_ENTRY_PAGES_MAX 16    /* pages of one log entry collection */
#define RF_ENTRY_FETCH_MAX 32    /* log entries read one by one (not expanded) */
#define RF_SENSORS_MAX 64        /* Sensor resources read by health */
#define RF_OFF_POLLS 20          /* power cycle as ForceOff + On: polls for Off */
#define RF_OFF_POLL_MS 250
#define RF_TIMEOUT_MS 5000       /* one exchange, when the target says 0 */
#define RF_SESSIONS "/redfish/v1/SessionService/Sessions"
#define RF_SYSTEMS "/redfish/v1/Systems"
#define RF_CHASSIS "/redfish/v1/Chassis"

struct hw_session {
	CURL *curl;
	struct curl_slist *hdrs;  /* Accept, Content-Type, OData-Version, X-Auth-Token */
	char origin[300];         /* "https://host:port" */
	char where[280];          /* "host:port", for messages */
	char user[64];            /* for messages */
	unsigned timeout_ms;
	bool answered;            /* the BMC answered once: silence now is ETIMEDOUT */
	bool stalled;             /* the last exchange got no answer: no logout */
	bool gone;                /* the BMC ended the session (401): no logout */
	const char *secret;       /* the password, during open() only (scrubbed from messages) */
	char token[RF_TOKEN_MAX]; /* X-Auth-Token ("" before login) */
	char *session;            /* path of our session, to DELETE; owned */
	char system[RF_PATH_MAX]; /* the ComputerSystem */
	char chassis[RF_PATH_MAX]; /* the first Chassis ("" : none) */
	char errbuf[CURL_ERROR_SIZE];
};

/* One answer. Filled by curl's callbacks; rf_reply_clear() frees it. */
struct rf_reply {
	long status;
	char *body;               /* NUL-terminated, len bytes */
	size_t len, cap;
	bool too_big;             /* the body went past RF_BODY_MAX */
	bool token_bad;           /* an X-Auth-Token too long or with bytes a header cannot hold */
	char token[RF_TOKEN_MAX];
	char location[RF_PATH_MAX];
};

static void rf_reply_clear(struct rf_reply *r)
{
	free(r->body);
	explicit_bzero(r->token, sizeof(r->token));
	r->body = NULL;
	r->len = r->cap = 0;
}

/* ---- messages ---- */

/* s escaped for a message (printable ASCII, the rest as \xNN); returns buf. */
static const char *esc(const char *s, char *buf, size_t size)
{
	return log_escape(s ? s : "", s ? strlen(s) : 0, buf, size);
}

/* Replaces every occurrence of secret in msg[size] by "***". */
static void scrub(char *msg, size_t size, const char *secret)
{
	size_t n = secret ? strlen(secret) : 0, o = 0;
	char out[512];

	if (n == 0 || !strstr(msg, secret))
		return;
	for (const char *p = msg; *p && o + 4 < sizeof(out);) {
		if (strncmp(p, secret, n) == 0) {
			memcpy(out + o, "***", 3);
			o += 3;
			p += n;
		} else {
			out[o++] = *p++;
		}
	}
	if (o >= size)
		o = size - 1;
	memcpy(msg, out, o);
	msg[o] = '\0';
	explicit_bzero(out, sizeof(out));
}

/* hw_fail(), and then the session's secrets are scrubbed from the message. */
static int rf_fail(struct hw_session *s, struct hw_err *e, int r, const char *step, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
static int rf_fail(struct hw_session *s, struct hw_err *e, int r, const char *step, const char *fmt, ...)
{
	char msg[sizeof(e->msg)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (s) {
		scrub(msg, sizeof(msg), s->secret);
		scrub(msg, sizeof(msg), s->token);
	}
	r = hw_fail(e, r, step, "%s", msg);
	explicit_bzero(msg, sizeof(msg));
	return r;
}

/* The first message of a Redfish error body ("error": {"@Message.ExtendedInfo": [{"Message"}], "message"}), escaped; "" if none. */
static const char *redfish_message(const struct rf_reply *r, char *buf, size_t size)
{
	json_t *j = r->len ? json_loadb(r->body, r->len, 0, NULL) : NULL;
	json_t *err = json_object_get(j, "error");
	json_t *info = json_array_get(json_object_get(err, "@Message.ExtendedInfo"), 0);
	const char *m = json_string_value(json_object_get(info, "Message"));

	if (!m)
		m = json_string_value(json_object_get(err, "message"));
	esc(m, buf, size);
	json_decref(j);
	return buf;
}

/* ---- JSON ---- */

static const char *jstr(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* o[key]["@odata.id"], or NULL. */
static const char *jlink(const json_t *o, const char *key)
{
	return jstr(json_object_get(o, key), "@odata.id");
}

/* o[key][0]["@odata.id"], or NULL. */
static const char *jlink0(const json_t *o, const char *key)
{
	return jstr(json_array_get(json_object_get(o, key), 0), "@odata.id");
}

/* ---- the exchange ---- */

static size_t on_body(char *data, size_t size, size_t n, void *ud)
{
	struct rf_reply *r = ud;
	size_t len = size * n;

	if (len > RF_BODY_MAX - r->len) {
		r->too_big = true;
		return 0;
	}
	if (r->len + len + 1 > r->cap) {
		size_t cap = r->cap ? r->cap : 16384;
		char *b;
		while (cap < r->len + len + 1)
			cap *= 2;
		if (!(b = realloc(r->body, cap)))
			return 0;
		r->body = b;
		r->cap = cap;
	}
	memcpy(r->body + r->len, data, len);
	r->len += len;
	r->body[r->len] = '\0';
	return len;
}

/* Copies the value of header line [p, p+len) if it is name's into out[size]: trimmed, printable ASCII only. */
static bool header_value(const char *p, size_t len, const char *name, char *out, size_t size, bool *bad)
{
	size_t n = strlen(name), i, end;

	if (len <= n || strncasecmp(p, name, n) != 0 || p[n] != ':')
		return false;
	for (i = n + 1; i < len && (p[i] == ' ' || p[i] == '\t'); i++)
		;
	for (end = len; end > i && (p[end - 1] == '\r' || p[end - 1] == '\n' || p[end - 1] == ' ' || p[end - 1] == '\t'); end--)
		;
	if (end - i >= size) {
		*bad = true;
		return true;
	}
	for (size_t k = i; k < end; k++)
		if ((unsigned char)p[k] < 0x21 || (unsigned char)p[k] > 0x7e) {
			*bad = true;
			return true;
		}
	memcpy(out, p + i, end - i);
	out[end - i] = '\0';
	return true;
}

static size_t on_header(char *data, size_t size, size_t n, void *ud)
{
	struct rf_reply *r = ud;
	size_t len = size * n;
	bool loc_bad = false;

	if (len >= 5 && strncmp(data, "HTTP/", 5) == 0) {
		/* A new header block (after a 1xx): what came before is not the answer's. */
		explicit_bzero(r->token, sizeof(r->token));
		r->location[0] = '\0';
		r->token_bad = false;
		return len;
	}
	if (!header_value(data, len, "X-Auth-Token", r->token, sizeof(r->token), &r->token_bad))
		header_value(data, len, "Location", r->location, sizeof(r->location), &loc_bad);
	if (loc_bad)
		r->location[0] = '\0';
	return len;
}

/*
 * A path the BMC gave (an @odata.id, a Location) as one we request: an
 * absolute URL is cut to its path (requests go only to the target), and a
 * path is only what a URL path may hold. Copies it to out[RF_PATH_MAX].
 */
static int rf_path(const char *in, char *out)
{
	const char *p = in;

	if (!p)
		return -EINVAL;
	if (strncasecmp(p, "http://", 7) == 0 || strncasecmp(p, "https://", 8) == 0) {
		p = strchr(strstr(p, "://") + 3, '/');
		if (!p)
			return -EINVAL;
	}
	if (p[0] != '/')
		return -EINVAL;
	for (const char *c = p; *c; c++)
		if ((unsigned char)*c < 0x21 || (unsigned char)*c > 0x7e || *c == '#')
			return -EINVAL;
	return str_copy(out, RF_PATH_MAX, p) < 0 ? -EINVAL : 0;
}

/* What a failed curl_easy_perform() means, as hw.h's errno. */
static int rf_transport_error(struct hw_session *s, CURLcode rc, const struct rf_reply *r, const char *method,
			      const char *path, const char *step, struct hw_err *e)
{
	char eb[CURL_ERROR_SIZE + 16], pb[96];

	esc(s->errbuf[0] ? s->errbuf : curl_easy_strerror(rc), eb, sizeof(eb));
	esc(path, pb, sizeof(pb));
	switch (rc) {
	case CURLE_WRITE_ERROR:
		if (r->too_big)
			return rf_fail(s, e, -EPROTO, step, "answer of BMC %s to %s %s is longer than %u bytes", s->where,
				       method, pb, RF_BODY_MAX);
		return rf_fail(s, e, -ENOMEM, step, "no memory for the answer to %s %s", method, pb);
	case CURLE_OUT_OF_MEMORY:
		return rf_fail(s, e, -ENOMEM, step, "no memory for %s %s", method, pb);
	case CURLE_COULDNT_RESOLVE_HOST:
		s->stalled = true;
		return rf_fail(s, e, -EHOSTUNREACH, step, "BMC %s: cannot resolve the name (%s)", s->where, eb);
	case CURLE_COULDNT_CONNECT:
		s->stalled = true;
		return rf_fail(s, e, -EHOSTUNREACH, step, "no answer from BMC %s (%s)", s->where, eb);
	case CURLE_OPERATION_TIMEDOUT:
		s->stalled = true;
		if (!s->answered)
			return rf_fail(s, e, -EHOSTUNREACH, step, "no answer from BMC %s within %u ms (%s)", s->where,
				       s->timeout_ms, eb);
		return rf_fail(s, e, -ETIMEDOUT, step, "BMC %s stopped answering: %s %s got no answer within %u ms (%s)",
			       s->where, method, pb, s->timeout_ms, eb);
	case CURLE_GOT_NOTHING:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_PARTIAL_FILE:
		s->stalled = true;
		if (!s->answered)
			return rf_fail(s, e, -EHOSTUNREACH, step, "no answer from BMC %s: it closed the connection (%s)",
				       s->where, eb);
		return rf_fail(s, e, -ETIMEDOUT, step, "BMC %s stopped answering: %s %s: connection closed (%s)", s->where,
			       method, pb, eb);
	case CURLE_PEER_FAILED_VERIFICATION:
		s->stalled = true;
		return rf_fail(s, e, -EACCES, step,
			       "TLS: the certificate of BMC %s is not trusted (%s); give the node a CA file, or mark it insecure",
			       s->where, eb);
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
		s->stalled = true;
		return rf_fail(s, e, -EINVAL, step, "TLS: the CA file for BMC %s cannot be used (%s)", s->where, eb);
	case CURLE_SSL_CONNECT_ERROR:
		s->stalled = true;
		return rf_fail(s, e, -EPROTO, step, "TLS handshake with BMC %s failed (%s)", s->where, eb);
	default:
		return rf_fail(s, e, -EPROTO, step, "%s %s to BMC %s failed: %s", method, pb, s->where, eb);
	}
}

/*
 * Sends method path with body[body_len] (NULL: none) and fills *r (cleared
 * by the caller, also on failure). 0 when an HTTP answer came, whatever its
 * status; a negative errno, with e filled, when none did.
 */
static int rf_request(struct hw_session *s, const char *method, const char *path, const char *body,
		      size_t body_len, struct rf_reply *r, const char *step, struct hw_err *e)
{
	char url[sizeof(s->origin) + RF_PATH_MAX], p[RF_PATH_MAX], pb[96];
	CURLcode rc;

	memset(r, 0, sizeof(*r));
	if (rf_path(path, p) < 0)
		return rf_fail(s, e, -EPROTO, step, "BMC %s: bad resource path \"%s\"", s->where, esc(path, pb, sizeof(pb)));
	snprintf(url, sizeof(url), "%s%s", s->origin, p);
	curl_easy_setopt(s->curl, CURLOPT_URL, url);
	curl_easy_setopt(s->curl, CURLOPT_POSTFIELDS, NULL);
	curl_easy_setopt(s->curl, CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(s->curl, CURLOPT_CUSTOMREQUEST, NULL);
	if (body || strcmp(method, "POST") == 0) {
		curl_easy_setopt(s->curl, CURLOPT_POSTFIELDSIZE, (long)(body ? body_len : 0));
		curl_easy_setopt(s->curl, CURLOPT_POSTFIELDS, body ? body : "");
	}
	if (strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0)
		curl_easy_setopt(s->curl, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(s->curl, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(s->curl, CURLOPT_HEADERDATA, r);
	s->errbuf[0] = '\0';
	rc = curl_easy_perform(s->curl);
	curl_easy_setopt(s->curl, CURLOPT_POSTFIELDS, NULL);
	if (rc != CURLE_OK)
		return rf_transport_error(s, rc, r, method, path, step, e);
	curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &r->status);
	s->answered = true;
	s->stalled = false;
	return 0;
}

/* An HTTP status outside 2xx as hw.h's errno. */
static int rf_http_error(struct hw_session *s, const struct rf_reply *r, const char *method, const char *path,
			 const char *step, struct hw_err *e)
{
	char m[160], pb[96];
	int err;

	redfish_message(r, m, sizeof(m));
	esc(path, pb, sizeof(pb));
	switch (r->status) {
	case 401:
		s->gone = true;
		return rf_fail(s, e, -ENOTCONN, step, "BMC %s no longer knows the session: HTTP 401 to %s %s%s%s", s->where,
			       method, pb, m[0] ? ": " : "", m);
	case 403:
		err = -EACCES;
		break;
	case 400:
	case 405:
	case 501:
		err = -ENOTSUP;
		break;
	default:
		err = -EPROTO;
		break;
	}
	return rf_fail(s, e, err, step, "BMC %s answered HTTP %ld to %s %s%s%s", s->where, r->status, method, pb,
		       m[0] ? ": " : "", m);
}

enum { RF_OPTIONAL = 1 }; /* a 404 is -ENOENT, e untouched */

/*
 * method path with body (a JSON value, NULL: none; borrowed). With ret, the
 * answer must be a JSON object: *ret is then a new reference the caller
 * owns. Any 2xx is success.
 */
static int rf_call(struct hw_session *s, const char *method, const char *path, json_t *body, int flags,
		   const char *step, json_t **ret, struct hw_err *e)
{
	char *text = NULL, pb[96], jb[96];
	struct rf_reply r;
	json_error_t je;
	json_t *j;
	int err;

	if (body && !(text = json_dumps(body, JSON_COMPACT)))
		return rf_fail(s, e, -ENOMEM, step, "no memory");
	err = rf_request(s, method, path, text, text ? strlen(text) : 0, &r, step, e);
	free(text);
	if (err < 0)
		goto out;
	if ((flags & RF_OPTIONAL) && r.status == 404) {
		err = -ENOENT;
		goto out;
	}
	if (r.status < 200 || r.status > 299) {
		err = rf_http_error(s, &r, method, path, step, e);
		goto out;
	}
	if (ret) {
		esc(path, pb, sizeof(pb));
		if (!(j = json_loadb(r.body ? r.body : "", r.len, 0, &je))) {
			err = rf_fail(s, e, -EPROTO, step, "BMC %s: the answer to %s %s is not JSON (%s)", s->where, method, pb,
				      esc(je.text, jb, sizeof(jb)));
			goto out;
		}
		if (!json_is_object(j)) {
			json_decref(j);
			err = rf_fail(s, e, -EPROTO, step, "BMC %s: the answer to %s %s is not a JSON object", s->where, method,
				      pb);
			goto out;
		}
		*ret = j;
	}
	err = 0;
out:
	rf_reply_clear(&r);
	return err;
}

static int rf_get(struct hw_session *s, const char *path, int flags, const char *step, json_t **ret, struct hw_err *e)
{
	return rf_call(s, "GET", path, NULL, flags, step, ret, e);
}

/* -EPROTO for a resource without a property it must have. */
static int rf_missing(struct hw_session *s, struct hw_err *e, const char *step, const char *path, const char *prop)
{
	char pb[96];

	return rf_fail(s, e, -EPROTO, step, "BMC %s: GET %s has no %s", s->where, esc(path, pb, sizeof(pb)), prop);
}

/* The @odata.id of the first member of the collection at path, into out[RF_PATH_MAX]. */
static int rf_first_member(struct hw_session *s, const char *path, int flags, const char *step, char *out,
			   struct hw_err *e)
{
	json_t *c = NULL, *m;
	char pb[96];
	int r;

	if ((r = rf_get(s, path, flags, step, &c, e)) < 0)
		return r;
	m = json_object_get(c, "Members");
	if (!json_is_array(m))
		r = rf_missing(s, e, step, path, "Members");
	else if (json_array_size(m) == 0)
		r = (flags & RF_OPTIONAL) ? -ENOENT : rf_fail(s, e, -ENOTSUP, step, "BMC %s: %s has no member", s->where, esc(path, pb, sizeof(pb)));
	else if (rf_path(jstr(json_array_get(m, 0), "@odata.id"), out) < 0)
		r = rf_missing(s, e, step, path, "Members[0].@odata.id");
	json_decref(c);
	return r;
}

/* ---- open and close ---- */

static void rf_global_init(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* s as a JSON string (quoted) at out[*o], escaped; false if it does not fit. */
static bool json_put_string(char *out, size_t size, size_t *o, const char *s)
{
	static const char hex[] = "0123456789abcdef";

	if (*o + 1 >= size)
		return false;
	out[(*o)++] = '"';
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*o + 7 >= size)
			return false;
		if (*p == '"' || *p == '\\') {
			out[(*o)++] = '\\';
			out[(*o)++] = (char)*p;
		} else if (*p < 0x20) {
			memcpy(out + *o, "\\u00", 4);
			out[*o + 4] = hex[*p >> 4];
			out[*o + 5] = hex[*p & 15];
			*o += 6;
		} else {
			out[(*o)++] = (char)*p;
		}
	}
	out[(*o)++] = '"';
	out[*o] = '\0';
	return true;
}

/*
 * The login body {"UserName": ..., "Password": ...} in out[size], built
 * here rather than by jansson so the password is in one buffer the caller
 * wipes. Returns its length, 0 if it does not fit.
 */
static size_t login_body(char *out, size_t size, const char *user, const char *password)
{
	size_t o = 0;

	if (size < 32)
		return 0;
	memcpy(out, "{\"UserName\":", 12);
	o = 12;
	if (!json_put_string(out, size, &o, user) || o + 13 >= size)
		return 0;
	memcpy(out + o, ",\"Password\":", 12);
	o += 12;
	if (!json_put_string(out, size, &o, password) || o + 2 >= size)
		return 0;
	out[o++] = '}';
	out[o] = '\0';
	return o;
}

static bool host_ok(const char *h)
{
	if (!*h)
		return false;
	for (; *h; h++)
		if (!((*h >= 'a' && *h <= 'z') || (*h >= 'A' && *h <= 'Z') || (*h >= '0' && *h <= '9') || strchr(".-:_%", *h)))
			return false;
	return true;
}

static void rf_close(struct hw_session *s);

/* POST .../Sessions: the token and the session's path. */
static int rf_login(struct hw_session *s, const struct hw_target *t, struct hw_err *e)
{
	char body[RF_LOGIN_MAX], m[160], hdr[RF_TOKEN_MAX + 16];
	const char *loc;
	struct rf_reply r;
	struct curl_slist *l;
	json_t *j = NULL;
	size_t n;
	int err;

	if (!(n = login_body(body, sizeof(body), t->user, t->password)))
		return rf_fail(s, e, -EINVAL, "login", "user name or password too long");
	err = rf_request(s, "POST", RF_SESSIONS, body, n, &r, "login", e);
	explicit_bzero(body, sizeof(body));
	if (err < 0)
		goto out;
	if (r.status == 401 || r.status == 403) {
		redfish_message(&r, m, sizeof(m));
		err = rf_fail(s, e, -EACCES, "login", "BMC %s refused the credentials of user %s (HTTP %ld%s%s)", s->where,
			      s->user, r.status, m[0] ? ": " : "", m);
		goto out;
	}
	if (r.status == 404 || r.status == 405 || r.status == 501) {
		err = rf_fail(s, e, -ENOTSUP, "login", "BMC %s has no Redfish SessionService (HTTP %ld to POST %s)", s->where,
			      r.status, RF_SESSIONS);
		goto out;
	}
	if (r.status < 200 || r.status > 299) {
		err = rf_http_error(s, &r, "POST", RF_SESSIONS, "login", e);
		goto out;
	}
	if (r.token_bad || !r.token[0]) {
		err = rf_fail(s, e, -EPROTO, "login", "BMC %s: the answer to POST %s has %s X-Auth-Token header", s->where,
			      RF_SESSIONS, r.token_bad ? "an unusable" : "no");
		goto out;
	}
	/* Location, as DSP0266 says; else the new session's @odata.id. */
	loc = r.location[0] ? r.location : NULL;
	if (!loc && r.len && (j = json_loadb(r.body, r.len, 0, NULL)))
		loc = jstr(j, "@odata.id");
	if (!loc || rf_path(loc, hdr) < 0) {
		err = rf_fail(s, e, -EPROTO, "login", "BMC %s: the answer to POST %s has no Location of the session", s->where,
			      RF_SESSIONS);
		goto out;
	}
	if (!(s->session = strdup(hdr))) {
		err = rf_fail(s, e, -ENOMEM, "login", "no memory");
		goto out;
	}
	memcpy(s->token, r.token, sizeof(s->token));
	snprintf(hdr, sizeof(hdr), "X-Auth-Token: %s", s->token);
	l = curl_slist_append(s->hdrs, hdr);
	explicit_bzero(hdr, sizeof(hdr));
	if (!l) {
		err = rf_fail(s, e, -ENOMEM, "login", "no memory");
		goto out;
	}
	s->hdrs = l;
	curl_easy_setopt(s->curl, CURLOPT_HTTPHEADER, s->hdrs);
	err = 0;
out:
	json_decref(j);
	rf_reply_clear(&r);
	return err;
}

static int rf_open(const struct hw_target *t, struct hw_session **ret, struct hw_err *e)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	static const char *const headers[] = { "Accept: application/json", "Content-Type: application/json; charset=utf-8",
					       "OData-Version: 4.0", "Expect:" };
	struct hw_session *s;
	unsigned port;
	bool v6;
	int r;

	if (!t || !ret)
		return hw_fail(e, -EINVAL, "login", "no target");
	if (!host_ok(t->host) || strlen(t->host) > 253)
		return hw_fail(e, -EINVAL, "login", "bad BMC host name");
	if (!t->user[0])
		return hw_fail(e, -EINVAL, "login", "no user name for BMC %s", t->host);
	if (!(s = calloc(1, sizeof(*s))))
		return hw_fail(e, -ENOMEM, "login", "no memory");
	pthread_once(&once, rf_global_init);
	s->secret = t->password;
	port = t->port ? t->port : t->http ? 80 : 443;
	v6 = strchr(t->host, ':') != NULL;
	snprintf(s->where, sizeof(s->where), "%s%s%s:%u", v6 ? "[" : "", t->host, v6 ? "]" : "", port);
	snprintf(s->origin, sizeof(s->origin), "%s://%s", t->http ? "http" : "https", s->where);
	esc(t->user, s->user, sizeof(s->user));
	s->timeout_ms = t->timeout_ms ? t->timeout_ms : RF_TIMEOUT_MS;
	if (!(s->curl = curl_easy_init())) {
		r = hw_fail(e, -ENOMEM, "login", "no memory");
		goto fail;
	}
	for (size_t i = 0; i < ARRAY_SIZE(headers); i++) {
		struct curl_slist *l = curl_slist_append(s->hdrs, headers[i]);
		if (!l) {
			r = hw_fail(e, -ENOMEM, "login", "no memory");
			goto fail;
		}
		s->hdrs = l;
	}
	curl_easy_setopt(s->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(s->curl, CURLOPT_HTTPHEADER, s->hdrs);
	curl_easy_setopt(s->curl, CURLOPT_USERAGENT, "bootwave/" BW_VERSION);
	curl_easy_setopt(s->curl, CURLOPT_TIMEOUT_MS, (long)s->timeout_ms);
	curl_easy_setopt(s->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)s->timeout_ms);
	curl_easy_setopt(s->curl, CURLOPT_ERRORBUFFER, s->errbuf);
	curl_easy_setopt(s->curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(s->curl, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(s->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(s->curl, CURLOPT_FOLLOWLOCATION, 0L);
	/* A BMC is on a management network: no proxy from the environment. */
	curl_easy_setopt(s->curl, CURLOPT_PROXY, "");
	curl_easy_setopt(s->curl, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	curl_easy_setopt(s->curl, CURLOPT_SSL_VERIFYPEER, t->insecure ? 0L : 1L);
	curl_easy_setopt(s->curl, CURLOPT_SSL_VERIFYHOST, t->insecure ? 0L : 2L);
	if (t->ca_file[0])
		curl_easy_setopt(s->curl, CURLOPT_CAINFO, t->ca_file);

	if ((r = rf_login(s, t, e)) < 0)
		goto fail;
	if ((r = rf_first_member(s, RF_SYSTEMS, 0, "discover", s->system, e)) < 0)
		goto fail;
	/* The chassis is for health only: a BMC without one is still driven. */
	r = rf_first_member(s, RF_CHASSIS, RF_OPTIONAL, "discover", s->chassis, e);
	if (r < 0 && r != -ENOENT)
		goto fail;
	if (r == -ENOENT)
		s->chassis[0] = '\0';
	s->secret = NULL;
	*ret = s;
	return 0;
fail:
	s->secret = NULL;
	rf_close(s);
	return r;
}

static void rf_close(struct hw_session *s)
{
	struct rf_reply r;

	if (!s)
		return;
	/* Logging out of a BMC that just stopped answering would only wait as long again. */
	if (s->curl && s->session && s->token[0] && !s->stalled && !s->gone) {
		rf_request(s, "DELETE", s->session, NULL, 0, &r, "logout", NULL);
		rf_reply_clear(&r);
	}
	curl_easy_cleanup(s->curl);
	for (struct curl_slist *l = s->hdrs; l; l = l->next)
		explicit_bzero(l->data, strlen(l->data));
	curl_slist_free_all(s->hdrs);
	explicit_bzero(s->token, sizeof(s->token));
	free(s->session);
	free(s);
}

/* ---- power ---- */

/* The system's PowerState as enum hw_power. */
static int rf_power_of(struct hw_session *s, const json_t *sys, const char *step, enum hw_power *ret, struct hw_err *e)
{
	const char *ps = jstr(sys, "PowerState");
	char b[48];

	if (!ps)
		return rf_missing(s, e, step, s->system, "PowerState");
	if (strcmp(ps, "On") == 0 || strcmp(ps, "PoweringOn") == 0 || strcmp(ps, "Paused") == 0)
		*ret = HW_POWER_ON;
	else if (strcmp(ps, "Off") == 0 || strcmp(ps, "PoweringOff") == 0)
		*ret = HW_POWER_OFF;
	else
		return rf_fail(s, e, -EPROTO, step, "BMC %s: GET %s: unknown PowerState \"%s\"", s->where, s->system,
			       esc(ps, b, sizeof(b)));
	return 0;
}

static int rf_power_status(struct hw_session *s, enum hw_power *ret, struct hw_err *e)
{
	json_t *sys = NULL;
	enum hw_power p;
	int r;

	if (!s || !ret)
		return hw_fail(e, -EINVAL, "power status", "no session");
	if ((r = rf_get(s, s->system, 0, "power status", &sys, e)) == 0 && (r = rf_power_of(s, sys, "power status", &p, e)) == 0)
		*ret = p;
	json_decref(sys);
	return r;
}

/* The first ResetType of want[] the BMC allows (any when it lists none), or NULL. */
static const char *pick_reset(const json_t *allowed, const char *const *want)
{
	size_t i;
	json_t *v;

	for (; *want; want++) {
		if (!json_is_array(allowed))
			return *want;
		json_array_foreach(allowed, i, v)
			if (json_is_string(v) && strcmp(json_string_value(v), *want) == 0)
				return *want;
	}
	return NULL;
}

static int rf_reset(struct hw_session *s, const char *target, const char *type, const char *step, struct hw_err *e)
{
	json_t *body = json_pack("{s:s}", "ResetType", type);
	int r;

	if (!body)
		return rf_fail(s, e, -ENOMEM, step, "no memory");
	r = rf_call(s, "POST", target, body, 0, step, NULL, e);
	json_decref(body);
	return r;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int rf_power(struct hw_session *s, enum hw_power_action act, struct hw_err *e)
{
	static const char *const steps[] = { "power on", "power off", "soft power off", "power cycle", "power reset" };
	static const char *const on[] = { "On", "ForceOn", NULL }, *const off[] = { "ForceOff", NULL },
				 *const soft[] = { "GracefulShutdown", NULL }, *const cycle[] = { "PowerCycle", NULL },
				 *const reset[] = { "ForceRestart", NULL };
	static const char *const *const wants[] = { on, off, soft, cycle, reset };
	char target[RF_PATH_MAX], ab[160];
	const char *type, *step;
	json_t *sys = NULL, *action, *allowed;
	enum hw_power p;
	int r;

	if ((unsigned)act > HW_ACT_RESET)
		return hw_fail(e, -EINVAL, "power", "unknown power action %d", (int)act);
	step = steps[act];
	if (!s)
		return hw_fail(e, -EINVAL, step, "no session");
	if ((r = rf_get(s, s->system, 0, step, &sys, e)) < 0 || (r = rf_power_of(s, sys, step, &p, e)) < 0)
		goto out;
	/* The action's target as the system gives it, else where DSP0266 puts it. */
	action = json_object_get(json_object_get(sys, "Actions"), "#ComputerSystem.Reset");
	if ((!jstr(action, "target") || rf_path(jstr(action, "target"), target) < 0) &&
	    snprintf(target, sizeof(target), "%s/Actions/ComputerSystem.Reset", s->system) >= (int)sizeof(target)) {
		r = rf_fail(s, e, -EPROTO, step, "BMC %s: system path too long", s->where);
		goto out;
	}
	allowed = json_object_get(action, "ResetType@Redfish.AllowableValues");

	if ((act == HW_ACT_ON && p == HW_POWER_ON) || ((act == HW_ACT_OFF || act == HW_ACT_SOFT_OFF) && p == HW_POWER_OFF))
		goto out; /* already there */
	if (act == HW_ACT_CYCLE && p == HW_POWER_OFF)
		act = HW_ACT_ON;
	type = pick_reset(allowed, wants[act]);
	if (type) {
		r = rf_reset(s, target, type, step, e);
		goto out;
	}
	if (act != HW_ACT_CYCLE || !(type = pick_reset(allowed, on)) || !pick_reset(allowed, off)) {
		char *list = json_dumps(allowed, JSON_COMPACT);
		r = rf_fail(s, e, -ENOTSUP, step, "BMC %s allows no ResetType for %s (it allows %s)", s->where,
			    hw_action_name(act), esc(list, ab, sizeof(ab)));
		free(list);
		goto out;
	}
	/* No PowerCycle: ForceOff, wait for Off, On. */
	if ((r = rf_reset(s, target, "ForceOff", step, e)) < 0)
		goto out;
	for (int i = 0;; i++) {
		json_decref(sys);
		sys = NULL;
		if ((r = rf_get(s, s->system, 0, step, &sys, e)) < 0 || (r = rf_power_of(s, sys, step, &p, e)) < 0)
			goto out;
		if (p == HW_POWER_OFF)
			break;
		if (i == RF_OFF_POLLS) {
			r = rf_fail(s, e, -ETIMEDOUT, step, "BMC %s: still on %u ms after ForceOff", s->where,
				    RF_OFF_POLLS * RF_OFF_POLL_MS);
			goto out;
		}
		sleep_ms(RF_OFF_POLL_MS);
	}
	r = rf_reset(s, target, type, step, e);
out:
	json_decref(sys);
	return r;
}

/* ---- boot override ---- */

static int rf_set_boot(struct hw_session *s, const struct hw_boot *b, struct hw_err *e)
{
	json_t *body;
	int r;

	if (!s || !b || (unsigned)b->dev > HW_BOOT_DISK)
		return hw_fail(e, -EINVAL, "set boot device", "bad arguments");
	if (b->dev == HW_BOOT_NONE)
		body = json_pack("{s:{s:s}}", "Boot", "BootSourceOverrideEnabled", "Disabled");
	else
		body = json_pack("{s:{s:s, s:s, s:s}}", "Boot", "BootSourceOverrideTarget", b->dev == HW_BOOT_PXE ? "Pxe" : "Hdd",
				 "BootSourceOverrideEnabled", b->persistent ? "Continuous" : "Once", "BootSourceOverrideMode",
				 b->uefi ? "UEFI" : "Legacy");
	if (!body)
		return hw_fail(e, -ENOMEM, "set boot device", "no memory");
	r = rf_call(s, "PATCH", s->system, body, 0, "set boot device", NULL, e);
	json_decref(body);
	return r;
}

static int rf_get_boot(struct hw_session *s, struct hw_boot *ret, struct hw_err *e)
{
	static const char step[] = "get boot device";
	struct hw_boot b = { 0 };
	const char *en, *target, *mode;
	json_t *sys = NULL, *boot;
	char tb[48];
	int r;

	if (!s || !ret)
		return hw_fail(e, -EINVAL, step, "bad arguments");
	if ((r = rf_get(s, s->system, 0, step, &sys, e)) < 0)
		return r;
	boot = json_object_get(sys, "Boot");
	en = jstr(boot, "BootSourceOverrideEnabled");
	target = jstr(boot, "BootSourceOverrideTarget");
	mode = jstr(boot, "BootSourceOverrideMode");
	if (!json_is_object(boot))
		r = rf_missing(s, e, step, s->system, "Boot");
	else if (!en)
		r = rf_missing(s, e, step, s->system, "Boot.BootSourceOverrideEnabled");
	else if (strcmp(en, "Disabled") == 0)
		b.dev = HW_BOOT_NONE;
	else if (!target)
		r = rf_missing(s, e, step, s->system, "Boot.BootSourceOverrideTarget");
	else if (strcmp(target, "None") == 0)
		b.dev = HW_BOOT_NONE;
	else if (strcmp(target, "Pxe") == 0)
		b.dev = HW_BOOT_PXE;
	else if (strcmp(target, "Hdd") == 0)
		b.dev = HW_BOOT_DISK;
	else
		r = rf_fail(s, e, -ENOTSUP, step, "BMC %s: boot override to %s, not a device bootwave sets", s->where,
			    esc(target, tb, sizeof(tb)));
	if (r == 0) {
		if (b.dev != HW_BOOT_NONE) {
			b.persistent = strcmp(en, "Continuous") == 0;
			b.uefi = mode && strcmp(mode, "UEFI") == 0;
		}
		*ret = b;
	}
	json_decref(sys);
	return r;
}

/* ---- health ---- */

static enum hw_rollup rollup_of(const char *h)
{
	if (!h)
		return HW_HEALTH_UNKNOWN;
	if (strcmp(h, "OK") == 0)
		return HW_HEALTH_OK;
	if (strcmp(h, "Warning") == 0)
		return HW_HEALTH_WARNING;
	if (strcmp(h, "Critical") == 0)
		return HW_HEALTH_CRITICAL;
	return HW_HEALTH_UNKNOWN;
}

static void worse(enum hw_rollup *r, enum hw_rollup of)
{
	if (of > *r)
		*r = of;
}

/* Status.HealthRollup, else Status.Health. */
static enum hw_rollup status_rollup(const json_t *o)
{
	const json_t *st = json_object_get(o, "Status");
	const char *h = jstr(st, "HealthRollup");

	return rollup_of(h ? h : jstr(st, "Health"));
}

/* Appends item (escaped) to the comma-separated list[size], cut if it does not fit. */
static void list_add(char *list, size_t size, const char *item)
{
	size_t n = strlen(list);
	char b[128];

	if (n + 3 >= size)
		return;
	if (n) {
		memcpy(list + n, ", ", 3);
		n += 2;
	}
	esc(item, b, sizeof(b));
	snprintf(list + n, size - n, "%s", b);
}

/* A sensor (a Sensor, or a Thermal or Power reading): Critical is past a critical threshold. */
static void sensor_of(const json_t *m, struct hw_health *h)
{
	enum hw_rollup r = rollup_of(jstr(json_object_get(m, "Status"), "Health"));

	if (r == HW_HEALTH_CRITICAL) {
		h->sensors_crossed++;
		list_add(h->sensors, sizeof(h->sensors), jstr(m, "Name") ? jstr(m, "Name") : "?");
	}
	worse(&h->rollup, r);
}

static void sensors_of(const json_t *arr, struct hw_health *h)
{
	size_t i;
	json_t *m;

	json_array_foreach(arr, i, m)
		sensor_of(m, h);
}

/* The chassis: its status and faults, and its sensors (Thermal and Power, else Sensors). */
static int rf_chassis_health(struct hw_session *s, const char *path, struct hw_health *h, struct hw_err *e)
{
	static const char step[] = "health";
	json_t *ch = NULL, *th = NULL, *pw = NULL, *sens = NULL, *m, *c;
	char sub[RF_PATH_MAX], item[160];
	const char *health;
	size_t i;
	int r;

	if ((r = rf_get(s, path, RF_OPTIONAL, step, &ch, e)) < 0)
		return r == -ENOENT ? 0 : r;
	worse(&h->rollup, status_rollup(ch));
	health = jstr(json_object_get(ch, "Status"), "Health");
	if (rollup_of(health) >= HW_HEALTH_WARNING) {
		snprintf(item, sizeof(item), "chassis %s", health);
		list_add(h->chassis, sizeof(h->chassis), item);
	}
	json_array_foreach(json_object_get(json_object_get(ch, "Status"), "Conditions"), i, c)
		if (jstr(c, "Message"))
			list_add(h->chassis, sizeof(h->chassis), jstr(c, "Message"));

	if (rf_path(jlink(ch, "Thermal"), sub) == 0 && (r = rf_get(s, sub, RF_OPTIONAL, step, &th, e)) < 0 && r != -ENOENT)
		goto out;
	if (rf_path(jlink(ch, "Power"), sub) == 0 && (r = rf_get(s, sub, RF_OPTIONAL, step, &pw, e)) < 0 && r != -ENOENT)
		goto out;
	r = 0;
	sensors_of(json_object_get(th, "Temperatures"), h);
	sensors_of(json_object_get(th, "Fans"), h);
	sensors_of(json_object_get(pw, "Voltages"), h);
	json_array_foreach(json_object_get(pw, "PowerSupplies"), i, m) {
		const char *ph = jstr(json_object_get(m, "Status"), "Health");
		if (rollup_of(ph) >= HW_HEALTH_WARNING) {
			snprintf(item, sizeof(item), "power supply %.64s: %.16s", jstr(m, "Name") ? jstr(m, "Name") : "?", ph);
			list_add(h->chassis, sizeof(h->chassis), item);
			worse(&h->rollup, rollup_of(ph));
		}
	}
	if ((th || pw) || rf_path(jlink(ch, "Sensors"), sub) < 0)
		goto out;
	/* Only the newer Sensors collection: each sensor is its own resource. */
	if ((r = rf_get(s, sub, RF_OPTIONAL, step, &sens, e)) < 0) {
		r = r == -ENOENT ? 0 : r;
		goto out;
	}
	json_array_foreach(json_object_get(sens, "Members"), i, m) {
		json_t *one = NULL;
		if (i == RF_SENSORS_MAX || rf_path(jstr(m, "@odata.id"), sub) < 0)
			break;
		if ((r = rf_get(s, sub, RF_OPTIONAL, step, &one, e)) < 0) {
			if (r == -ENOENT)
				continue;
			goto out;
		}
		sensor_of(one, h);
		json_decref(one);
	}
	r = 0;
out:
	json_decref(sens);
	json_decref(pw);
	json_decref(th);
	json_decref(ch);
	return r;
}

/* A log entry's Id as a number; false if it is not one. */
static bool entry_number(const json_t *entry, uint64_t *ret)
{
	const char *id = jstr(entry, "Id");
	char *end;

	if (!id || !*id || *id < '0' || *id > '9')
		return false;
	errno = 0;
	*ret = strtoull(id, &end, 10);
	return errno == 0 && *end == '\0';
}

/* Severity, or MessageSeverity (newer LogEntry versions), or NULL. */
static const char *entry_severity(const json_t *entry)
{
	return jstr(entry, "Severity") ? jstr(entry, "Severity") : jstr(entry, "MessageSeverity");
}

/*
 * The entries of the log service's Entries collection at path, across its
 * pages (@odata.nextLink, while fewer than Members@odata.count came), into
 * the array all.
 */
static int rf_log_entries(struct hw_session *s, const char *path, json_t *all, struct hw_err *e)
{
	char page[RF_PATH_MAX];
	json_t *c = NULL;
	int r = 0;

	snprintf(page, sizeof(page), "%s", path);
	for (int n = 0; n < RF_ENTRY_PAGES_MAX; n++) {
		json_t *count;
		const char *next;

		if ((r = rf_get(s, page, RF_OPTIONAL, "health", &c, e)) < 0)
			return r == -ENOENT ? 0 : r;
		if (!json_is_array(json_object_get(c, "Members"))) {
			json_decref(c);
			return rf_missing(s, e, "health", page, "Members");
		}
		json_array_extend(all, json_object_get(c, "Members"));
		count = json_object_get(c, "Members@odata.count");
		next = jstr(c, "@odata.nextLink");
		if (!next || (json_is_integer(count) && json_array_size(all) >= (size_t)json_integer_value(count)) ||
		    rf_path(next, page) < 0) {
			json_decref(c);
			break;
		}
		json_decref(c);
		c = NULL;
	}
	return r;
}

/* The system's (else its manager's) first log service: new and critical entries since marker. */
static int rf_log_health(struct hw_session *s, const json_t *sys, uint64_t marker, struct hw_health *h, struct hw_err *e)
{
	static const char step[] = "health";
	char path[RF_PATH_MAX], item[160], b1[48], b2[128];
	json_t *mgr = NULL, *svc = NULL, *all = NULL, *m, *last = NULL;
	bool numeric = true;
	uint64_t max = 0, id = 0, last_id = 0;
	unsigned fetched = 0;
	size_t i, n;
	int r;

	h->sel_marker = marker;
	if (rf_path(jlink(sys, "LogServices"), path) < 0) {
		if (rf_path(jlink0(json_object_get(sys, "Links"), "ManagedBy"), path) < 0)
			return 0;
		if ((r = rf_get(s, path, RF_OPTIONAL, step, &mgr, e)) < 0)
			return r == -ENOENT ? 0 : r;
		r = rf_path(jlink(mgr, "LogServices"), path);
		json_decref(mgr);
		if (r < 0)
			return 0;
	}
	if ((r = rf_first_member(s, path, RF_OPTIONAL, step, path, e)) < 0)
		return r == -ENOENT ? 0 : r;
	if ((r = rf_get(s, path, RF_OPTIONAL, step, &svc, e)) < 0)
		return r == -ENOENT ? 0 : r;
	r = rf_path(jlink(svc, "Entries"), path);
	json_decref(svc);
	if (r < 0)
		return 0;
	if (!(all = json_array()))
		return rf_fail(s, e, -ENOMEM, step, "no memory");
	if ((r = rf_log_entries(s, path, all, e)) < 0)
		goto out;

	n = json_array_size(all);
	json_array_foreach(all, i, m) {
		/* An entry given as a link only: its Id is the last segment of its path. */
		if (!jstr(m, "Id") && jstr(m, "@odata.id")) {
			const char *slash = strrchr(jstr(m, "@odata.id"), '/');
			json_object_set_new(m, "Id", json_string(slash ? slash + 1 : ""));
		}
		if (!entry_number(m, &id))
			numeric = false;
		else if (id > max)
			max = id;
	}
	/* A log that went back below the marker was cleared: all of it is new. */
	if (numeric)
		h->sel_marker = max;
	else
		h->sel_marker = n;
	if (h->sel_marker < marker)
		marker = 0;
	json_array_foreach(all, i, m) {
		const char *sev;
		bool is_new;

		if (numeric)
			is_new = entry_number(m, &id) && id > marker;
		else
			is_new = i >= marker;
		if (!is_new)
			continue;
		h->sel_new++;
		sev = entry_severity(m);
		if (!sev && fetched < RF_ENTRY_FETCH_MAX && rf_path(jstr(m, "@odata.id"), path) == 0) {
			json_t *one = NULL;
			fetched++;
			if ((r = rf_get(s, path, RF_OPTIONAL, step, &one, e)) < 0 && r != -ENOENT)
				goto out;
			if (one) {
				/* Keeps the Id the list gave (the entry may lack one). */
				if (!jstr(one, "Id"))
					json_object_set(one, "Id", json_object_get(m, "Id"));
				json_array_set_new(all, i, one);
				m = one;
			}
			sev = entry_severity(m);
		}
		/* The last: the highest Id, or the last listed when Ids are not numbers. */
		if (sev && strcmp(sev, "Critical") == 0) {
			h->sel_critical++;
			if (!last || !numeric || id > last_id) {
				last = m;
				last_id = id;
			}
		}
	}
	if (last) {
		const char *what = jstr(last, "Message") ? jstr(last, "Message")
			: jstr(last, "EntryCode")	 ? jstr(last, "EntryCode")
							 : jstr(last, "Name");
		if (jstr(last, "Created"))
			snprintf(item, sizeof(item), "%s %s", esc(jstr(last, "Created"), b1, sizeof(b1)), esc(what, b2, sizeof(b2)));
		else
			esc(what, item, sizeof(item));
		snprintf(h->sel_last, sizeof(h->sel_last), "%s", item);
	}
	r = 0;
out:
	json_decref(all);
	return r;
}

static int rf_health(struct hw_session *s, uint64_t sel_marker, struct hw_health *ret, struct hw_err *e)
{
	static const char step[] = "health";
	struct hw_health h = { 0 };
	char chassis[RF_PATH_MAX];
	json_t *sys = NULL;
	int r;

	if (!s || !ret)
		return hw_fail(e, -EINVAL, step, "bad arguments");
	if ((r = rf_get(s, s->system, 0, step, &sys, e)) < 0 || (r = rf_power_of(s, sys, step, &h.power, e)) < 0)
		goto out;
	h.rollup = status_rollup(sys);
	/* The system's own chassis when it names it, else the first one. */
	if (rf_path(jlink0(json_object_get(sys, "Links"), "Chassis"), chassis) < 0)
		snprintf(chassis, sizeof(chassis), "%s", s->chassis);
	if (chassis[0] && (r = rf_chassis_health(s, chassis, &h, e)) < 0)
		goto out;
	if ((r = rf_log_health(s, sys, sel_marker, &h, e)) < 0)
		goto out;
	if (h.sensors_crossed)
		worse(&h.rollup, HW_HEALTH_CRITICAL);
	*ret = h;
out:
	json_decref(sys);
	return r;
}

const struct hw_ops hw_redfish_ops = {
	.name = "redfish",
	.open = rf_open,
	.power_status = rf_power_status,
	.power = rf_power,
	.set_boot = rf_set_boot,
	.get_boot = rf_get_boot,
	.health = rf_health,
	.close = rf_close,
};
