// SPDX-License-Identifier: Apache-2.0
/*
 * Manifest of an image version: strict decoding from JSON (the agent reads
 * it from the network), encoding, and the message a signature covers.
 */
#include "manifest.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "crypto.h"
#include "util.h"

bool manifest_compression_valid(const char *format, const char *compression)
{
	if (str_eq(compression, "none") || str_eq(compression, "gzip") || str_eq(compression, "zstd"))
		return str_eq(format, "tar") || str_eq(format, "raw");
	return str_eq(compression, "xz") && str_eq(format, "tar");
}

/* Copies a string member into buf[size]; absent is "" when optional. */
static int get_str(const json_t *o, const char *key, bool required, char *buf, size_t size)
{
	const json_t *v = json_object_get(o, key);

	if (!v) {
		if (required)
			return -EINVAL;
		buf[0] = '\0';
		return 0;
	}
	if (!json_is_string(v) || json_string_length(v) >= size || strlen(json_string_value(v)) != json_string_length(v))
		return -EINVAL;
	memcpy(buf, json_string_value(v), json_string_length(v) + 1);
	return 0;
}

static int get_size(const json_t *o, const char *key, uint64_t *ret)
{
	const json_t *v = json_object_get(o, key);

	if (!json_is_integer(v) || json_integer_value(v) < 0 || (uint64_t)json_integer_value(v) > MANIFEST_SIZE_MAX)
		return -EINVAL;
	*ret = (uint64_t)json_integer_value(v);
	return 0;
}

static bool only_keys(const json_t *o, const char *const *keys)
{
	const char *k;
	const json_t *v;

	json_object_foreach((json_t *)o, k, v) {
		bool ok = false;
		for (size_t i = 0; keys[i]; i++)
			ok |= str_eq(k, keys[i]);
		if (!ok)
			return false;
	}
	return true;
}

/* A plain file name of the version directory: [a-z0-9._-], no leading dot. */
static bool file_name_ok(const char *s)
{
	return *s && *s != '.' && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789._-") == strlen(s);
}

/* A path inside an image: printable, relative, no ".." component. */
static bool source_ok(const char *s)
{
	if (*s == '/')
		return false;
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return false;
	for (const char *p = s; *p;) {
		size_t n = strcspn(p, "/");
		if (n == 2 && p[0] == '.' && p[1] == '.')
			return false;
		p += n;
		p += *p == '/';
	}
	return true;
}

static bool hex_ok(const char *s, size_t n)
{
	return strlen(s) == n && strspn(s, "0123456789abcdef") == n;
}

/* Field names for messages, per artifact ("kernel.sha256"). */
struct file_names {
	const char *key, *file, *size, *sha256, *source;
};
static const struct file_names artifact_names = { "artifact", "artifact.file", "artifact.size", "artifact.sha256",
						  "artifact.source" };
static const struct file_names kernel_names = { "kernel", "kernel.file", "kernel.size", "kernel.sha256",
						"kernel.source" };
static const struct file_names initrd_names = { "initrd", "initrd.file", "initrd.size", "initrd.sha256",
						"initrd.source" };

static int get_file(const json_t *o, const struct file_names *n, bool required, struct manifest_file *ret,
		    const char **why)
{
	static const char *const keys[] = { "file", "size", "sha256", "source", NULL };
	const json_t *f = json_object_get(o, n->key);

	memset(ret, 0, sizeof(*ret));
	if (!f || json_is_null(f)) {
		if (required)
			return *why = n->key, -EINVAL;
		return 0;
	}
	if (!json_is_object(f) || !only_keys(f, keys))
		return *why = n->key, -EINVAL;
	if (get_str(f, "file", true, ret->file, sizeof(ret->file)) < 0 || !file_name_ok(ret->file))
		return *why = n->file, -EINVAL;
	if (get_size(f, "size", &ret->size) < 0)
		return *why = n->size, -EINVAL;
	if (get_str(f, "sha256", true, ret->sha256, sizeof(ret->sha256)) < 0 || !hex_ok(ret->sha256, 64))
		return *why = n->sha256, -EINVAL;
	if (get_str(f, "source", false, ret->source, sizeof(ret->source)) < 0 || !source_ok(ret->source))
		return *why = n->source, -EINVAL;
	ret->present = true;
	return 0;
}

int manifest_from_json(const json_t *o, struct manifest *ret, const char **ret_why)
{
	static const char *const keys[] = { "schema", "image", "version", "format", "compression", "artifact",
					    "kernel", "initrd", "content_size", "entries", "cmdline", "signature",
					    "signing_key", NULL };
	struct manifest m;
	const char *why = NULL, *dummy;
	const json_t *schema = json_object_get(o, "schema");
	int r = -EINVAL;

	if (!ret_why)
		ret_why = &dummy;
	memset(&m, 0, sizeof(m));
	if (!json_is_object(o)) {
		why = "manifest (not a JSON object)";
		goto fail;
	}
	if (!only_keys(o, keys)) {
		why = "manifest (unknown field)";
		goto fail;
	}
	if (!json_is_integer(schema) || json_integer_value(schema) != MANIFEST_SCHEMA) {
		why = "schema";
		goto fail;
	}
	m.schema = MANIFEST_SCHEMA;
	if (get_str(o, "image", true, m.image, sizeof(m.image)) < 0 || !name_valid(m.image)) {
		why = "image";
		goto fail;
	}
	if (get_str(o, "version", true, m.version, sizeof(m.version)) < 0 || !version_valid(m.version)) {
		why = "version";
		goto fail;
	}
	if (get_str(o, "format", true, m.format, sizeof(m.format)) < 0 ||
	    (!str_eq(m.format, "tar") && !str_eq(m.format, "raw"))) {
		why = "format";
		goto fail;
	}
	if (get_str(o, "compression", true, m.compression, sizeof(m.compression)) < 0 ||
	    !manifest_compression_valid(m.format, m.compression)) {
		why = "compression";
		goto fail;
	}
	if (get_file(o, &artifact_names, true, &m.artifact, &why) < 0 ||
	    get_file(o, &kernel_names, false, &m.kernel, &why) < 0 ||
	    get_file(o, &initrd_names, false, &m.initrd, &why) < 0)
		goto fail;
	if (get_size(o, "content_size", &m.content_size) < 0) {
		why = "content_size";
		goto fail;
	}
	if (json_object_get(o, "entries") && get_size(o, "entries", &m.entries) < 0) {
		why = "entries";
		goto fail;
	}
	if (get_str(o, "cmdline", false, m.cmdline, sizeof(m.cmdline)) < 0 || !cmdline_safe(m.cmdline)) {
		why = "cmdline";
		goto fail;
	}
	if (get_str(o, "signature", false, m.signature, sizeof(m.signature)) < 0 ||
	    (m.signature[0] && !hex_ok(m.signature, MANIFEST_SIG_HEX))) {
		why = "signature";
		goto fail;
	}
	if (get_str(o, "signing_key", false, m.signing_key, sizeof(m.signing_key)) < 0 ||
	    (m.signing_key[0] && !hex_ok(m.signing_key, MANIFEST_KEYID_HEX))) {
		why = "signing_key";
		goto fail;
	}
	*ret = m;
	return 0;
fail:
	*ret_why = why;
	return r;
}

int manifest_parse(const char *text, size_t len, struct manifest *ret, const char **ret_why)
{
	json_error_t err;
	json_t *o;
	int r;

	if (len > MANIFEST_TEXT_MAX) {
		if (ret_why)
			*ret_why = "manifest (too large)";
		return -EINVAL;
	}
	o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
	if (!o) {
		if (ret_why)
			*ret_why = "manifest (not valid JSON)";
		return -EINVAL;
	}
	r = manifest_from_json(o, ret, ret_why);
	json_decref(o);
	return r;
}

static json_t *file_json(const struct manifest_file *f)
{
	if (!f->present)
		return json_null();
	return json_pack("{s:s, s:I, s:s, s:s}", "file", f->file, "size", (json_int_t)f->size, "sha256", f->sha256,
			 "source", f->source);
}

json_t *manifest_to_json(const struct manifest *m)
{
	json_t *o = json_pack("{s:i, s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:I, s:I, s:s}", "schema", m->schema,
			      "image", m->image, "version", m->version, "format", m->format, "compression",
			      m->compression, "artifact", file_json(&m->artifact), "kernel", file_json(&m->kernel),
			      "initrd", file_json(&m->initrd), "content_size", (json_int_t)m->content_size,
			      "entries", (json_int_t)m->entries, "cmdline", m->cmdline);

	if (o && m->signature[0] &&
	    (json_object_set_new(o, "signature", json_string(m->signature)) < 0 ||
	     json_object_set_new(o, "signing_key", json_string(m->signing_key)) < 0)) {
		json_decref(o);
		return NULL;
	}
	return o;
}

int manifest_signed_message(const struct manifest *m, char *buf, size_t size)
{
	int n = snprintf(buf, size, "bootwave-image-signature-v1\n%s\n%s\n%s\n%s\n%llu\n%s\n", m->image, m->version,
			 m->format, m->compression, (unsigned long long)m->artifact.size, m->artifact.sha256);

	return n < 0 || (size_t)n >= size ? -ENOBUFS : n;
}
