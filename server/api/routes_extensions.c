// SPDX-License-Identifier: Apache-2.0
/*
 * Extension versions (DESIGN.md, "Extensions"): streamed upload of a script
 * bundle, its normalization into one canonical tar, atomic publish,
 * listing, deletion (refused while a pool uses the version), download, and
 * the reading of a published bundle by the extension runner.
 *
 * Upload: PUT /api/v1/extensions/<name>/versions/<version>[?entry=E]. The
 * version is MAJOR.MINOR[.PATCH] (lib/extver.h). The body, any archive of
 * imaging/bundle.h, streams into <ext_dir>/<name>/.upload-<version>-XXXXXX/
 * (at most [extensions] max_bundle bytes). Once it is in, bundle_normalize
 * checks every entry and writes the normalized tar beside it; then one store
 * transaction inserts the version and renames the tar to
 * <ext_dir>/<name>/<version>.tar, committing only once the rename is synced.
 * A refused, cut-off or crashed upload publishes nothing: its temporary
 * directory goes at the end of the request, or, after a crash, at the next
 * upload to the same extension or the next start. Each live upload holds an
 * flock on its directory, which is how a sweep tells a live one from a
 * crash's leftover. A tar without a row (crash between rename and commit)
 * is removed at the next start; a row never exists without its file.
 */
#include "routes_extensions.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "bundle.h"
#include "extver.h"
#include "fsutil.h"
#include "orch.h"
#include "orch_env.h"

#define UPLOAD_PREFIX ".upload-"
#define BUNDLE_SUFFIX ".tar"

struct ext_upload {
	struct bw_extension ext;
	struct bw_extension_version v;
	char dir[CONFIG_PATH_MAX + 80];     /* <ext_dir>/<name> */
	char tmp[CONFIG_PATH_MAX + 160];    /* dir/.upload-<version>-XXXXXX */
	char body[CONFIG_PATH_MAX + 180];   /* tmp/body: the upload as it came */
	char bundle[CONFIG_PATH_MAX + 180]; /* tmp/bundle.tar: normalized */
	char final[CONFIG_PATH_MAX + 220];  /* dir/<version>.tar */
	int fd;   /* body */
	int lock; /* tmp, flocked while the upload lives */
	uint64_t received;
	bool moved, published;
};

/* Serialises creating (and locking) upload directories with sweeping them. */
static pthread_mutex_t sweep_lock = PTHREAD_MUTEX_INITIALIZER;

/* Removes the .upload-* directories under dir that no live upload holds. */
static void sweep_uploads(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char path[CONFIG_PATH_MAX + 2 * 256 + 8];

	if (!d)
		return;
	while ((de = readdir(d))) {
		int fd;
		if (strncmp(de->d_name, UPLOAD_PREFIX, strlen(UPLOAD_PREFIX)) != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			continue;
		/* A live upload holds the lock (flock conflicts across open files, even in one process). */
		if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
			log_info("extensions: removing unfinished upload %s", path);
			rm_rf(path);
		}
		close(fd);
	}
	closedir(d);
}

/* clen: the Content-Length, or NULL once the body is past the limit. */
static int reply_too_large(struct request *r, const char *clen)
{
	char esc[32];
	return api_reply_error(r, 413, "upload_too_large", NULL,
			       "bundle upload%s%s%s is larger than [extensions] max_bundle (%lld bytes); nothing was "
			       "published",
			       clen ? " of " : "", clen ? log_escape(clen, strlen(clen), esc, sizeof(esc)) : "",
			       clen ? " bytes" : "", (long long)r->api->cfg->ext_max_bundle);
}

struct same_release {
	const struct extver *want;
	char found[VERSION_MAX_LEN + 1];
};

static int same_release_cb(const void *obj, void *ud)
{
	const struct bw_extension_version *v = obj;
	struct same_release *s = ud;
	struct extver x;

	if (extver_parse(v->version, &x) == 0 && x.major == s->want->major && x.minor == s->want->minor &&
	    x.patch == s->want->patch) {
		snprintf(s->found, sizeof(s->found), "%s", v->version);
		return 1;
	}
	return 0;
}

int ext_upload_begin(struct request *r)
{
	static const char *const allowed[] = { "entry", NULL };
	struct api *a = r->api;
	struct ext_upload *u;
	struct extver ver;
	struct store_filter f = { .field = model_field(&model_extension_version, "extension") };
	struct same_release same = { .want = &ver };
	const char *entry = api_query(r, "entry"), *clen = api_header(r, "Content-Length");
	char esc[96];
	int rc;

	if (api_check_query(r, allowed) < 0)
		return 0;
	u = calloc(1, sizeof(*u));
	if (!u)
		return api_reply_error(r, 500, "internal", NULL, "out of memory");
	u->fd = u->lock = -1;
	r->state = u;
	if (inventory_load(r, &model_extension, 0, r->params[0], &u->ext) < 0)
		return 0;
	if (extver_parse(r->params[1], &ver) < 0)
		return api_reply_error(r, 422, "invalid_value", "version",
				       "version \"%s\": expected MAJOR.MINOR or MAJOR.MINOR.PATCH, decimal digits "
				       "without leading zeros (1.2, 1.2.3, 0.10.0)",
				       log_escape(r->params[1], strlen(r->params[1]), esc, sizeof(esc)));
	if (entry && !name_valid(entry))
		return api_reply_error(r, 400, "invalid_parameter", "entry",
				       "entry \"%s\": expected the name of a file in the bundle's top directory, 1-63 "
				       "characters of a-z 0-9 - _ . starting with a letter or digit",
				       log_escape(entry, strlen(entry), esc, sizeof(esc)));
	f.ival = u->ext.id;
	rc = store_list(a->store, &model_extension_version, &f, 1, 0, 0, same_release_cb, &same, NULL);
	if (rc < 0)
		return api_reply_error(r, 503, "unavailable", NULL, "store failed reading the versions of %s",
				       u->ext.name);
	if (rc > 0 && str_eq(same.found, r->params[1]))
		return api_reply_error(r, 409, "duplicate", "version",
				       "extension %s already has version %s; versions are immutable, publish a new one",
				       u->ext.name, same.found);
	if (rc > 0)
		return api_reply_error(r, 409, "duplicate", "version",
				       "extension %s already has version %s, the same release as %s", u->ext.name,
				       same.found, r->params[1]);
	if (clen && strtoull(clen, NULL, 10) > (unsigned long long)a->cfg->ext_max_bundle)
		return reply_too_large(r, clen);
	u->v.extension = u->ext.id;
	snprintf(u->v.version, sizeof(u->v.version), "%s", r->params[1]);
	snprintf(u->v.entry, sizeof(u->v.entry), "%s", entry ? entry : "run");
	snprintf(u->v.artifact, sizeof(u->v.artifact), "%s" BUNDLE_SUFFIX, u->v.version);
	snprintf(u->dir, sizeof(u->dir), "%s/%s", a->cfg->ext_dir, u->ext.name);
	snprintf(u->final, sizeof(u->final), "%s/%s", u->dir, u->v.artifact);
	snprintf(u->tmp, sizeof(u->tmp), "%s/" UPLOAD_PREFIX "%s-XXXXXX", u->dir, u->v.version);
	if ((rc = mkdir_p(u->dir, 0750)) < 0) {
		u->tmp[0] = '\0';
		return api_reply_error(r, 507, "insufficient_storage", NULL, "cannot create %s: %s", u->dir,
				       strerror(-rc));
	}
	pthread_mutex_lock(&sweep_lock);
	sweep_uploads(u->dir);
	if (!mkdtemp(u->tmp)) {
		rc = errno;
		pthread_mutex_unlock(&sweep_lock);
		u->tmp[0] = '\0';
		return api_reply_error(r, 507, "insufficient_storage", NULL, "cannot create a directory in %s: %s",
				       u->dir, strerror(rc));
	}
	u->lock = open(u->tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	rc = u->lock < 0 ? errno : 0;
	if (u->lock >= 0 && flock(u->lock, LOCK_EX | LOCK_NB) < 0) {
		rc = errno;
		close(u->lock);
		u->lock = -1;
	}
	pthread_mutex_unlock(&sweep_lock);
	if (u->lock < 0)
		return api_reply_error(r, 500, "internal", NULL, "cannot lock %s: %s", u->tmp, strerror(rc));
	snprintf(u->body, sizeof(u->body), "%s/body", u->tmp);
	snprintf(u->bundle, sizeof(u->bundle), "%s/bundle" BUNDLE_SUFFIX, u->tmp);
	if ((u->fd = open(u->body, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0)
		return api_reply_error(r, 507, "insufficient_storage", NULL, "cannot create %s: %s", u->body,
				       strerror(errno));
	log_info("extension %s: receiving version %s (entry %s)", u->ext.name, u->v.version, u->v.entry);
	return 0;
}

int ext_upload_chunk(struct request *r, const char *data, size_t len)
{
	struct ext_upload *u = r->state;
	const char *p = data;
	size_t left = len;

	if (u->received + len > (uint64_t)r->api->cfg->ext_max_bundle)
		return reply_too_large(r, NULL);
	while (left > 0) {
		ssize_t n = write(u->fd, p, left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return api_reply_error(r, 507, "insufficient_storage", NULL, "cannot write %s: %s", u->body,
					       n < 0 ? strerror(errno) : "short write");
		p += n;
		left -= (size_t)n;
	}
	u->received += len;
	return 0;
}

/* Inside the publishing transaction: the normalized tar to its final name. */
static int move_into_place(void *userdata)
{
	struct ext_upload *u = userdata;

	/* The row was just inserted, so a file of this name is a crash's leftover: replaced. */
	if (rename(u->bundle, u->final) < 0)
		return -errno;
	u->moved = true;
	return fsync_dir(u->dir);
}

/* The reply to a refusal of bundle_normalize. */
static int reply_refused(struct request *r, struct ext_upload *u, int rc, const char *why)
{
	static const struct {
		int err;
		unsigned status;
		const char *code, *field;
	} map[] = {
		{ -EBADMSG, 422, "not_an_archive", NULL },   { -EPROTO, 422, "damaged_archive", NULL },
		{ -EINVAL, 422, "unsafe_path", NULL },       { -ENAMETOOLONG, 422, "unsafe_path", NULL },
		{ -EPERM, 422, "unsupported_entry", NULL },  { -EEXIST, 422, "conflicting_entries", NULL },
		{ -ENOEXEC, 422, "missing_entry", "entry" }, { -E2BIG, 422, "too_many_entries", NULL },
		{ -EFBIG, 413, "bundle_too_large", NULL },   { -ENOSPC, 507, "insufficient_storage", NULL },
		{ -EDQUOT, 507, "insufficient_storage", NULL },
	};

	for (size_t i = 0; i < ARRAY_SIZE(map); i++)
		if (map[i].err == rc)
			return api_reply_error(r, map[i].status, map[i].code, map[i].field,
					       "%s@%s: %s; nothing was published", u->ext.name, u->v.version, why);
	return api_reply_error(r, 500, "internal", NULL, "%s@%s: %s; nothing was published", u->ext.name,
			       u->v.version, why[0] ? why : strerror(-rc));
}

int ext_upload_end(struct request *r)
{
	struct ext_upload *u = r->state;
	const struct config *cfg = r->api->cfg;
	struct bundle_limits lim = { .max_bytes = (uint64_t)cfg->ext_max_bundle, .max_entries = EXT_MAX_ENTRIES };
	struct bundle_info info;
	struct store_err se = { .field = "" };
	char why[400];
	_cleanup_close_ int bfd = -1;
	int rc;

	if (u->received == 0)
		return api_reply_error(r, 400, "empty_upload", NULL, "the bundle is empty; nothing was published");
	if (close(u->fd) < 0) {
		u->fd = -1;
		return api_reply_error(r, 507, "insufficient_storage", NULL, "cannot write %s: %s", u->body,
				       strerror(errno));
	}
	u->fd = -1;
	bfd = open(u->bundle, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	if (bfd < 0)
		return api_reply_error(r, 507, "insufficient_storage", NULL, "cannot create %s: %s", u->bundle,
				       strerror(errno));
	rc = bundle_normalize(u->body, bfd, u->tmp, u->v.entry, &lim, &info, why, sizeof(why));
	if (rc < 0) {
		log_info("extension %s: version %s refused: %s", u->ext.name, u->v.version, why);
		return reply_refused(r, u, rc, why);
	}
	if (fsync(bfd) < 0)
		return api_reply_error(r, 507, "insufficient_storage", NULL, "cannot sync the bundle: %s",
				       strerror(errno));
	/* The upload as it came is no longer needed: free its space before the publish. */
	unlink(u->body);
	u->v.size = (int64_t)info.size;
	u->v.files = (int64_t)info.entries;
	snprintf(u->v.sha256, sizeof(u->v.sha256), "%s", info.sha256);
	rc = store_ext_version_publish(r->api->store, &u->v, move_into_place, u, &se);
	if (rc < 0) {
		if (u->moved)
			unlink(u->final);
		if (rc == -EEXIST)
			return api_reply_error(r, 409, "duplicate", "version",
					       "extension %s already has version %s (published meanwhile)", u->ext.name,
					       u->v.version);
		if (rc == -EBUSY)
			return api_reply_error(r, 409, "in_use", NULL, "extension %s was deleted meanwhile; nothing was "
					       "published", u->ext.name);
		return api_reply_error(r, 500, "internal", NULL, "publishing failed: %s", se.message);
	}
	u->published = true;
	log_info("extension %s: published version %s (entry %s): %llu entries, %llu files, %llu bytes (from %llu "
		 "uploaded), sha256 %s",
		 u->ext.name, u->v.version, u->v.entry, (unsigned long long)info.entries,
		 (unsigned long long)info.files, (unsigned long long)info.size, (unsigned long long)u->received,
		 info.sha256);
	/* A new minor version of an extension that pools upgrade automatically rolls out now. */
	if (r->api->orch && orch_ext_check(orch_rt_orch(r->api->orch)) > 0)
		orch_rt_poke(r->api->orch);
	return api_reply_json(r, 201, codec_encode(r->api, &model_extension_version, &u->v));
}

void ext_upload_done(struct request *r, bool completed)
{
	struct ext_upload *u = r->state;

	if (!u)
		return;
	if (u->fd >= 0)
		close(u->fd);
	if (u->tmp[0])
		rm_rf(u->tmp);
	/* Unlocked only once it is gone, so no sweep races the removal. */
	if (u->lock >= 0)
		close(u->lock);
	if (!u->published && !completed && !r->replied)
		log_warn("extension %s: upload of version %s cut off after %llu bytes; nothing was published",
			 u->ext.name, u->v.version, (unsigned long long)u->received);
	free(u);
	r->state = NULL;
}

/* ---- versions ---- */

static int load_version(struct request *r, struct bw_extension *x, struct bw_extension_version *v)
{
	if (inventory_load(r, &model_extension, 0, r->params[0], x) < 0)
		return -ENOENT;
	return inventory_load(r, &model_extension_version, x->id, r->params[1], v);
}

int ext_version_delete(struct request *r)
{
	struct bw_extension x;
	struct bw_extension_version v;
	struct store_err se = { .field = "" };
	char pool[NAME_MAX_LEN + 1], dir[CONFIG_PATH_MAX + 80], path[CONFIG_PATH_MAX + 220];
	bool previous = false;
	int rc;

	if (load_version(r, &x, &v) < 0)
		return 0;
	rc = store_ext_version_used_by(r->api->store, x.name, v.version, pool, sizeof(pool), &previous);
	if (rc == 0 && previous)
		return api_reply_error(r, 409, "in_use", NULL,
				       "pool %s keeps %s@%s as the version to roll back to; it cannot be deleted "
				       "while the pool may need it",
				       pool, x.name, v.version);
	if (rc == 0)
		return api_reply_error(r, 409, "in_use", NULL,
				       "pool %s runs %s@%s; move the pool to another version first", pool, x.name,
				       v.version);
	if (rc != -ENOENT)
		return api_reply_error(r, 503, "unavailable", NULL, "store failed reading the pools of %s", x.name);
	rc = store_delete(r->api->store, &model_extension_version, v.id, &se);
	if (rc < 0)
		return inventory_reply_store_error(r, &model_extension_version, v.version, rc, &se);
	/* The row is gone first: a crash here leaves a file that ext_cleanup removes. */
	snprintf(dir, sizeof(dir), "%s/%s", r->api->cfg->ext_dir, x.name);
	snprintf(path, sizeof(path), "%s/%s", dir, v.artifact);
	if (unlink(path) == 0)
		fsync_dir(dir);
	log_info("extension %s: version %s deleted by token %s", x.name, v.version, r->token.name);
	return api_reply_empty(r, 204);
}

int ext_version_download(struct request *r)
{
	struct bw_extension x;
	struct bw_extension_version v;
	char path[CONFIG_PATH_MAX + 220], etag[SHA256_HEX_LEN + 3];

	if (load_version(r, &x, &v) < 0)
		return 0;
	snprintf(path, sizeof(path), "%s/%s/%s", r->api->cfg->ext_dir, x.name, v.artifact);
	snprintf(etag, sizeof(etag), "\"%s\"", v.sha256);
	return api_reply_file(r, path, "application/x-tar", etag);
}

/* ---- deleting an extension ---- */

int ext_delete_check(struct request *r, const struct bw_extension *x)
{
	char first[VERSION_MAX_LEN + 1], pool[NAME_MAX_LEN + 1];
	int64_t n = 0;
	int rc;

	rc = store_ext_used_by_pool(r->api->store, x->name, pool, sizeof(pool));
	if (rc == 0)
		return api_reply_error(r, 409, "in_use", NULL,
				       "pool %s uses extension %s; remove it from the pool first", pool, x->name),
		       -EBUSY;
	if (rc == -ENOENT)
		rc = store_ext_version_count(r->api->store, x->id, &n, first, sizeof(first));
	if (rc < 0)
		return api_reply_error(r, 503, "unavailable", NULL, "store failed reading extension %s", x->name),
		       -EIO;
	if (n > 0)
		return api_reply_error(r, 409, "in_use", NULL,
				       "extension %s still has %lld version%s (%s%s); delete %s first "
				       "(bootwave extension delete-version %s VERSION)",
				       x->name, (long long)n, n == 1 ? "" : "s", first, n > 1 ? ", ..." : "",
				       n == 1 ? "it" : "them", x->name),
		       -EBUSY;
	return 0;
}

void ext_deleted(struct api *a, const char *name)
{
	char dir[CONFIG_PATH_MAX + NAME_MAX_LEN + 2];

	snprintf(dir, sizeof(dir), "%s/%s", a->cfg->ext_dir, name);
	rm_rf(dir);
}

/* ---- start-up cleanup ---- */

/* The version a bundle file name stands for ("1.2.tar" -> "1.2") into out, or -EINVAL. */
static int version_of_file(const char *file, char out[VERSION_MAX_LEN + 1])
{
	size_t n = strlen(file), k = strlen(BUNDLE_SUFFIX);
	struct extver v;

	if (n <= k || n - k > VERSION_MAX_LEN || strcmp(file + n - k, BUNDLE_SUFFIX) != 0)
		return -EINVAL;
	memcpy(out, file, n - k);
	out[n - k] = '\0';
	return extver_parse(out, &v);
}

int ext_cleanup(struct api *a)
{
	DIR *top, *d;
	struct dirent *xe, *fe;
	char dir[CONFIG_PATH_MAX + 260], path[CONFIG_PATH_MAX + 2 * 256 + 8];
	int rc;

	if ((rc = mkdir_p(a->cfg->ext_dir, 0750)) < 0) {
		log_error("extensions: cannot create %s: %s", a->cfg->ext_dir, strerror(-rc));
		return rc;
	}
	top = opendir(a->cfg->ext_dir);
	if (!top)
		return -errno;
	while ((xe = readdir(top))) {
		struct bw_extension x;
		bool known;
		if (xe->d_type != DT_DIR || !name_valid(xe->d_name))
			continue;
		known = store_get_by_key(a->store, &model_extension, 0, xe->d_name, &x) == 0;
		snprintf(dir, sizeof(dir), "%s/%s", a->cfg->ext_dir, xe->d_name);
		sweep_uploads(dir);
		d = opendir(dir);
		if (!d)
			continue;
		while ((fe = readdir(d))) {
			struct bw_extension_version v;
			char version[VERSION_MAX_LEN + 1];
			if (fe->d_type != DT_REG || version_of_file(fe->d_name, version) < 0)
				continue;
			if (known && store_get_by_key(a->store, &model_extension_version, x.id, version, &v) == 0)
				continue;
			snprintf(path, sizeof(path), "%s/%s", dir, fe->d_name);
			log_info("extensions: removing %s, which no published version owns", path);
			unlink(path);
		}
		closedir(d);
	}
	closedir(top);
	return 0;
}

/* ---- the runner's read ---- */

int ext_bundle_load(struct api *a, const char *name, const char *version, struct bw_extension_version *ret_v,
		    void **ret_buf, size_t *ret_len)
{
	struct bw_extension x;
	struct bw_extension_version v;
	char path[CONFIG_PATH_MAX + 220], got[SHA256_HEX_LEN + 1];
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *buf = NULL;
	struct stat st;
	size_t done = 0;
	int rc;

	if ((rc = store_get_by_key(a->store, &model_extension, 0, name, &x)) < 0 ||
	    (rc = store_get_by_key(a->store, &model_extension_version, x.id, version, &v)) < 0)
		return rc == -ENOENT ? -ENOENT : -EIO;
	snprintf(path, sizeof(path), "%s/%s/%s", a->cfg->ext_dir, x.name, v.artifact);
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode) || st.st_size != v.size)
		return -EBADMSG;
	if (st.st_size > a->cfg->ext_max_bundle)
		return -EFBIG;
	buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		return -ENOMEM;
	while (done < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + done, (size_t)st.st_size - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EBADMSG; /* shrank under us */
		done += (size_t)n;
	}
	buf[done] = '\0';
	sha256_hex_buf(buf, done, got);
	if (!str_eq(got, v.sha256))
		return -EBADMSG;
	*ret_v = v;
	*ret_len = done;
	*ret_buf = TAKE_PTR(buf);
	return 0;
}
