// SPDX-License-Identifier: Apache-2.0
/*
 * JSON <-> model objects, driven by lib/model.h's field tables. Every
 * refusal names the field at fault and carries a stable code:
 *   400 wrong_type, unknown_field, read_only_field, immutable_field, missing_field
 *   422 out_of_range, invalid_value, invalid_reference
 */
#include "api-internal.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <time.h>

#include "crypto.h"
#include "window.h"

static int fail(struct api_error *e, unsigned status, const char *code, const char *field,
		const char *fmt, ...) _printf_(5, 6);
static int fail(struct api_error *e, unsigned status, const char *code, const char *field,
		const char *fmt, ...)
{
	va_list ap;
	e->status = status;
	e->code = code;
	snprintf(e->field, sizeof(e->field), "%s", field ? field : "");
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof(e->message), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

void codec_time(int64_t t, char buf[32])
{
	struct tm tm;
	time_t tt = (time_t)t;
	gmtime_r(&tt, &tm);
	strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int codec_parse_time(const char *s, int64_t *ret)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:dd";
	struct tm tm = { 0 }, back;
	const char *p;
	time_t t;
	long off = 0;

	/* Exactly RFC 3339's digits: strptime alone takes "2027-2-3T1:2:3". */
	for (size_t i = 0; i < sizeof(shape) - 1; i++)
		if (shape[i] == 'd' ? !isdigit((unsigned char)s[i]) : toupper((unsigned char)s[i]) != shape[i])
			return -EINVAL;
	p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (p != s + sizeof(shape) - 1)
		return -EINVAL;
	if (*p == '.') { /* fractional seconds are accepted and dropped */
		if (!isdigit((unsigned char)p[1]))
			return -EINVAL;
		for (p++; isdigit((unsigned char)*p); p++)
			;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if ((*p == '+' || *p == '-') && isdigit((unsigned char)p[1]) && isdigit((unsigned char)p[2]) &&
		   p[3] == ':' && isdigit((unsigned char)p[4]) && isdigit((unsigned char)p[5])) {
		int hh = (p[1] - '0') * 10 + (p[2] - '0'), mm = (p[4] - '0') * 10 + (p[5] - '0');
		if (hh > 23 || mm > 59)
			return -EINVAL;
		off = hh * 3600L + mm * 60L;
		if (*p == '-')
			off = -off;
		p += 6;
	} else
		return -EINVAL;
	if (*p)
		return -EINVAL;
	/* timegm rolls 31 February into March: refuse dates that do not exist. */
	back = tm;
	t = timegm(&back);
	if (back.tm_mday != tm.tm_mday || back.tm_mon != tm.tm_mon || back.tm_hour != tm.tm_hour ||
	    back.tm_min != tm.tm_min || back.tm_sec != tm.tm_sec)
		return -EINVAL;
	*ret = (int64_t)t - off;
	return 0;
}

/* Printable text without control characters (UTF-8 allowed). */
static bool text_valid(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

static bool user_valid(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
			return false;
	return true;
}

/* "", "tcp:PORT", "http://host[:port]/path", "https://..." */
static bool probe_valid(const char *s)
{
	if (!*s)
		return true;
	if (strncmp(s, "tcp:", 4) == 0) {
		char *end;
		long p = strtol(s + 4, &end, 10);
		return end != s + 4 && !*end && p >= 1 && p <= 65535;
	}
	if (strncmp(s, "http://", 7) != 0 && strncmp(s, "https://", 8) != 0)
		return false;
	s = strchr(s, ':') + 3;
	if (!*s || *s == '/')
		return false;
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
			return false;
	return true;
}

static const char *type_name(enum field_type t)
{
	switch (t) {
	case FT_INT:
		return "an integer";
	case FT_BOOL:
		return "true or false";
	case FT_DISKS:
		return "an array of device paths";
	case FT_JSON:
		return "a JSON object";
	case FT_REF:
		return "a name";
	case FT_TIME:
		return "an RFC 3339 time";
	default:
		return "a string";
	}
}

/* Checks the syntax of string value v for field f; on failure fills e. */
static int check_string(const struct field *f, const char *v, char *out, struct api_error *e)
{
	char esc[96];
	const char *what = NULL;

	log_escape(v, strlen(v), esc, sizeof(esc));
	if (strlen(v) >= f->size && f->type != FT_MAC)
		return fail(e, 422, "invalid_value", f->name, "%s: longer than %zu characters", f->name,
			    f->size - 1);
	switch (f->type) {
	case FT_NAME:
		if (!name_valid(v))
			what = "expected 1-63 of a-z, 0-9, '-', '_', '.', starting with a letter or digit";
		break;
	case FT_TEXT:
		if (!text_valid(v))
			what = "control characters are not allowed";
		break;
	case FT_MAC:
		if (mac_normalize(v, out) < 0)
			return fail(e, 422, "invalid_value", f->name,
				    "%s: \"%s\" is not a unicast MAC address (aa:bb:cc:dd:ee:ff)", f->name, esc);
		return 0;
	case FT_HOST:
		if (*v && !host_valid(v))
			what = "expected a host name or an IP address";
		break;
	case FT_DEVPATH:
		if (*v && !devpath_valid(v))
			what = "expected an absolute device path such as /dev/sda";
		break;
	case FT_ENUM: {
		bool ok = false;
		for (size_t i = 0; f->values[i]; i++)
			ok |= str_eq(v, f->values[i]);
		if (!ok) {
			char list[160] = "";
			for (size_t i = 0; f->values[i]; i++)
				snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? ", " : "",
					 f->values[i]);
			return fail(e, 422, "invalid_value", f->name, "%s: \"%s\" is not one of %s", f->name,
				    esc, list);
		}
		break;
	}
	case FT_VERSIONREF:
		if (!str_eq(v, "latest") && !version_valid(v))
			what = "expected \"latest\" or a version of 1-63 of A-Z, a-z, 0-9, '.', '+', '~', '_', '-'";
		break;
	case FT_PROBE:
		if (!probe_valid(v))
			what = "expected http://host:port/path, https://..., tcp:PORT or \"\"";
		break;
	case FT_WINDOWS: {
		struct window_set ws;
		char why[128];
		if (window_parse(v, &ws, why, sizeof(why)) < 0)
			return fail(e, 422, "invalid_value", f->name, "%s: %s", f->name, why);
		break;
	}
	case FT_USER:
		if (!user_valid(v))
			what = "spaces and control characters are not allowed";
		break;
	case FT_SHA256:
		if (!sha256_hex_valid(v))
			what = "expected 64 hex digits";
		break;
	case FT_IPV4: {
		struct in_addr a;
		if (*v && inet_pton(AF_INET, v, &a) != 1)
			what = "expected an IPv4 address such as 10.77.0.20";
		break;
	}
	default:
		break;
	}
	if (what)
		return fail(e, 422, "invalid_value", f->name, "%s: \"%s\": %s", f->name, esc, what);
	snprintf(out, f->size, "%s", v);
	return 0;
}

static int decode_disks(const struct field *f, json_t *v, char *out, struct api_error *e)
{
	json_t *item, *norm;
	size_t i;
	char *text;
	int r = 0;

	if (!json_is_array(v))
		return fail(e, 400, "wrong_type", f->name, "%s: expected %s", f->name, type_name(f->type));
	if (json_array_size(v) > DISKS_MAX)
		return fail(e, 422, "out_of_range", f->name, "%s: at most %d disks", f->name, DISKS_MAX);
	norm = json_array();
	json_array_foreach(v, i, item) {
		const char *s = json_string_value(item);
		char esc[96];
		if (!s || !devpath_valid(s)) {
			r = fail(e, 422, "invalid_value", f->name, "%s[%zu]: %s is not an absolute device path",
				 f->name, i, s ? log_escape(s, strlen(s), esc, sizeof(esc)) : "(not a string)");
			break;
		}
		json_array_append(norm, item);
	}
	if (r == 0) {
		text = json_dumps(norm, JSON_COMPACT);
		if (!text || strlen(text) >= f->size)
			r = fail(e, 422, "out_of_range", f->name, "%s: the list is too long", f->name);
		else
			snprintf(out, f->size, "%s", text);
		free(text);
	}
	json_decref(norm);
	return r;
}

/* A JSON object, kept compact with its keys sorted. */
static int decode_json(const struct field *f, json_t *v, char *out, struct api_error *e)
{
	_cleanup_free_ char *text = NULL;

	if (!json_is_object(v))
		return fail(e, 400, "wrong_type", f->name, "%s: expected a JSON object", f->name);
	text = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
	if (!text)
		return fail(e, 500, "internal", f->name, "%s: cannot encode", f->name);
	if (strlen(text) >= f->size)
		return fail(e, 422, "out_of_range", f->name, "%s: longer than %zu bytes as JSON", f->name, f->size - 1);
	snprintf(out, f->size, "%s", text);
	return 0;
}

int codec_decode_field(struct api *a, const struct field *f, json_t *v, void *obj, struct api_error *e)
{
	void *p = field_ptr(f, obj);

	if (json_is_null(v)) {
		if (!(f->flags & F_NULLABLE) && f->type != FT_TIME)
			return fail(e, 400, "wrong_type", f->name, "%s: must not be null", f->name);
		if (f->type == FT_INT)
			*(int64_t *)p = INT_NULL;
		else if (f->type == FT_REF || f->type == FT_TIME)
			*(int64_t *)p = 0;
		else
			return fail(e, 400, "wrong_type", f->name, "%s: must not be null", f->name);
		return 0;
	}
	if (f->type == FT_DISKS)
		return decode_disks(f, v, p, e);
	if (f->type == FT_JSON)
		return decode_json(f, v, p, e);
	if (field_is_string(f)) {
		if (!json_is_string(v))
			return fail(e, 400, "wrong_type", f->name, "%s: expected %s", f->name, type_name(f->type));
		return check_string(f, json_string_value(v), p, e);
	}
	switch (f->type) {
	case FT_INT: {
		json_int_t n;
		if (!json_is_integer(v))
			return fail(e, 400, "wrong_type", f->name, "%s: expected %s", f->name, type_name(f->type));
		n = json_integer_value(v);
		if (n < f->min || n > f->max)
			return fail(e, 422, "out_of_range", f->name, "%s: %lld is out of range %lld..%lld",
				    f->name, (long long)n, (long long)f->min, (long long)f->max);
		*(int64_t *)p = n;
		return 0;
	}
	case FT_BOOL:
		if (!json_is_boolean(v))
			return fail(e, 400, "wrong_type", f->name, "%s: expected %s", f->name, type_name(f->type));
		*(bool *)p = json_is_true(v);
		return 0;
	case FT_TIME: {
		int64_t t;
		if (!json_is_string(v) || codec_parse_time(json_string_value(v), &t) < 0)
			return fail(e, 400, "wrong_type", f->name, "%s: expected %s such as 2027-01-31T12:00:00Z",
				    f->name, type_name(f->type));
		*(int64_t *)p = t;
		return 0;
	}
	case FT_REF: {
		const char *name = json_string_value(v);
		_cleanup_free_ void *row = NULL;
		char esc[96];
		int r;
		if (!name)
			return fail(e, 400, "wrong_type", f->name, "%s: expected %s", f->name, type_name(f->type));
		row = malloc(f->ref->size);
		if (!row)
			return fail(e, 500, "internal", f->name, "out of memory");
		r = store_get_by_key(a->store, f->ref, 0, name, row);
		if (r == -ENOENT)
			return fail(e, 422, "invalid_reference", f->name, "%s: %s \"%s\" does not exist", f->name,
				    f->ref->name, log_escape(name, strlen(name), esc, sizeof(esc)));
		if (r < 0)
			return fail(e, 503, "unavailable", f->name, "store failed looking up %s", f->name);
		*(int64_t *)p = *(int64_t *)row;
		return 0;
	}
	case FT_SECRET: {
		struct bw_secret *sec = p;
		const char *plain = json_string_value(v);
		char aad[80];
		size_t n;
		if (!plain)
			return fail(e, 400, "wrong_type", f->name, "%s: expected a string", f->name);
		n = strlen(plain);
		if (n > BW_SECRET_PLAIN_MAX)
			return fail(e, 422, "invalid_value", f->name, "%s: longer than %d characters", f->name,
				    BW_SECRET_PLAIN_MAX);
		if (n == 0) {
			sec->len = 0;
			return 0;
		}
		snprintf(aad, sizeof(aad), "bootwave:%s", f->name);
		if (secret_seal(a->key, aad, plain, n, sec->data, &sec->len) < 0)
			return fail(e, 500, "internal", f->name, "cannot seal %s", f->name);
		return 0;
	}
	default:
		return fail(e, 500, "internal", f->name, "%s: unsupported field type", f->name);
	}
}

int codec_decode(struct api *a, const struct model *m, json_t *in, bool create, void *obj,
		 bool *mask, struct api_error *e)
{
	const char *key;
	json_t *v;
	char esc[96];
	int r;

	memset(mask, 0, m->n_fields * sizeof(*mask));
	if (!json_is_object(in))
		return fail(e, 400, "bad_json", NULL, "request body must be a JSON object");
	json_object_foreach(in, key, v) {
		const struct field *f = model_field(m, key);
		if (!f || (f->flags & F_INTERNAL))
			return fail(e, 400, "unknown_field", key, "unknown field \"%s\" for a %s",
				    log_escape(key, strlen(key), esc, sizeof(esc)), m->name);
		if (f->flags & F_RO)
			return fail(e, 400, "read_only_field", key, "%s: read-only, set by bootwave", key);
		if (!create && (f->flags & F_IMMUTABLE))
			return fail(e, 400, "immutable_field", key, "%s: cannot be changed after creation", key);
		if ((r = codec_decode_field(a, f, v, obj, e)) < 0)
			return r;
		mask[f - m->fields] = true;
	}
	if (create)
		for (size_t i = 0; i < m->n_fields; i++)
			if ((m->fields[i].flags & F_REQUIRED) && !mask[i])
				return fail(e, 400, "missing_field", m->fields[i].name, "%s: required for a new %s",
					    m->fields[i].name, m->name);
	return 0;
}

json_t *codec_encode(struct api *a, const struct model *m, const void *obj)
{
	json_t *o = json_object();

	for (size_t i = 0; i < m->n_fields; i++) {
		const struct field *f = &m->fields[i];
		const void *p = field_cptr(f, obj);
		json_t *v = NULL;

		if (f->flags & F_INTERNAL)
			continue;
		if (f->type == FT_DISKS || f->type == FT_JSON) {
			v = json_loads(p, 0, NULL);
			if (!v)
				v = f->type == FT_DISKS ? json_array() : json_object();
		} else if (field_is_string(f)) {
			v = json_string(p);
		} else {
			switch (f->type) {
			case FT_INT: {
				int64_t n = *(const int64_t *)p;
				v = n == INT_NULL ? json_null() : json_integer(n);
				break;
			}
			case FT_TIME: {
				int64_t t = *(const int64_t *)p;
				char buf[32];
				if (t) {
					codec_time(t, buf);
					v = json_string(buf);
				} else
					v = json_null();
				break;
			}
			case FT_BOOL:
				v = json_boolean(*(const bool *)p);
				break;
			case FT_REF: {
				int64_t id = *(const int64_t *)p;
				char name[NAME_MAX_LEN + 1];
				if (id && store_key_of(a->store, f->ref, id, name, sizeof(name)) == 0)
					v = json_string(name);
				else
					v = json_null();
				break;
			}
			case FT_SECRET: {
				char k[80];
				snprintf(k, sizeof(k), "%s_set", f->name);
				json_object_set_new(o, k, json_boolean(((const struct bw_secret *)p)->len > 0));
				continue;
			}
			default:
				continue;
			}
		}
		json_object_set_new(o, f->name, v);
	}
	/* Derived: where "latest" points now. */
	if (m == &model_image) {
		struct bw_image_version v;
		const struct bw_image *img = obj;
		json_object_set_new(o, "latest", store_version_latest(a->store, img->id, &v) == 0
							 ? json_string(v.version)
							 : json_null());
	} else if (m == &model_image_version) {
		struct bw_image_version v;
		const struct bw_image_version *iv = obj;
		json_object_set_new(o, "latest", json_boolean(store_version_latest(a->store, iv->image, &v) == 0 &&
								v.id == iv->id));
	}
	return o;
}
