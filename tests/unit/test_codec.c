// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests of server/api/codec.c, the JSON <-> model codec of the REST
 * API: every refusal's stable code, status and field (unknown, read-only,
 * immutable, missing, wrong type, out of range, invalid value, invalid
 * reference), MAC normalisation, data disks, sealed BMC passwords that never
 * come back out, nullable integers, and RFC 3339 times. The codec needs a
 * struct api with a store and a key: each test builds one on the stack over
 * a real store in a temporary directory, with a site, a zone and an image.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api-internal.h"
#include "crypto.h"
#include "fsutil.h"
#include "log.h"
#include "model.h"
#include "store.h"
#include "testutil.h"

struct fx {
	char dir[64];
	char path[128];
	struct api api;
	int64_t site, zone, image;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct store_err err = { .field = "" };
	struct bw_site site;
	struct bw_zone zone;
	struct bw_image img;

	if (!f)
		return -1;
	if (test_dir_make("codec", "bootwave.db", f->dir, f->path) < 0) {
		free(f);
		return -1;
	}
	if (store_open(f->path, &f->api.store, &err) < 0 || random_bytes(f->api.key, sizeof(f->api.key)) < 0) {
		print_error("setup: %s\n", err.message);
		store_close(f->api.store);
		rm_rf(f->dir);
		free(f);
		return -1;
	}
	model_init(&model_site, &site);
	snprintf(site.name, sizeof(site.name), "dc1");
	model_init(&model_zone, &zone);
	snprintf(zone.name, sizeof(zone.name), "z1");
	model_init(&model_image, &img);
	snprintf(img.name, sizeof(img.name), "os-base");
	if (store_insert(f->api.store, &model_site, &site, &err) < 0 ||
	    (zone.site = site.id, store_insert(f->api.store, &model_zone, &zone, &err) < 0) ||
	    store_insert(f->api.store, &model_image, &img, &err) < 0) {
		print_error("setup: %s\n", err.message);
		store_close(f->api.store);
		rm_rf(f->dir);
		free(f);
		return -1;
	}
	f->site = site.id;
	f->zone = zone.id;
	f->image = img.id;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	store_close(f->api.store);
	rm_rf(f->dir);
	free(f);
	return 0;
}

/* Decodes JSON text into obj (which the caller initialised). */
static int decode(struct fx *f, const struct model *m, const char *text, bool create, void *obj,
		  bool *mask, struct api_error *e)
{
	json_error_t jerr;
	json_t *in = json_loads(text, JSON_DECODE_ANY, &jerr);
	int r;
	if (!in)
		fail_msg("bad JSON in test: %s: %s", text, jerr.text);
	memset(e, 0, sizeof(*e));
	r = codec_decode(&f->api, m, in, create, obj, mask, e);
	json_decref(in);
	return r;
}

/* Decodes text as a new node (on top of the defaults); expects a refusal. */
static void expect_node_error(struct fx *f, const char *text, bool create, unsigned status, const char *code,
			      const char *field)
{
	struct bw_node n;
	bool mask[MODEL_MAX_FIELDS];
	struct api_error e;

	model_init(&model_node, &n);
	if (decode(f, &model_node, text, create, &n, mask, &e) != -EINVAL)
		fail_msg("%s accepted", text);
	if (e.status != status || !e.code || strcmp(e.code, code) != 0 || strcmp(e.field, field) != 0)
		fail_msg("%s: got %u %s field \"%s\" (%s), expected %u %s field \"%s\"", text, e.status,
			 e.code ? e.code : "(null)", e.field, e.message, status, code, field);
	assert_true(e.message[0] != '\0');
}

/* Decodes text as a new node; expects success. */
static void decode_node(struct fx *f, const char *text, bool create, struct bw_node *n, bool *mask)
{
	struct api_error e;
	model_init(&model_node, n);
	if (decode(f, &model_node, text, create, n, mask, &e) != 0)
		fail_msg("%s refused: %s %s: %s", text, e.code, e.field, e.message);
}

static bool masked(const struct model *m, const bool *mask, const char *name)
{
	const struct field *fl = model_field(m, name);
	assert_non_null(fl);
	return mask[fl - m->fields];
}

/* ---- refusals ---- */

static void test_unknown_field(void **state)
{
	struct fx *f = *state;
	struct api_error e;
	struct bw_image_version v;
	bool mask[MODEL_MAX_FIELDS];

	expect_node_error(f, "{\"name\":\"n1\",\"mac\":\"52:54:00:12:34:56\",\"colour\":\"red\"}", true, 400,
			  "unknown_field", "colour");
	expect_node_error(f, "{\"colour\":\"red\"}", false, 400, "unknown_field", "colour");
	expect_node_error(f, "{\"bmc_password_set\":true}", false, 400, "unknown_field", "bmc_password_set");
	/* Internal fields do not exist for clients. */
	model_init(&model_image_version, &v);
	assert_int_equal(decode(f, &model_image_version, "{\"artifact\":\"x\"}", false, &v, mask, &e), -EINVAL);
	assert_string_equal(e.code, "unknown_field");
	assert_string_equal(e.field, "artifact");
	assert_int_equal(e.status, 400);
}

static void test_not_an_object(void **state)
{
	struct fx *f = *state;
	expect_node_error(f, "[1,2]", true, 400, "bad_json", "");
	expect_node_error(f, "\"node\"", false, 400, "bad_json", "");
}

static void test_read_only_field(void **state)
{
	struct fx *f = *state;
	expect_node_error(f, "{\"state\":\"active\"}", false, 400, "read_only_field", "state");
	expect_node_error(f, "{\"id\":5}", false, 400, "read_only_field", "id");
	expect_node_error(f, "{\"name\":\"n1\",\"mac\":\"52:54:00:12:34:56\",\"id\":5}", true, 400,
			  "read_only_field", "id");
	expect_node_error(f, "{\"created_at\":\"2026-01-01T00:00:00Z\"}", false, 400, "read_only_field",
			  "created_at");
}

static void test_immutable_field(void **state)
{
	struct fx *f = *state;
	struct bw_node n;
	bool mask[MODEL_MAX_FIELDS];

	expect_node_error(f, "{\"name\":\"n2\"}", false, 400, "immutable_field", "name");
	/* At creation it is fine. */
	decode_node(f, "{\"name\":\"n2\",\"mac\":\"52:54:00:12:34:56\"}", true, &n, mask);
	assert_string_equal(n.name, "n2");
}

static void test_missing_field(void **state)
{
	struct fx *f = *state;
	struct bw_node n;
	bool mask[MODEL_MAX_FIELDS];

	expect_node_error(f, "{\"name\":\"n1\"}", true, 400, "missing_field", "mac");
	expect_node_error(f, "{\"mac\":\"52:54:00:12:34:56\"}", true, 400, "missing_field", "name");
	expect_node_error(f, "{}", true, 400, "missing_field", "name");
	/* An update needs nothing. */
	decode_node(f, "{}", false, &n, mask);
	for (size_t i = 0; i < model_node.n_fields; i++)
		assert_false(mask[i]);
}

static void test_wrong_type(void **state)
{
	struct fx *f = *state;
	expect_node_error(f, "{\"update_domain\":\"2\"}", false, 400, "wrong_type", "update_domain");
	expect_node_error(f, "{\"update_domain\":2.5}", false, 400, "wrong_type", "update_domain");
	expect_node_error(f, "{\"update_domain\":true}", false, 400, "wrong_type", "update_domain");
	expect_node_error(f, "{\"update_domain\":null}", false, 400, "wrong_type", "update_domain");
	expect_node_error(f, "{\"mac\":5}", false, 400, "wrong_type", "mac");
	expect_node_error(f, "{\"bmc_insecure_tls\":\"yes\"}", false, 400, "wrong_type", "bmc_insecure_tls");
	expect_node_error(f, "{\"bmc_insecure_tls\":1}", false, 400, "wrong_type", "bmc_insecure_tls");
	expect_node_error(f, "{\"zone\":3}", false, 400, "wrong_type", "zone");
	expect_node_error(f, "{\"bmc_password\":123}", false, 400, "wrong_type", "bmc_password");
	expect_node_error(f, "{\"bmc_address\":null}", false, 400, "wrong_type", "bmc_address");
	expect_node_error(f, "{\"data_disks\":\"/dev/sdb\"}", false, 400, "wrong_type", "data_disks");
}

static void test_update_domain_range(void **state)
{
	struct fx *f = *state;
	struct bw_node n;
	bool mask[MODEL_MAX_FIELDS];

	expect_node_error(f, "{\"update_domain\":20}", false, 422, "out_of_range", "update_domain");
	expect_node_error(f, "{\"update_domain\":-1}", false, 422, "out_of_range", "update_domain");
	expect_node_error(f, "{\"name\":\"n1\",\"mac\":\"52:54:00:12:34:56\",\"update_domain\":20}", true, 422,
			  "out_of_range", "update_domain");
	decode_node(f, "{\"update_domain\":19}", false, &n, mask);
	assert_int_equal(n.update_domain, 19);
	assert_true(masked(&model_node, mask, "update_domain"));
	assert_false(masked(&model_node, mask, "name"));
	decode_node(f, "{\"update_domain\":0}", false, &n, mask);
	assert_int_equal(n.update_domain, 0);
}

static void test_max_batch_percent(void **state)
{
	struct fx *f = *state;
	struct bw_pool p;
	bool mask[MODEL_MAX_FIELDS];
	struct api_error e;

	model_init(&model_pool, &p);
	assert_int_equal(p.max_batch_percent, 20);
	assert_int_equal(decode(f, &model_pool, "{\"max_batch_percent\":0}", false, &p, mask, &e), -EINVAL);
	assert_int_equal(e.status, 422);
	assert_string_equal(e.code, "out_of_range");
	assert_string_equal(e.field, "max_batch_percent");
	assert_non_null(strstr(e.message, "1..100"));
	assert_int_equal(decode(f, &model_pool, "{\"max_batch_percent\":101}", false, &p, mask, &e), -EINVAL);
	assert_string_equal(e.code, "out_of_range");

	model_init(&model_pool, &p);
	assert_int_equal(decode(f, &model_pool, "{\"max_batch_percent\":1}", false, &p, mask, &e), 0);
	assert_int_equal(p.max_batch_percent, 1);
	assert_int_equal(decode(f, &model_pool, "{\"max_batch_percent\":100}", false, &p, mask, &e), 0);
	assert_int_equal(p.max_batch_percent, 100);

	/* A whole new pool: the image is a reference by name. */
	model_init(&model_pool, &p);
	assert_int_equal(decode(f, &model_pool, "{\"name\":\"web\",\"image\":\"os-base\",\"max_batch_percent\":50}",
				true, &p, mask, &e),
			 0);
	assert_int_equal(p.image, f->image);
	assert_int_equal(p.max_batch_percent, 50);
	assert_string_equal(p.image_version, "latest");
	model_init(&model_pool, &p);
	assert_int_equal(decode(f, &model_pool, "{\"name\":\"web\"}", true, &p, mask, &e), -EINVAL);
	assert_string_equal(e.code, "missing_field");
	assert_string_equal(e.field, "image");
}

static void test_bad_mac(void **state)
{
	struct fx *f = *state;
	expect_node_error(f, "{\"mac\":\"52:54:00:12:34\"}", false, 422, "invalid_value", "mac");
	expect_node_error(f, "{\"mac\":\"01:00:5e:00:00:01\"}", false, 422, "invalid_value", "mac");
	expect_node_error(f, "{\"mac\":\"00:00:00:00:00:00\"}", false, 422, "invalid_value", "mac");
	expect_node_error(f, "{\"mac\":\"52:54:00:12:34:56:78:9a:bc\"}", false, 422, "invalid_value", "mac");
	expect_node_error(f, "{\"mac\":\"\"}", false, 422, "invalid_value", "mac");
}

static void test_mac_normalised(void **state)
{
	struct fx *f = *state;
	struct bw_node n;
	bool mask[MODEL_MAX_FIELDS];

	decode_node(f, "{\"name\":\"n1\",\"mac\":\"52:54:00:AB:CD:EF\"}", true, &n, mask);
	assert_string_equal(n.mac, "52:54:00:ab:cd:ef");
	decode_node(f, "{\"mac\":\"5254.00AB.CDEF\"}", false, &n, mask);
	assert_string_equal(n.mac, "52:54:00:ab:cd:ef");
	assert_true(masked(&model_node, mask, "mac"));
}

static void test_other_invalid_values(void **state)
{
	struct fx *f = *state;
	expect_node_error(f, "{\"name\":\"Web-1\"}", true, 422, "invalid_value", "name");
	expect_node_error(f, "{\"bmc_driver\":\"ilo\"}", false, 422, "invalid_value", "bmc_driver");
	expect_node_error(f, "{\"bmc_address\":\"a b\"}", false, 422, "invalid_value", "bmc_address");
	expect_node_error(f, "{\"bmc_username\":\"a b\"}", false, 422, "invalid_value", "bmc_username");
	expect_node_error(f, "{\"os_disk\":\"sda\"}", false, 422, "invalid_value", "os_disk");
	expect_node_error(f, "{\"bmc_port\":0}", false, 422, "out_of_range", "bmc_port");
	expect_node_error(f, "{\"bmc_port\":65536}", false, 422, "out_of_range", "bmc_port");
	expect_node_error(f, "{\"fault_domain\":1024}", false, 422, "out_of_range", "fault_domain");
}

static void test_reference(void **state)
{
	struct fx *f = *state;
	struct bw_node n;
	bool mask[MODEL_MAX_FIELDS];
	json_t *out;

	expect_node_error(f, "{\"zone\":\"nope\"}", false, 422, "invalid_reference", "zone");
	expect_node_error(f, "{\"name\":\"n1\",\"mac\":\"52:54:00:12:34:56\",\"pool\":\"nope\"}", true, 422,
			  "invalid_reference", "pool");
	decode_node(f, "{\"zone\":\"z1\"}", false, &n, mask);
	assert_int_equal(n.zone, f->zone);
	out = codec_encode(&f->api, &model_node, &n);
	assert_string_equal(json_string_value(json_object_get(out, "zone")), "z1");
	assert_true(json_is_null(json_object_get(out, "pool")));
	json_decref(out);
	/* null clears a nullable reference. */
	decode_node(f, "{\"zone\":null}", false, &n, mask);
	assert_int_equal(n.zone, 0);
	assert_true(masked(&model_node, mask, "zone"));
	/* A required reference must not be null. */
	struct bw_zone z;
	struct api_error e;
	model_init(&model_zone, &z);
	assert_int_equal(decode(f, &model_zone, "{\"site\":null}", false, &z, mask, &e), -EINVAL);
	assert_string_equal(e.code, "wrong_type");
	assert_string_equal(e.field, "site");
}

static void test_data_disks(void **state)
{
	struct fx *f = *state;
	struct bw_node n;
	bool mask[MODEL_MAX_FIELDS];
	json_t *out, *disks;
	char many[1024];
	size_t len;

	decode_node(f, "{\"data_disks\":[\"/dev/sdb\",\"/dev/disk/by-id/wwn-0x5000c500a1b2c3d4\"]}", false, &n,
		    mask);
	assert_string_equal(n.data_disks, "[\"/dev/sdb\",\"/dev/disk/by-id/wwn-0x5000c500a1b2c3d4\"]");
	assert_true(masked(&model_node, mask, "data_disks"));
	out = codec_encode(&f->api, &model_node, &n);
	disks = json_object_get(out, "data_disks");
	assert_true(json_is_array(disks));
	assert_int_equal(json_array_size(disks), 2);
	assert_string_equal(json_string_value(json_array_get(disks, 0)), "/dev/sdb");
	json_decref(out);

	decode_node(f, "{\"data_disks\":[]}", false, &n, mask);
	assert_string_equal(n.data_disks, "[]");
	model_init(&model_node, &n);
	assert_string_equal(n.data_disks, "[]");

	expect_node_error(f, "{\"data_disks\":[\"sdb\"]}", false, 422, "invalid_value", "data_disks");
	expect_node_error(f, "{\"data_disks\":[\"/dev/sdb\",\"/dev/../etc/shadow\"]}", false, 422, "invalid_value",
			  "data_disks");
	expect_node_error(f, "{\"data_disks\":[1]}", false, 422, "invalid_value", "data_disks");
	expect_node_error(f, "{\"data_disks\":[null]}", false, 422, "invalid_value", "data_disks");
	expect_node_error(f, "{\"data_disks\":{\"a\":\"/dev/sdb\"}}", false, 400, "wrong_type", "data_disks");

	/* DISKS_MAX disks are fine, one more is not. */
	len = (size_t)snprintf(many, sizeof(many), "{\"data_disks\":[");
	for (int i = 0; i < DISKS_MAX; i++)
		len += (size_t)snprintf(many + len, sizeof(many) - len, "%s\"/dev/sd%c\"", i ? "," : "", 'b' + i);
	snprintf(many + len, sizeof(many) - len, "]}");
	decode_node(f, many, false, &n, mask);
	snprintf(many + len, sizeof(many) - len, ",\"/dev/sdz\"]}");
	expect_node_error(f, many, false, 422, "out_of_range", "data_disks");
}

static void test_bmc_password_sealed(void **state)
{
	struct fx *f = *state;
	struct bw_node n;
	bool mask[MODEL_MAX_FIELDS];
	char plain[BW_SECRET_PLAIN_MAX + 1], *text;
	size_t len = 0;
	json_t *out;
	const char *pw = "hunter2-very-secret";

	decode_node(f, "{\"name\":\"n1\",\"mac\":\"52:54:00:12:34:56\",\"bmc_password\":\"hunter2-very-secret\"}",
		    true, &n, mask);
	assert_true(masked(&model_node, mask, "bmc_password"));
	assert_int_equal(n.bmc_password.len, strlen(pw) + SECRET_OVERHEAD);
	assert_null(memmem(n.bmc_password.data, n.bmc_password.len, pw, strlen(pw)));
	assert_int_equal(secret_open(f->api.key, "bootwave:bmc_password", n.bmc_password.data, n.bmc_password.len,
				     plain, &len),
			 0);
	assert_int_equal(len, strlen(pw));
	assert_memory_equal(plain, pw, len);
	assert_int_equal(secret_open(f->api.key, "bootwave:bmc_username", n.bmc_password.data, n.bmc_password.len,
				     plain, &len),
			 -EBADMSG);

	out = codec_encode(&f->api, &model_node, &n);
	text = json_dumps(out, JSON_COMPACT);
	assert_non_null(text);
	assert_null(strstr(text, pw));
	assert_null(strstr(text, "hunter2"));
	assert_true(json_is_true(json_object_get(out, "bmc_password_set")));
	assert_null(json_object_get(out, "bmc_password"));
	free(text);
	json_decref(out);

	/* Stored and read back, still sealed and still opens. */
	struct store_err se = { .field = "" };
	struct bw_node got;
	assert_int_equal(store_insert(f->api.store, &model_node, &n, &se), 0);
	assert_int_equal(store_get(f->api.store, &model_node, n.id, &got), 0);
	assert_int_equal(secret_open(f->api.key, "bootwave:bmc_password", got.bmc_password.data,
				     got.bmc_password.len, plain, &len),
			 0);
	assert_memory_equal(plain, pw, len);

	/* "" clears it. */
	decode_node(f, "{\"bmc_password\":\"\"}", false, &n, mask);
	assert_int_equal(n.bmc_password.len, 0);
	out = codec_encode(&f->api, &model_node, &n);
	assert_true(json_is_false(json_object_get(out, "bmc_password_set")));
	json_decref(out);
}

static void test_bmc_password_too_long(void **state)
{
	struct fx *f = *state;
	char text[BW_SECRET_PLAIN_MAX + 64], pw[BW_SECRET_PLAIN_MAX + 2];
	struct bw_node n;
	bool mask[MODEL_MAX_FIELDS];

	memset(pw, 'p', BW_SECRET_PLAIN_MAX);
	pw[BW_SECRET_PLAIN_MAX] = '\0';
	snprintf(text, sizeof(text), "{\"bmc_password\":\"%s\"}", pw);
	decode_node(f, text, false, &n, mask);
	assert_int_equal(n.bmc_password.len, BW_SECRET_PLAIN_MAX + SECRET_OVERHEAD);
	assert_true(n.bmc_password.len <= BW_SECRET_MAX);
	pw[BW_SECRET_PLAIN_MAX] = 'p';
	pw[BW_SECRET_PLAIN_MAX + 1] = '\0';
	snprintf(text, sizeof(text), "{\"bmc_password\":\"%s\"}", pw);
	expect_node_error(f, text, false, 422, "invalid_value", "bmc_password");
}

static void test_nullable_int(void **state)
{
	struct fx *f = *state;
	struct bw_node n;
	bool mask[MODEL_MAX_FIELDS];
	json_t *out;

	decode_node(f, "{\"fault_domain\":5,\"bmc_port\":623}", false, &n, mask);
	assert_int_equal(n.fault_domain, 5);
	assert_int_equal(n.bmc_port, 623);
	out = codec_encode(&f->api, &model_node, &n);
	assert_int_equal(json_integer_value(json_object_get(out, "fault_domain")), 5);
	json_decref(out);

	n.fault_domain = 5;
	n.bmc_port = 623;
	struct api_error e;
	json_t *in = json_loads("{\"fault_domain\":null,\"bmc_port\":null}", 0, NULL);
	assert_non_null(in);
	assert_int_equal(codec_decode(&f->api, &model_node, in, false, &n, mask, &e), 0);
	json_decref(in);
	assert_true(n.fault_domain == INT_NULL);
	assert_true(n.bmc_port == INT_NULL);
	assert_true(masked(&model_node, mask, "fault_domain"));
	out = codec_encode(&f->api, &model_node, &n);
	assert_true(json_is_null(json_object_get(out, "fault_domain")));
	assert_true(json_is_null(json_object_get(out, "bmc_port")));
	json_decref(out);
}

static void test_encode_node(void **state)
{
	struct fx *f = *state;
	struct bw_node n;
	json_t *out, *v;

	model_init(&model_node, &n);
	snprintf(n.name, sizeof(n.name), "n1");
	snprintf(n.mac, sizeof(n.mac), "52:54:00:12:34:56");
	n.id = 7;
	n.created_at = 946684800;
	n.updated_at = 0;
	out = codec_encode(&f->api, &model_node, &n);
	assert_int_equal(json_integer_value(json_object_get(out, "id")), 7);
	assert_string_equal(json_string_value(json_object_get(out, "name")), "n1");
	assert_string_equal(json_string_value(json_object_get(out, "state")), "new");
	assert_string_equal(json_string_value(json_object_get(out, "bmc_driver")), "none");
	assert_string_equal(json_string_value(json_object_get(out, "created_at")), "2000-01-01T00:00:00Z");
	assert_true(json_is_null(json_object_get(out, "updated_at")));
	assert_true(json_is_false(json_object_get(out, "bmc_insecure_tls")));
	assert_true(json_is_null(json_object_get(out, "zone")));
	v = json_object_get(out, "data_disks");
	assert_true(json_is_array(v));
	assert_int_equal(json_array_size(v), 0);
	json_decref(out);
}

/* codec_decode(codec_encode(x)) of the writable fields gives x back. */
static void test_encode_decode_round_trip(void **state)
{
	struct fx *f = *state;
	struct bw_pool p, q;
	bool mask[MODEL_MAX_FIELDS];
	struct api_error e;
	json_t *out;

	model_init(&model_pool, &p);
	assert_int_equal(decode(f, &model_pool,
				"{\"name\":\"web\",\"image\":\"os-base\",\"image_version\":\"1.0~rc1\","
				"\"auto_upgrade\":true,\"max_unhealthy_percent\":0,\"pause_between_batches\":86400,"
				"\"max_per_fault_domain\":2,\"health_probe\":\"http://localhost:8080/healthz\"}",
				true, &p, mask, &e),
			 0);
	out = codec_encode(&f->api, &model_pool, &p);
	for (size_t i = 0; i < model_pool.n_fields; i++)
		if (model_pool.fields[i].flags & F_RO)
			json_object_del(out, model_pool.fields[i].name);
	model_init(&model_pool, &q);
	assert_int_equal(codec_decode(&f->api, &model_pool, out, true, &q, mask, &e), 0);
	json_decref(out);
	assert_string_equal(q.name, "web");
	assert_int_equal(q.image, p.image);
	assert_string_equal(q.image_version, "1.0~rc1");
	assert_true(q.auto_upgrade);
	assert_true(q.auto_rollback);
	assert_int_equal(q.max_unhealthy_percent, 0);
	assert_int_equal(q.pause_between_batches, 86400);
	assert_int_equal(q.max_per_fault_domain, 2);
	assert_int_equal(q.health_timeout, 300);
	assert_string_equal(q.health_probe, "http://localhost:8080/healthz");
}

static void test_probe_and_versionref(void **state)
{
	struct fx *f = *state;
	struct bw_pool p;
	bool mask[MODEL_MAX_FIELDS];
	struct api_error e;
	static const char *const ok[] = { "{\"health_probe\":\"\"}", "{\"health_probe\":\"tcp:22\"}",
					  "{\"health_probe\":\"https://10.0.0.1/x\"}", "{\"image_version\":\"latest\"}",
					  "{\"image_version\":\"v10\"}" };
	static const char *const bad[] = { "{\"health_probe\":\"tcp:0\"}", "{\"health_probe\":\"tcp:\"}",
					   "{\"health_probe\":\"http://\"}", "{\"health_probe\":\"ftp://x/\"}",
					   "{\"health_probe\":\"http:///x\"}", "{\"image_version\":\"-1\"}",
					   "{\"image_version\":\"1 0\"}" };

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		model_init(&model_pool, &p);
		if (decode(f, &model_pool, ok[i], false, &p, mask, &e) != 0)
			fail_msg("%s refused: %s", ok[i], e.message);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		model_init(&model_pool, &p);
		if (decode(f, &model_pool, bad[i], false, &p, mask, &e) != -EINVAL)
			fail_msg("%s accepted", bad[i]);
		assert_string_equal(e.code, "invalid_value");
		assert_int_equal(e.status, 422);
	}
}

/* ---- times ---- */

static void test_parse_time(void **state)
{
	static const struct {
		const char *in;
		int64_t want;
	} ok[] = {
		{ "2000-01-01T00:00:00Z", 946684800 },
		{ "2000-01-01T00:00:00z", 946684800 },
		{ "2000-01-01T02:00:00+02:00", 946684800 },
		{ "1999-12-31T19:00:00-05:00", 946684800 },
		{ "2000-01-01T05:30:00+05:30", 946684800 },
		{ "2000-01-01T00:00:00.123Z", 946684800 },
		{ "2000-01-01T00:00:00.5+00:00", 946684800 },
		{ "1970-01-01T00:00:00Z", 0 },
		{ "2027-01-31T12:00:00Z", 1801396800 },
	};
	static const char *const bad[] = { "",
					   "garbage",
					   "2000-01-01",
					   "2000-01-01T00:00:00",
					   "2000-01-01T00:00:00+0200",
					   "2000-01-01T00:00:00+02",
					   "2000-01-01T00:00:00Zjunk",
					   "2000-01-01T00:00:00+02:00x",
					   "2000-01-01T00:00Z",
					   "2000-13-01T00:00:00Z",
					   "2000-01-01X00:00:00Z",
					   "now" };
	int64_t t;
	(void)state;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		t = -1;
		if (codec_parse_time(ok[i].in, &t) != 0)
			fail_msg("codec_parse_time(\"%s\") refused", ok[i].in);
		if (t != ok[i].want)
			fail_msg("codec_parse_time(\"%s\") = %lld, expected %lld", ok[i].in, (long long)t,
				 (long long)ok[i].want);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		t = 4242;
		if (codec_parse_time(bad[i], &t) != -EINVAL)
			fail_msg("codec_parse_time(\"%s\") accepted (%lld)", bad[i], (long long)t);
		assert_int_equal(t, 4242);
	}
}

/* Refuses every string in bad[]; reports all that were accepted at once. */
static void expect_time_refused(const char *const *bad, size_t n)
{
	char accepted[1024] = "";
	for (size_t i = 0; i < n; i++) {
		int64_t t = 4242;
		if (codec_parse_time(bad[i], &t) != -EINVAL)
			snprintf(accepted + strlen(accepted), sizeof(accepted) - strlen(accepted), " \"%s\" (as %lld)",
				 bad[i], (long long)t);
	}
	if (accepted[0])
		fail_msg("codec_parse_time accepted:%s", accepted);
}

/* RFC 3339 section 5.6: time-numoffset is hours 00-23 and minutes 00-59. */
static void test_parse_time_refuses_bad_offset(void **state)
{
	static const char *const bad[] = { "2000-01-01T00:00:00+24:00", "2000-01-01T00:00:00+99:99",
					   "2000-01-01T00:00:00+02:60", "2000-01-01T00:00:00-30:00" };
	(void)state;
	expect_time_refused(bad, sizeof(bad) / sizeof(bad[0]));
}

/* RFC 3339 section 5.7: the day must exist in its month (no silent roll-over into the next). */
static void test_parse_time_refuses_bad_date(void **state)
{
	static const char *const bad[] = { "2027-02-31T00:00:00Z", "2027-02-29T00:00:00Z",
					   "2027-04-31T12:00:00Z" };
	int64_t t;
	(void)state;
	/* A leap day that exists is fine. */
	assert_int_equal(codec_parse_time("2028-02-29T00:00:00Z", &t), 0);
	expect_time_refused(bad, sizeof(bad) / sizeof(bad[0]));
}

static void test_time_round_trip(void **state)
{
	char buf[32];
	int64_t t;
	static const int64_t times[] = { 0, 946684800, 1700000000, 1801396800, 4102444799 };
	(void)state;

	for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
		codec_time(times[i], buf);
		assert_int_equal(strlen(buf), 20);
		assert_int_equal(buf[19], 'Z');
		assert_int_equal(codec_parse_time(buf, &t), 0);
		assert_int_equal(t, times[i]);
	}
	codec_time(1801396800, buf);
	assert_string_equal(buf, "2027-01-31T12:00:00Z");
}

static void test_token_expiry_field(void **state)
{
	struct fx *f = *state;
	struct bw_token tok;
	bool mask[MODEL_MAX_FIELDS];
	struct api_error e;

	model_init(&model_token, &tok);
	assert_int_equal(decode(f, &model_token,
				"{\"name\":\"ci\",\"role\":\"viewer\",\"expires_at\":\"2027-01-31T13:00:00+01:00\"}",
				true, &tok, mask, &e),
			 0);
	assert_int_equal(tok.expires_at, 1801396800);
	model_init(&model_token, &tok);
	assert_int_equal(decode(f, &model_token, "{\"name\":\"ci\",\"role\":\"viewer\",\"expires_at\":\"tomorrow\"}",
				true, &tok, mask, &e),
			 -EINVAL);
	assert_string_equal(e.code, "wrong_type");
	assert_string_equal(e.field, "expires_at");
	assert_int_equal(decode(f, &model_token, "{\"name\":\"ci\",\"role\":\"root\"}", true, &tok, mask, &e),
			 -EINVAL);
	assert_string_equal(e.code, "invalid_value");
	assert_string_equal(e.field, "role");
	assert_int_equal(decode(f, &model_token, "{\"prefix\":\"bw_\"}", false, &tok, mask, &e), -EINVAL);
	assert_string_equal(e.code, "read_only_field");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_unknown_field),
		T(test_not_an_object),
		T(test_read_only_field),
		T(test_immutable_field),
		T(test_missing_field),
		T(test_wrong_type),
		T(test_update_domain_range),
		T(test_max_batch_percent),
		T(test_bad_mac),
		T(test_mac_normalised),
		T(test_other_invalid_values),
		T(test_reference),
		T(test_data_disks),
		T(test_bmc_password_sealed),
		T(test_bmc_password_too_long),
		T(test_nullable_int),
		T(test_encode_node),
		T(test_encode_decode_round_trip),
		T(test_probe_and_versionref),
		cmocka_unit_test(test_parse_time),
		cmocka_unit_test(test_parse_time_refuses_bad_offset),
		cmocka_unit_test(test_parse_time_refuses_bad_date),
		cmocka_unit_test(test_time_round_trip),
		T(test_token_expiry_field),
#undef T
	};
	log_set_level((enum log_level)(LOG_ERR_ + 1));
	return cmocka_run_group_tests_name("codec", tests, NULL, NULL);
}
