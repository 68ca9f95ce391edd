// SPDX-License-Identifier: Apache-2.0
/*
 * Image versions: streaming upload with atomic publish, listing, "latest"
 * resolution, exclusion, deletion and download (with Range).
 *
 * Upload: PUT /api/v1/images/<image>/versions/<version>?filename=F[&sha256=H]
 * [&exclude_from_latest=true][&cmdline=C][&signature=S]. The body streams
 * into a temporary directory beside its final place while its SHA-256 is
 * computed; the format comes from F's suffix and is checked against the
 * data's magic bytes. When the whole body is in and the digest matches, the
 * import (imaging/import.h) measures the content and takes the kernel and
 * initrd out of /boot, the signature S (Ed25519, hex) is checked against
 * [images] trusted_keys, and manifest.json is written. Only then does one
 * store transaction insert the version and rename the directory into
 * <image_dir>/<image>/<version>/ (artifact.<suffix>, kernel, initrd,
 * manifest.json). A cut-off upload, a wrong checksum, a failed import or a
 * crash at any point publishes nothing: temporary directories are removed
 * at the end of the request or at the next start.
 */
#include "api-internal.h"
#include "orch.h"
#include "orch_env.h"

#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "fsutil.h"
#include "import.h"
#include "manifest.h"
#include "sign.h"

#define UPLOAD_PREFIX ".upload-"
#define HEAD_LEN 512

struct upload {
	struct bw_image image;
	struct bw_image_version v;
	char expect[SHA256_HEX_LEN + 1];
	char signature[MANIFEST_SIG_HEX + 1];
	char tmp[CONFIG_PATH_MAX + 160]; /* temporary version directory */
	char file[CONFIG_PATH_MAX + 300]; /* the artifact inside it */
	char dir[CONFIG_PATH_MAX + 160]; /* final version directory */
	char image_dir[CONFIG_PATH_MAX + 80];
	int fd;
	struct sha256_ctx *sha;
	uint64_t received;
	uint8_t head[HEAD_LEN];
	size_t head_len;
	bool head_checked, moved, published;
};

static const struct {
	const char *suffix, *format, *compression;
} suffixes[] = {
	{ ".tar", "tar", "none" },     { ".tar.gz", "tar", "gzip" },  { ".tgz", "tar", "gzip" },
	{ ".tar.zst", "tar", "zstd" }, { ".tar.xz", "tar", "xz" },    { ".img", "raw", "none" },
	{ ".img.gz", "raw", "gzip" },  { ".img.zst", "raw", "zstd" }, { ".raw", "raw", "none" },
};

static int format_of(const char *filename, struct bw_image_version *v)
{
	size_t n = strlen(filename);
	/* Longest suffix first so that .tar.gz is not taken for .gz. */
	for (size_t i = 0; i < ARRAY_SIZE(suffixes); i++) {
		size_t k = strlen(suffixes[i].suffix);
		if (n > k && strcmp(filename + n - k, suffixes[i].suffix) == 0) {
			snprintf(v->format, sizeof(v->format), "%s", suffixes[i].format);
			snprintf(v->compression, sizeof(v->compression), "%s", suffixes[i].compression);
			snprintf(v->artifact, sizeof(v->artifact), "artifact%s", suffixes[i].suffix);
			return 0;
		}
	}
	return -EINVAL;
}

/* Compression named by magic bytes, "tar" for a plain tar, or NULL. */
static const char *sniff(const uint8_t *h, size_t n)
{
	if (n >= 2 && h[0] == 0x1f && h[1] == 0x8b)
		return "gzip";
	if (n >= 4 && h[0] == 0x28 && h[1] == 0xb5 && h[2] == 0x2f && h[3] == 0xfd)
		return "zstd";
	if (n >= 6 && memcmp(h, "\xfd" "7zXZ\0", 6) == 0)
		return "xz";
	if (n >= 262 && memcmp(h + 257, "ustar", 5) == 0)
		return "tar";
	return NULL;
}

/* Checks that the first bytes agree with the format the file name claims. */
static int check_head(struct request *r, struct upload *u)
{
	const char *found = sniff(u->head, u->head_len);
	const char *comp = u->v.compression;

	u->head_checked = true;
	if (!str_eq(comp, "none")) {
		if (!str_eq(found, comp))
			return api_reply_error(r, 422, "format_mismatch", "filename",
					       "filename says %s-compressed, but the data is %s", comp,
					       found ? found : "not compressed in a known way"), -EINVAL;
		return 0;
	}
	if (str_eq(u->v.format, "tar") && !str_eq(found, "tar"))
		return api_reply_error(r, 422, "format_mismatch", "filename",
				       "filename says an uncompressed tar, but the data has no tar header%s%s",
				       found ? ": it is " : "", found ? found : ""), -EINVAL;
	if (str_eq(u->v.format, "raw") && found && !str_eq(found, "tar"))
		return api_reply_error(r, 422, "format_mismatch", "filename",
				       "filename says an uncompressed raw image, but the data is %s-compressed",
				       found), -EINVAL;
	return 0;
}

int images_upload_begin(struct request *r)
{
	static const char *const allowed[] = { "filename", "sha256", "exclude_from_latest", "cmdline", "signature", NULL };
	struct api *a = r->api;
	struct upload *u;
	struct bw_image_version existing;
	const char *filename = api_query(r, "filename"), *sha = api_query(r, "sha256");
	const char *excl = api_query(r, "exclude_from_latest"), *clen = api_header(r, "Content-Length");
	const char *cmdline = api_query(r, "cmdline"), *sig = api_query(r, "signature");
	char esc[96];
	int rc;

	if (api_check_query(r, allowed) < 0)
		return 0;
	u = calloc(1, sizeof(*u));
	if (!u)
		return api_reply_error(r, 500, "internal", NULL, "out of memory");
	u->fd = -1;
	r->state = u;
	if (inventory_load(r, &model_image, 0, r->params[0], &u->image) < 0)
		return 0;
	if (!version_valid(r->params[1]))
		return api_reply_error(r, 422, "invalid_value", "version",
				       "version: \"%s\": expected 1-63 of A-Z, a-z, 0-9, '.', '+', '~', '_', '-', "
				       "starting with a letter or digit, and not \"latest\"",
				       log_escape(r->params[1], strlen(r->params[1]), esc, sizeof(esc)));
	rc = store_get_by_key(a->store, &model_image_version, u->image.id, r->params[1], &existing);
	if (rc == 0)
		return api_reply_error(r, 409, "duplicate", "version",
				       "image %s already has version %s; versions are immutable, publish a new one",
				       u->image.name, r->params[1]);
	if (!filename)
		return api_reply_error(r, 400, "missing_parameter", "filename",
				       "filename: required, its suffix gives the format (.tar, .tar.gz, .tar.zst, "
				       ".tar.xz, .img, .img.gz, .img.zst)");
	model_init(&model_image_version, &u->v);
	if (format_of(filename, &u->v) < 0)
		return api_reply_error(r, 422, "invalid_value", "filename",
				       "filename: \"%s\" has no known suffix (.tar, .tar.gz, .tar.zst, .tar.xz, "
				       ".img, .img.gz, .img.zst)",
				       log_escape(filename, strlen(filename), esc, sizeof(esc)));
	if (sha) {
		if (!sha256_hex_valid(sha))
			return api_reply_error(r, 400, "invalid_parameter", "sha256", "sha256: expected 64 hex digits");
		for (size_t i = 0; i < SHA256_HEX_LEN; i++)
			u->expect[i] = (char)tolower((unsigned char)sha[i]);
	}
	if (excl && !str_eq(excl, "true") && !str_eq(excl, "false"))
		return api_reply_error(r, 400, "invalid_parameter", "exclude_from_latest",
				       "exclude_from_latest: expected true or false");
	u->v.exclude_from_latest = str_eq(excl, "true");
	if (cmdline && (!cmdline_safe(cmdline) || strlen(cmdline) >= sizeof(u->v.cmdline)))
		return api_reply_error(r, 400, "invalid_parameter", "cmdline",
				       "cmdline: at most %zu printable characters, none of " CMDLINE_UNSAFE_CHARS,
				       sizeof(u->v.cmdline) - 1);
	snprintf(u->v.cmdline, sizeof(u->v.cmdline), "%s", cmdline ? cmdline : "");
	if (sig) {
		if (strlen(sig) != MANIFEST_SIG_HEX || strspn(sig, "0123456789abcdefABCDEF") != MANIFEST_SIG_HEX)
			return api_reply_error(r, 400, "invalid_parameter", "signature",
					       "signature: expected an Ed25519 signature as 128 hex digits");
		if (r->api->keys.n == 0)
			return api_reply_error(r, 422, "no_trusted_keys", "signature",
					       "a signature was given but no trusted key is configured ([images] "
					       "trusted_keys = %s holds no *.pem)", a->cfg->trusted_keys);
		for (size_t i = 0; i < MANIFEST_SIG_HEX; i++)
			u->signature[i] = (char)tolower((unsigned char)sig[i]);
	}
	if (clen && strtoull(clen, NULL, 10) > (unsigned long long)a->cfg->max_upload)
		return api_reply_error(r, 413, "upload_too_large", NULL,
				       "artifact of %s bytes is larger than [api] max_upload (%lld bytes)", clen,
				       (long long)a->cfg->max_upload);
	u->v.image = u->image.id;
	snprintf(u->v.version, sizeof(u->v.version), "%s", r->params[1]);
	snprintf(u->image_dir, sizeof(u->image_dir), "%s/%s", a->cfg->image_dir, u->image.name);
	snprintf(u->dir, sizeof(u->dir), "%s/%s", u->image_dir, u->v.version);
	snprintf(u->tmp, sizeof(u->tmp), "%s/" UPLOAD_PREFIX "%s-XXXXXX", u->image_dir, u->v.version);
	if ((rc = mkdir_p(u->image_dir, 0750)) < 0 || !mkdtemp(u->tmp)) {
		u->tmp[0] = '\0';
		return api_reply_error(r, 507, "insufficient_storage", NULL, "cannot create a directory in %s: %s",
				       u->image_dir, strerror(rc < 0 ? -rc : errno));
	}
	chmod(u->tmp, 0750);
	snprintf(u->file, sizeof(u->file), "%s/%s", u->tmp, u->v.artifact);
	if ((u->fd = open(u->file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640)) < 0)
		return api_reply_error(r, 507, "insufficient_storage", NULL, "cannot create %s: %s", u->file,
				       strerror(errno));
	u->sha = sha256_new();
	if (!u->sha)
		return api_reply_error(r, 500, "internal", NULL, "out of memory");
	log_info("image %s: receiving version %s (%s, %s)%s", u->image.name, u->v.version, u->v.format,
		 u->v.compression, u->expect[0] ? ", checksum given" : "");
	return 0;
}

int images_upload_chunk(struct request *r, const char *data, size_t len)
{
	struct upload *u = r->state;
	const char *p = data;
	size_t left = len;

	if (u->received + len > (uint64_t)r->api->cfg->max_upload)
		return api_reply_error(r, 413, "upload_too_large", NULL,
				       "artifact larger than [api] max_upload (%lld bytes)",
				       (long long)r->api->cfg->max_upload);
	if (u->head_len < HEAD_LEN) {
		size_t n = len < HEAD_LEN - u->head_len ? len : HEAD_LEN - u->head_len;
		memcpy(u->head + u->head_len, data, n);
		u->head_len += n;
		if (u->head_len == HEAD_LEN && check_head(r, u) < 0)
			return 0;
	}
	sha256_update(u->sha, data, len);
	while (left > 0) {
		ssize_t n = write(u->fd, p, left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return api_reply_error(r, 507, "insufficient_storage", NULL, "cannot write %s: %s",
					       u->image_dir, n < 0 ? strerror(errno) : "short write");
		p += n;
		left -= (size_t)n;
	}
	u->received += len;
	return 0;
}

/* Inside the publishing transaction: move the version directory to its final place. */
static int move_into_place(void *userdata)
{
	struct upload *u = userdata;
	int rc;

	/* The row was just inserted, so a directory of this name is a crash's leftover. */
	if ((rc = rm_rf(u->dir)) < 0)
		return rc;
	if (rename(u->tmp, u->dir) < 0)
		return -errno;
	u->moved = true;
	u->tmp[0] = '\0';
	if ((rc = fsync_dir(u->dir)) < 0 || (rc = fsync_dir(u->image_dir)) < 0)
		return rc;
	return 0;
}

/* Import, signature and manifest.json, in the temporary directory. */
static int build_manifest(struct request *r, struct upload *u)
{
	struct api *a = r->api;
	struct manifest m = { .schema = MANIFEST_SCHEMA };
	char why[512], msg[512], path[sizeof(u->tmp) + 16];
	_cleanup_free_ char *text = NULL;
	json_t *j;
	int rc;

	snprintf(m.image, sizeof(m.image), "%s", u->image.name);
	snprintf(m.version, sizeof(m.version), "%s", u->v.version);
	snprintf(m.format, sizeof(m.format), "%s", u->v.format);
	snprintf(m.compression, sizeof(m.compression), "%s", u->v.compression);
	m.artifact.present = true;
	snprintf(m.artifact.file, sizeof(m.artifact.file), "%.63s", u->v.artifact);
	m.artifact.size = u->received;
	snprintf(m.artifact.sha256, sizeof(m.artifact.sha256), "%s", u->v.sha256);
	snprintf(m.cmdline, sizeof(m.cmdline), "%s", u->v.cmdline);
	rc = import_inspect(u->tmp, &m, (uint64_t)a->cfg->max_content, why, sizeof(why));
	if (rc < 0)
		return api_reply_error(r, rc == -EFBIG ? 413 : 422, rc == -EFBIG ? "image_too_large" : "import_failed",
				       NULL, "%s@%s: %s; nothing was published", u->image.name, u->v.version, why),
		       rc;
	if (u->signature[0]) {
		snprintf(m.signature, sizeof(m.signature), "%s", u->signature);
		if (manifest_signed_message(&m, msg, sizeof(msg)) < 0 ||
		    sign_verify(&a->keys, msg, strlen(msg), m.signature, m.signing_key) < 0)
			return api_reply_error(r, 422, "signature_invalid", "signature",
					       "the signature of %s@%s does not verify with any of the %zu trusted keys "
					       "(it must sign the message of docs/operator-guide.md, \"Signed images\"); "
					       "nothing was published",
					       u->image.name, u->v.version, a->keys.n),
			       -EBADMSG;
		snprintf(u->v.signing_key, sizeof(u->v.signing_key), "%s", m.signing_key);
	}
	u->v.content_size = (int64_t)m.content_size;
	j = manifest_to_json(&m);
	text = j ? json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
	json_decref(j);
	snprintf(path, sizeof(path), "%s/manifest.json", u->tmp);
	if (!text || (rc = write_file_atomic(path, text, strlen(text), 0640)) < 0 || (rc = fsync_dir(u->tmp)) < 0)
		return api_reply_error(r, 507, "insufficient_storage", NULL, "cannot write the manifest: %s",
				       strerror(text ? -rc : ENOMEM)),
		       -EIO;
	log_info("image %s: version %s imported: %llu bytes of content, kernel %s, initrd %s%s%s", u->image.name,
		 u->v.version, (unsigned long long)m.content_size, m.kernel.source,
		 m.initrd.present ? m.initrd.source : "(none)", m.signing_key[0] ? ", signed by key " : "",
		 m.signing_key);
	return 0;
}

int images_upload_end(struct request *r)
{
	struct upload *u = r->state;
	struct store_err se = { .field = "" };
	char got[SHA256_HEX_LEN + 1];
	int rc;

	if (u->received == 0)
		return api_reply_error(r, 400, "empty_upload", NULL, "the artifact is empty; nothing was published");
	if (!u->head_checked && check_head(r, u) < 0)
		return 0;
	sha256_final_hex(u->sha, got);
	if (u->expect[0] && strcmp(got, u->expect) != 0)
		return api_reply_error(r, 422, "checksum_mismatch", "sha256",
				       "sha256 of the received %llu bytes is %s, not %s; nothing was published",
				       (unsigned long long)u->received, got, u->expect);
	if (fsync(u->fd) < 0 || close(u->fd) < 0) {
		u->fd = -1;
		return api_reply_error(r, 507, "insufficient_storage", NULL, "cannot sync the artifact: %s",
				       strerror(errno));
	}
	u->fd = -1;
	u->v.size = (int64_t)u->received;
	snprintf(u->v.sha256, sizeof(u->v.sha256), "%s", got);
	if (build_manifest(r, u) < 0)
		return 0;
	rc = store_version_publish(r->api->store, &u->v, move_into_place, u, &se);
	if (rc < 0) {
		if (u->moved)
			rm_rf(u->dir);
		if (rc == -EEXIST)
			return api_reply_error(r, 409, "duplicate", "version",
					       "image %s already has version %s (published meanwhile)", u->image.name,
					       u->v.version);
		return api_reply_error(r, 500, "internal", NULL, "publishing failed: %s", se.message);
	}
	u->published = true;
	log_info("image %s: published version %s, %llu bytes, sha256 %s", u->image.name, u->v.version,
		 (unsigned long long)u->received, got);
	/* Pools following latest with auto_upgrade roll to it (when it is their latest). */
	if (orch_published(orch_rt_orch(r->api->orch), u->image.id, u->v.version) > 0)
		orch_rt_poke(r->api->orch);
	return api_reply_json(r, 201, codec_encode(r->api, &model_image_version, &u->v));
}

void images_upload_done(struct request *r, bool completed)
{
	struct upload *u = r->state;

	if (!u)
		return;
	if (u->fd >= 0)
		close(u->fd);
	if (u->tmp[0])
		rm_rf(u->tmp);
	if (!u->published && !completed && !r->replied)
		log_warn("image %s: upload of version %s cut off after %llu bytes; nothing was published",
			 u->image.name, u->v.version, (unsigned long long)u->received);
	sha256_free(u->sha);
	free(u);
	r->state = NULL;
}

/* ---- versions ---- */

/* Loads params[0] as image and params[1] as one of its versions ("latest" resolves). */
static int load_version(struct request *r, struct bw_image *img, struct bw_image_version *v)
{
	int rc;

	if (inventory_load(r, &model_image, 0, r->params[0], img) < 0)
		return -ENOENT;
	if (!str_eq(r->params[1], "latest"))
		return inventory_load(r, &model_image_version, img->id, r->params[1], v);
	rc = store_version_latest(r->api->store, img->id, v);
	if (rc == -ENOENT)
		api_reply_error(r, 404, "not_found", NULL,
				"image %s has no version for latest (none published, or all excluded)", img->name);
	else if (rc < 0)
		api_reply_error(r, 503, "unavailable", NULL, "store failed");
	return rc;
}

int images_version_get(struct request *r)
{
	struct bw_image img;
	struct bw_image_version v;

	if (load_version(r, &img, &v) < 0)
		return 0;
	return api_reply_json(r, 200, codec_encode(r->api, &model_image_version, &v));
}

int images_version_update(struct request *r)
{
	struct bw_image img;
	struct bw_image_version v;
	bool mask[MODEL_MAX_FIELDS];
	struct api_error e;
	struct store_err se = { .field = "" };
	int rc;

	if (str_eq(r->params[1], "latest"))
		return api_reply_error(r, 400, "invalid_value", "version",
				       "name the version to change; \"latest\" moves when versions change");
	if (load_version(r, &img, &v) < 0)
		return 0;
	if (codec_decode(r->api, &model_image_version, r->json, false, &v, mask, &e) < 0)
		return api_reply_api_error(r, &e);
	rc = store_update(r->api->store, &model_image_version, &v, mask, &se);
	if (rc < 0)
		return inventory_reply_store_error(r, &model_image_version, v.version, rc, &se);
	log_info("image %s: version %s updated by token %s (exclude_from_latest=%s)", img.name, v.version,
		 r->token.name, v.exclude_from_latest ? "true" : "false");
	if (!v.exclude_from_latest && orch_published(orch_rt_orch(r->api->orch), img.id, v.version) > 0)
		orch_rt_poke(r->api->orch);
	return api_reply_json(r, 200, codec_encode(r->api, &model_image_version, &v));
}

int images_version_delete(struct request *r)
{
	struct bw_image img;
	struct bw_image_version v;
	struct store_err se = { .field = "" };
	char pool[NAME_MAX_LEN + 1], dir[CONFIG_PATH_MAX + 160];
	int rc;

	if (str_eq(r->params[1], "latest"))
		return api_reply_error(r, 400, "invalid_value", "version", "name the version to delete");
	if (load_version(r, &img, &v) < 0)
		return 0;
	if (store_version_pinned_by(r->api->store, img.id, v.version, pool, sizeof(pool)) == 0)
		return api_reply_error(r, 409, "in_use", NULL, "pool %s is pinned to %s@%s; re-pin it first", pool,
				       img.name, v.version);
	rc = store_delete(r->api->store, &model_image_version, v.id, &se);
	if (rc < 0)
		return inventory_reply_store_error(r, &model_image_version, v.version, rc, &se);
	/* The row is gone first: a crash here leaves files that images_cleanup removes. */
	snprintf(dir, sizeof(dir), "%s/%s/%s", r->api->cfg->image_dir, img.name, v.version);
	rm_rf(dir);
	log_info("image %s: version %s deleted by token %s", img.name, v.version, r->token.name);
	return api_reply_empty(r, 204);
}

int images_version_download(struct request *r)
{
	struct bw_image img;
	struct bw_image_version v;
	char path[CONFIG_PATH_MAX + 300], etag[SHA256_HEX_LEN + 3];

	if (load_version(r, &img, &v) < 0)
		return 0;
	snprintf(path, sizeof(path), "%s/%s/%s/%s", r->api->cfg->image_dir, img.name, v.version, v.artifact);
	snprintf(etag, sizeof(etag), "\"%s\"", v.sha256);
	return api_reply_file(r, path, "application/octet-stream", etag);
}

/* ---- start-up cleanup ---- */

/* True if dir holds nothing but what a published version holds. */
static bool looks_like_version_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	bool ok = d != NULL;

	while (ok && (de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") &&
		    (de->d_type != DT_REG ||
		     (strncmp(de->d_name, "artifact", 8) != 0 && !str_eq(de->d_name, "kernel") &&
		      !str_eq(de->d_name, "initrd") && !str_eq(de->d_name, "manifest.json") &&
		      !str_eq(de->d_name, ".raw-inspect"))))
			ok = false;
	if (d)
		closedir(d);
	return ok;
}

int images_cleanup(struct api *a)
{
	DIR *top, *d;
	struct dirent *ie, *ve;
	char path[CONFIG_PATH_MAX + 2 * 256 + 8];
	int rc;

	if ((rc = mkdir_p(a->cfg->image_dir, 0750)) < 0) {
		log_error("images: cannot create %s: %s", a->cfg->image_dir, strerror(-rc));
		return rc;
	}
	top = opendir(a->cfg->image_dir);
	if (!top)
		return -errno;
	while ((ie = readdir(top))) {
		struct bw_image img;
		bool known;
		if (ie->d_type != DT_DIR || !name_valid(ie->d_name))
			continue;
		known = store_get_by_key(a->store, &model_image, 0, ie->d_name, &img) == 0;
		snprintf(path, sizeof(path), "%s/%s", a->cfg->image_dir, ie->d_name);
		d = opendir(path);
		if (!d)
			continue;
		while ((ve = readdir(d))) {
			struct bw_image_version v;
			snprintf(path, sizeof(path), "%s/%s/%s", a->cfg->image_dir, ie->d_name, ve->d_name);
			if (strncmp(ve->d_name, UPLOAD_PREFIX, strlen(UPLOAD_PREFIX)) == 0) {
				log_info("images: removing unfinished upload %s", path);
				rm_rf(path);
				continue;
			}
			if (ve->d_type != DT_DIR || !version_valid(ve->d_name))
				continue;
			if (known && store_get_by_key(a->store, &model_image_version, img.id, ve->d_name, &v) == 0)
				continue;
			if (!looks_like_version_dir(path)) {
				log_warn("images: %s belongs to no published version but holds other files; left alone",
					 path);
				continue;
			}
			log_info("images: removing %s, which no published version owns", path);
			rm_rf(path);
		}
		closedir(d);
	}
	closedir(top);
	return 0;
}
