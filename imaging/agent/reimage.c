// SPDX-License-Identifier: Apache-2.0
/*
 * The reimage agent: with the one-time token of its kernel command line it
 * fetches its task, checks the signature when one is required, finds the
 * target slot by GPT name (creating the layout only on a blank disk or when
 * the task says wipe), streams the image through decompression, hashing
 * and writing in one pass, checks the SHA-256, reports, and reboots.
 *
 * What it promises (tests/integration/test_agent.sh checks each): nothing
 * is written outside the target slot (struct slot refuses it; a tarball is
 * extracted through a loop device bounded to the slot); data disks are
 * never opened for writing; a failure after writing began leaves the slot
 * invalidated (its first MiB zeroed) and is reported with its reason and
 * stage; the server commits nothing until it gets a result whose SHA-256
 * matches the version.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "cmdline.h"
#include "decomp.h"
#include "extract.h"
#include "fetch.h"
#include "fsutil.h"
#include "gpt.h"
#include "httpc.h"
#include "manifest.h"
#include "sign.h"
#include "slot.h"
#include "util.h"

#define READ_CHUNK (256 * 1024)
#define PROGRESS_EVERY_MS 2000
#define INVALIDATE_BYTES (1024 * 1024)

struct task {
	int64_t id;
	char slot[2];
	bool wipe;
	struct manifest m;
	char os_disk[256];
	char data_disks[16][256];
	size_t n_data;
	uint64_t slot_size;
	bool data_partition;
	bool require_sig;
	struct sign_keyring keys;
	unsigned stall;
	char artifact_url[1024];
};

struct job {
	const struct agent_opts *o;
	struct agent_boot boot;
	struct httpc *hc;
	const char *ca;      /* the CA the API is checked with; NULL: the system's */
	struct task t;
	char stage[24];
	char reason[768];
	bool wrote;          /* the slot has been touched */
	struct slot slot;
	int disk_fd;
	uint64_t last_ms;
	bool cancelled;
};

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("bootwave-agent: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static int fail(struct job *j, int r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(struct job *j, int r, const char *fmt, ...)
{
	va_list ap;
	if (!j->reason[0]) {
		va_start(ap, fmt);
		vsnprintf(j->reason, sizeof(j->reason), fmt, ap);
		va_end(ap);
	}
	return r < 0 ? r : -EIO;
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void set_stage(struct job *j, const char *stage)
{
	snprintf(j->stage, sizeof(j->stage), "%s", stage);
	say("task %lld: %s", (long long)j->t.id, stage);
}

/* POSTs progress at most every PROGRESS_EVERY_MS (force: now); notices a cancelled task. */
static void progress(struct job *j, uint64_t done, bool force)
{
	struct httpc_reply rep = { 0 };
	uint64_t t = now_ms();
	json_t *body;

	if (!force && t - j->last_ms < PROGRESS_EVERY_MS)
		return;
	j->last_ms = t;
	body = json_pack("{s:I, s:s, s:I, s:I}", "task", (json_int_t)j->t.id, "stage", j->stage, "bytes_done",
			 (json_int_t)done, "bytes_total", (json_int_t)j->t.m.artifact.size);
	if (body && httpc_request(j->hc, "POST", "/api/v1/agent/progress", body, &rep) == 0 && rep.status == 409)
		j->cancelled = true;
	json_decref(body);
	httpc_reply_clear(&rep);
}

/* ---- the task ---- */

static int parse_task(struct job *j, json_t *o)
{
	struct task *t = &j->t;
	json_t *task = json_object_get(o, "task"), *disks = json_object_get(o, "disks");
	json_t *layout = json_object_get(disks, "layout"), *data = json_object_get(disks, "data_disks");
	json_t *keys = json_object_get(o, "trusted_keys"), *v;
	const char *slot = json_string_value(json_object_get(task, "slot"));
	const char *os = json_string_value(json_object_get(disks, "os_disk"));
	const char *url = json_string_value(json_object_get(o, "artifact_url"));
	const char *why = NULL;
	size_t i;

	memset(t, 0, sizeof(*t));
	if (!json_is_integer(json_object_get(task, "id")))
		return fail(j, -EINVAL, "the task has no id");
	t->id = json_integer_value(json_object_get(task, "id"));
	if (!str_eq(slot, "a") && !str_eq(slot, "b"))
		return fail(j, -EINVAL, "the task names no slot a or b");
	snprintf(t->slot, sizeof(t->slot), "%s", slot);
	t->wipe = json_is_true(json_object_get(task, "wipe"));
	if (manifest_from_json(json_object_get(o, "manifest"), &t->m, &why) < 0)
		return fail(j, -EINVAL, "the task's manifest is invalid: %s", why);
	if (!os || strlen(os) >= sizeof(t->os_disk) || (*os && (os[0] != '/' || strstr(os, ".."))))
		return fail(j, -EINVAL, "the task's os_disk is invalid");
	snprintf(t->os_disk, sizeof(t->os_disk), "%s", os);
	if (data && !json_is_array(data))
		return fail(j, -EINVAL, "the task's data_disks is not a list");
	json_array_foreach(data, i, v) {
		const char *d = json_string_value(v);
		if (i >= ARRAY_SIZE(t->data_disks) || !d || d[0] != '/' || strlen(d) >= sizeof(t->data_disks[0]))
			return fail(j, -EINVAL, "the task's data_disks are invalid");
		snprintf(t->data_disks[t->n_data++], sizeof(t->data_disks[0]), "%s", d);
	}
	if (!json_is_integer(json_object_get(layout, "slot_size")) ||
	    json_integer_value(json_object_get(layout, "slot_size")) <= 0)
		return fail(j, -EINVAL, "the task's layout has no slot_size");
	t->slot_size = (uint64_t)json_integer_value(json_object_get(layout, "slot_size"));
	t->data_partition = json_is_true(json_object_get(layout, "data_partition"));
	t->require_sig = json_is_true(json_object_get(o, "require_signature"));
	json_array_foreach(keys, i, v) {
		if (t->keys.n == SIGN_KEYS_MAX || !json_is_string(v) ||
		    sign_key_from_hex(json_string_value(v), &t->keys.keys[t->keys.n]) < 0)
			return fail(j, -EINVAL, "the task's trusted_keys are invalid");
		t->keys.n++;
	}
	t->stall = json_is_integer(json_object_get(o, "stall_timeout"))
			   ? (unsigned)json_integer_value(json_object_get(o, "stall_timeout"))
			   : 60;
	if (t->stall < 1 || t->stall > 3600)
		t->stall = 60;
	if (!url || url[0] != '/' || strlen(url) + strlen(j->boot.api) >= sizeof(t->artifact_url))
		return fail(j, -EINVAL, "the task's artifact_url is invalid");
	memcpy(t->artifact_url, j->boot.api, strlen(j->boot.api));
	memcpy(t->artifact_url + strlen(j->boot.api), url, strlen(url) + 1);
	return 0;
}

/* GET the task, retrying while the server cannot be reached or answers 5xx. */
static int fetch_task(struct job *j)
{
	uint64_t deadline = now_ms() + (uint64_t)j->o->retry_s * 1000;
	unsigned wait_s = 1;

	for (;;) {
		struct httpc_reply rep = { 0 };
		int r = httpc_request(j->hc, "GET", "/api/v1/agent/task", NULL, &rep);
		if (r == 0 && rep.status == 200 && rep.json) {
			r = parse_task(j, rep.json);
			httpc_reply_clear(&rep);
			return r;
		}
		if (r == 0 && rep.status >= 400 && rep.status < 500) {
			const char *msg = json_string_value(json_object_get(json_object_get(rep.json, "error"), "message"));
			say("the server refused the task: HTTP %ld: %s", rep.status, msg ? msg : "");
			httpc_reply_clear(&rep);
			return -EACCES;
		}
		say("cannot get the task yet (%s); retrying in %u s", r < 0 ? rep.err : "server error", wait_s);
		httpc_reply_clear(&rep);
		if (now_ms() + wait_s * 1000ULL > deadline)
			return -ETIMEDOUT;
		sleep(wait_s);
		wait_s = wait_s < 16 ? wait_s * 2 : 16;
	}
}

/* ---- disks ---- */

static void dev_path(const struct job *j, const char *dev, char *buf, size_t size)
{
	snprintf(buf, size, "%s%s", j->o->devroot ? j->o->devroot : "", dev);
}

/* True if a and b are the same disk (device number, or inode for files). */
static bool same_disk(const struct stat *a, const struct stat *b)
{
	if (S_ISBLK(a->st_mode) && S_ISBLK(b->st_mode))
		return a->st_rdev == b->st_rdev;
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

static int open_disks(struct job *j)
{
	struct task *t = &j->t;
	char path[600];
	struct stat os, st;

	if (!t->os_disk[0])
		return fail(j, -EINVAL, "node has no os_disk: set it (bootwave node set <node> --os-disk /dev/...)");
	dev_path(j, t->os_disk, path, sizeof(path));
	if (stat(path, &os) < 0)
		return fail(j, -errno, "os_disk %s: %s", t->os_disk, strerror(errno));
	if (!S_ISBLK(os.st_mode) && !S_ISREG(os.st_mode))
		return fail(j, -ENOTBLK, "os_disk %s is not a disk", t->os_disk);
	for (size_t i = 0; i < t->n_data; i++) {
		char dp[600];
		dev_path(j, t->data_disks[i], dp, sizeof(dp));
		if (stat(dp, &st) == 0 && same_disk(&os, &st))
			return fail(j, -EINVAL, "os_disk %s is also data disk %s: refusing to write it", t->os_disk,
				    t->data_disks[i]);
	}
	/* O_EXCL on a block device: refused while anything has it mounted. */
	j->disk_fd = open(path, O_RDWR | O_CLOEXEC | (S_ISBLK(os.st_mode) ? O_EXCL : 0));
	if (j->disk_fd < 0)
		return fail(j, -errno, "cannot open os_disk %s: %s", t->os_disk, strerror(errno));
	return S_ISBLK(os.st_mode) ? 1 : 0;
}

/* Finds (or, on a blank disk or with wipe, creates) the layout, and the target slot. */
static int find_slot(struct job *j, bool blockdev)
{
	struct task *t = &j->t;
	struct gpt_table *tab = calloc(1, sizeof(*tab));
	const struct gpt_part *p;
	const char *why = "";
	char name[16];
	uint64_t bytes, off, len;
	uint32_t sector;
	bool blank = false;
	int r;

	if (!tab)
		return fail(j, -ENOMEM, "out of memory");
	if ((r = gpt_disk_geometry(j->disk_fd, &bytes, &sector)) < 0) {
		r = fail(j, r, "cannot size os_disk %s: %s", t->os_disk, strerror(-r));
		goto out;
	}
	r = gpt_read(j->disk_fd, bytes, sector, tab, &why);
	if (r == 0 && tab->other_why)
		say("os_disk %s: the %s GPT copy is not usable (%s); using the %s", t->os_disk,
		    tab->source == GPT_PRIMARY ? "backup" : "primary", tab->other_why,
		    tab->source == GPT_PRIMARY ? "primary" : "backup");
	if (r == 0)
		r = gpt_check_layout(tab, &why);
	if (r == -EBADMSG && !t->wipe) {
		r = fail(j, r, "os_disk %s has a damaged or foreign layout (%s); not touching it (reimage with wipe to "
			 "recreate it, which erases the whole disk)", t->os_disk, why);
		goto out;
	}
	if (r == -ENOENT && !t->wipe) {
		int b = gpt_is_blank(j->disk_fd, bytes, &blank);
		if (b < 0) {
			r = fail(j, b, "cannot read os_disk %s: %s", t->os_disk, strerror(-b));
			goto out;
		}
		if (!blank) {
			r = fail(j, -ENOENT, "os_disk %s has no bootwave layout (bw-os-a, bw-os-b) and is not blank; "
				 "not touching it (reimage with wipe to create the layout, which erases the whole disk)",
				 t->os_disk);
			goto out;
		}
	} else if (r < 0 && r != -ENOENT && r != -EBADMSG) {
		r = fail(j, r, "cannot read the partition table of %s: %s", t->os_disk, strerror(-r));
		goto out;
	}
	if (r < 0 || t->wipe) {
		set_stage(j, "partitioning");
		say("creating the layout on %s (%s): slots of %llu bytes%s", t->os_disk, t->wipe ? "wipe" : "blank disk",
		    (unsigned long long)t->slot_size, t->data_partition ? ", then bw-data" : "");
		r = gpt_create_layout(j->disk_fd, bytes, sector, t->slot_size, t->data_partition, tab);
		if (r < 0) {
			r = fail(j, r, "cannot create the layout on %s: %s", t->os_disk,
				 r == -ENOSPC ? "the disk is too small for two slots of that size" : strerror(-r));
			goto out;
		}
		if (blockdev && (r = gpt_reread(j->disk_fd)) < 0)
			say("the kernel did not re-read the partition table (%s); writing by offset anyway", strerror(-r));
	}
	snprintf(name, sizeof(name), "bw-os-%s", t->slot);
	if (!(p = gpt_find(tab, name))) {
		r = fail(j, -ENOENT, "there is no slot %s on %s", name, t->os_disk);
		goto out;
	}
	if ((r = gpt_part_range(tab, p, &off, &len)) < 0 || (r = slot_init(&j->slot, j->disk_fd, blockdev, off, len)) < 0) {
		r = fail(j, r, "slot %s on %s is not usable: %s", name, t->os_disk, strerror(-r));
		goto out;
	}
	say("target slot %s: bytes %llu-%llu of %s", name, (unsigned long long)off, (unsigned long long)(off + len - 1),
	    t->os_disk);
	r = 0;
out:
	free(tab);
	return r;
}

/* ---- writing ---- */

struct raw_sink {
	struct job *j;
	struct slot_raw w;
	uint64_t out, max;
};

static int raw_sink(const void *buf, size_t len, void *userdata)
{
	struct raw_sink *s = userdata;
	int r;

	if (s->out + len > s->max)
		return fail(s->j, -EFBIG, "the image decompresses beyond the %llu bytes its manifest announces",
			    (unsigned long long)s->max);
	if ((r = slot_raw_feed(&s->w, buf, len)) < 0)
		return r == -ENOSPC ? fail(s->j, r, "the raw image is larger than slot %s (%llu bytes)", s->j->t.slot,
					   (unsigned long long)s->j->slot.len)
				    : fail(s->j, r, "write to slot %s failed: %s", s->j->t.slot, strerror(-r));
	s->out += len;
	return 0;
}

static int write_raw(struct job *j, struct fetch *f)
{
	struct raw_sink s = { .j = j, .max = j->t.m.content_size };
	struct decomp *d = NULL;
	_cleanup_free_ uint8_t *buf = malloc(READ_CHUNK);
	const char *why = NULL;
	ssize_t n;
	int r;

	if (j->t.m.content_size > j->slot.len)
		return fail(j, -ENOSPC, "the raw image (%llu bytes) is larger than slot %s (%llu bytes)",
			    (unsigned long long)j->t.m.content_size, j->t.slot, (unsigned long long)j->slot.len);
	if (!buf || (r = decomp_new(j->t.m.compression, &d)) < 0 || (r = slot_raw_begin(&s.w, &j->slot)) < 0) {
		decomp_free(d);
		return fail(j, -ENOMEM, "out of memory");
	}
	j->wrote = true;
	while ((n = fetch_read(f, buf, READ_CHUNK, &why)) > 0) {
		if ((r = decomp_feed(d, buf, (size_t)n, raw_sink, &s, &why)) < 0) {
			if (r == -EBADMSG)
				fail(j, r, "the image is corrupt: %s", why);
			goto out;
		}
		progress(j, fetch_done(f), false);
		if (j->cancelled) {
			r = fail(j, -ECANCELED, "the task was cancelled on the server");
			goto out;
		}
	}
	if (n < 0) {
		r = fail(j, (int)n, "%s", why);
		goto out;
	}
	if ((r = decomp_finish(d, &why)) < 0) {
		fail(j, r, "the image is corrupt: %s", why);
		goto out;
	}
	if ((r = slot_raw_end(&s.w)) < 0) {
		fail(j, r, "write to slot %s failed: %s", j->t.slot, strerror(-r));
		goto out;
	}
	say("raw image: %llu bytes, %llu written, %llu zero bytes skipped", (unsigned long long)s.out,
	    (unsigned long long)s.w.written, (unsigned long long)s.w.skipped);
out:
	slot_raw_free(&s.w);
	decomp_free(d);
	return r;
}

/* libarchive pulls the tarball from the download. */
struct tar_src {
	struct job *j;
	struct fetch *f;
	uint8_t *buf;
	int err;
	const char *why;
};

static la_ssize_t tar_read(struct archive *a, void *userdata, const void **ret)
{
	struct tar_src *s = userdata;
	ssize_t n = fetch_read(s->f, s->buf, READ_CHUNK, &s->why);

	if (n < 0) {
		s->err = (int)n;
		archive_set_error(a, EIO, "%s", s->why);
		return -1;
	}
	progress(s->j, fetch_done(s->f), false);
	if (s->j->cancelled) {
		s->err = -ECANCELED;
		archive_set_error(a, ECANCELED, "the task was cancelled on the server");
		return -1;
	}
	*ret = s->buf;
	return n;
}

/* Runs argv, its output to our stderr; 0 if it exits 0. */
static int run(char *const argv[])
{
	pid_t pid = fork();
	int status;

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		dup2(2, 1);
		execvp(argv[0], argv);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0)
		return -errno;
	if (!WIFEXITED(status))
		return -EINTR;
	return WEXITSTATUS(status) == 0 ? 0 : WEXITSTATUS(status) == 127 ? -ENOEXEC : -EIO;
}

static int write_tar(struct job *j, struct fetch *f)
{
	char loop[64] = "", mnt[] = "/tmp/bootwave-slot.XXXXXX", label[16], why[600] = "";
	struct tar_src src = { .j = j, .f = f, .buf = malloc(READ_CHUNK) };
	struct extract_limits lim = { .max_bytes = j->t.m.content_size,
				      .max_entries = j->t.m.entries ? j->t.m.entries : UINT64_MAX };
	struct extract_stats st;
	struct archive *a = NULL;
	bool mounted = false, made = false;
	int root = -1, r;

	if (!src.buf)
		return fail(j, -ENOMEM, "out of memory");
	if (j->t.m.content_size > j->slot.len) {
		r = fail(j, -ENOSPC, "the image's files (%llu bytes) do not fit slot %s (%llu bytes)",
			 (unsigned long long)j->t.m.content_size, j->t.slot, (unsigned long long)j->slot.len);
		goto out;
	}
	j->wrote = true;
	if ((r = slot_zero(&j->slot, 0, INVALIDATE_BYTES < j->slot.len ? INVALIDATE_BYTES : j->slot.len)) < 0 ||
	    (r = slot_loop_attach(&j->slot, loop, sizeof(loop))) < 0) {
		r = fail(j, r, "cannot set up a loop device over slot %s: %s", j->t.slot, strerror(-r));
		goto out;
	}
	set_stage(j, "mkfs");
	snprintf(label, sizeof(label), "bw-os-%s", j->t.slot);
	r = run((char *const[]){ "mke2fs", "-q", "-F", "-t", "ext4", "-L", label, "-E",
				 "nodiscard,lazy_itable_init=1,lazy_journal_init=1", loop, NULL });
	if (r < 0) {
		r = fail(j, r, "mke2fs on slot %s failed%s", j->t.slot, r == -ENOEXEC ? ": mke2fs is not installed" : "");
		goto out;
	}
	if (!mkdtemp(mnt)) {
		r = fail(j, -errno, "cannot make a mount point: %s", strerror(errno));
		goto out;
	}
	made = true;
	if (mount(loop, mnt, "ext4", MS_NOATIME | MS_NODEV | MS_NOSUID, NULL) < 0) {
		r = fail(j, -errno, "cannot mount the new filesystem of slot %s: %s", j->t.slot, strerror(errno));
		goto out;
	}
	mounted = true;
	if ((root = open(mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		r = fail(j, -errno, "cannot open %s: %s", mnt, strerror(errno));
		goto out;
	}
	set_stage(j, "extracting");
	a = archive_read_new();
	if (!a) {
		r = fail(j, -ENOMEM, "out of memory");
		goto out;
	}
	archive_read_support_filter_gzip(a);
	archive_read_support_filter_zstd(a);
	archive_read_support_filter_xz(a);
	archive_read_support_format_tar(a);
	archive_read_support_format_gnutar(a);
	if (archive_read_open(a, &src, NULL, tar_read, NULL) != ARCHIVE_OK) {
		r = fail(j, src.err ? src.err : -EIO, "%s", src.why ? src.why : archive_error_string(a));
		goto out;
	}
	r = extract_archive(a, root, &lim, &st, why, sizeof(why));
	if (r < 0) {
		r = fail(j, src.err ? src.err : r, "%s", src.err && src.why ? src.why : why);
		goto out;
	}
	/* The end-of-archive marker came; the rest (padding) still counts for the SHA-256. */
	for (ssize_t n; (n = fetch_read(f, src.buf, READ_CHUNK, &src.why)) != 0;)
		if (n < 0) {
			r = fail(j, (int)n, "%s", src.why);
			goto out;
		}
	say("tarball: %llu entries, %llu files, %llu bytes of data", (unsigned long long)st.entries,
	    (unsigned long long)st.files, (unsigned long long)st.bytes);
	if (syncfs(root) < 0) {
		r = fail(j, -errno, "cannot sync slot %s: %s", j->t.slot, strerror(errno));
		goto out;
	}
out:
	if (a)
		archive_read_free(a);
	if (root >= 0)
		close(root);
	if (mounted && umount(mnt) < 0 && r == 0)
		r = fail(j, -errno, "cannot unmount slot %s: %s", j->t.slot, strerror(errno));
	if (made)
		rmdir(mnt);
	if (loop[0])
		slot_loop_detach(loop);
	free(src.buf);
	return r;
}

static int check_signature(struct job *j)
{
	const struct manifest *m = &j->t.m;
	char msg[512], id[17];
	int r;

	if (!m->signature[0]) {
		if (j->t.require_sig)
			return fail(j, -EPERM, "%s@%s has no signature and the pool requires signed images", m->image,
				    m->version);
		return 0;
	}
	if (j->t.keys.n == 0) {
		if (j->t.require_sig)
			return fail(j, -EPERM, "signed images are required but the server sent no trusted key");
		return 0;
	}
	if (manifest_signed_message(m, msg, sizeof(msg)) < 0)
		return fail(j, -EINVAL, "cannot build the signed message");
	if ((r = sign_verify(&j->t.keys, msg, strlen(msg), m->signature, id)) < 0)
		return fail(j, -EPERM, "the signature of %s@%s does not verify with any of the %zu trusted keys", m->image,
			    m->version, j->t.keys.n);
	say("signature of %s@%s verified with key %s", m->image, m->version, id);
	return 0;
}

static int do_task(struct job *j)
{
	struct fetch *f = NULL;
	char sha[65];
	int blockdev, r;

	set_stage(j, "checking");
	if ((r = check_signature(j)) < 0)
		return r;
	if ((blockdev = open_disks(j)) < 0)
		return blockdev;
	if ((r = find_slot(j, blockdev == 1)) < 0)
		return r;
	set_stage(j, "writing");
	progress(j, 0, true);
	if ((r = fetch_open(j->t.artifact_url, j->boot.token, j->ca, j->t.m.artifact.size, j->t.stall, &f)) < 0)
		return fail(j, r, "cannot start the download: %s", strerror(-r));
	r = str_eq(j->t.m.format, "raw") ? write_raw(j, f) : write_tar(j, f);
	if (r == 0) {
		set_stage(j, "verifying");
		fetch_sha256(f, sha);
		if (!str_eq(sha, j->t.m.artifact.sha256))
			r = fail(j, -EBADMSG, "sha256 mismatch: the download hashes to %s, the manifest says %s", sha,
				 j->t.m.artifact.sha256);
	}
	if (r == 0 && (r = slot_sync(&j->slot)) < 0)
		r = fail(j, r, "cannot flush os_disk: %s", strerror(-r));
	if (r == 0)
		progress(j, fetch_done(f), true);
	fetch_close(f);
	return r;
}

/* POSTs the result, retrying for a while: the server must learn it. */
static int report(struct job *j, bool ok)
{
	char sha[65] = "";
	json_t *body;

	if (ok)
		snprintf(sha, sizeof(sha), "%s", j->t.m.artifact.sha256);
	body = json_pack("{s:I, s:s, s:s, s:s, s:s}", "task", (json_int_t)j->t.id, "status", ok ? "succeeded" : "failed",
			 "sha256", sha, "reason", ok ? "" : j->reason, "stage", j->stage);
	for (unsigned i = 0, wait_s = 1; body && i < 8; i++, wait_s *= 2) {
		struct httpc_reply rep = { 0 };
		int r = httpc_request(j->hc, "POST", "/api/v1/agent/result", body, &rep);
		long status = rep.status;
		httpc_reply_clear(&rep);
		if (r == 0 && status < 500) {
			json_decref(body);
			if (status != 200)
				say("the server answered HTTP %ld to the result", status);
			return status == 200 ? 0 : -EPROTO;
		}
		sleep(wait_s);
	}
	json_decref(body);
	say("could not report the result");
	return -EIO;
}

static void finish(const struct agent_opts *o, int status)
{
	if (o->no_reboot)
		return;
	say("rebooting");
	sync();
	reboot(RB_AUTOBOOT);
	say("reboot failed: %s", strerror(errno));
	(void)status;
}

int agent_reimage(const struct agent_opts *o)
{
	struct job j = { .o = o, .disk_fd = -1 };
	_cleanup_free_ char *text = NULL;
	const char *bad = NULL;
	size_t len;
	int r;

	if ((r = read_file(o->cmdline, 64 * 1024, &text, &len)) < 0) {
		say("cannot read %s: %s", o->cmdline, strerror(-r));
		return 2;
	}
	if ((r = agent_cmdline_parse(text, len, &j.boot, &bad)) < 0 || !j.boot.token[0]) {
		say("%s: %s %s", o->cmdline, bad ? bad : "bootwave.token", r == -EINVAL ? "is malformed" : "is missing");
		return 2;
	}
	j.ca = o->ca ? o->ca : access(AGENT_CA_FILE, F_OK) == 0 ? AGENT_CA_FILE : NULL;
	if (j.ca && access(j.ca, R_OK) < 0) {
		say("cannot read the CA %s: %s", j.ca, strerror(errno));
		return 2;
	}
	if (!(j.hc = httpc_new(j.boot.api, j.boot.token))) {
		say("out of memory");
		return 1;
	}
	if (httpc_set_ca(j.hc, j.ca) < 0) {
		say("this libcurl cannot check the API with %s", j.ca);
		httpc_free(j.hc);
		return 1;
	}
	if (strncmp(j.boot.api, "https://", 8) == 0)
		say("API %s over TLS, checked with %s", j.boot.api, j.ca ? j.ca : "the system's CAs");
	snprintf(j.stage, sizeof(j.stage), "task");
	if ((r = fetch_task(&j)) < 0) {
		/* Nothing to report to: the next boot asks the server again. */
		say("no task: %s", j.reason[0] ? j.reason : strerror(-r));
		httpc_free(j.hc);
		finish(o, 1);
		return 1;
	}
	/* Progress and result reports to a server that stalls give up as a
	 * download does (the result is retried). */
	httpc_set_timeout(j.hc, j.t.stall);
	say("task %lld: %s@%s (%s, %s, %llu bytes) to slot %s%s", (long long)j.t.id, j.t.m.image, j.t.m.version,
	    j.t.m.format, j.t.m.compression, (unsigned long long)j.t.m.artifact.size, j.t.slot,
	    j.t.wipe ? ", wipe" : "");
	r = do_task(&j);
	if (r < 0 && j.wrote && j.slot.len) {
		/* Whatever was written is not an OS: make sure nothing takes it for one. */
		int z = slot_zero(&j.slot, 0, INVALIDATE_BYTES < j.slot.len ? INVALIDATE_BYTES : j.slot.len);
		if (z == 0)
			slot_sync(&j.slot);
		say("slot %s invalidated%s", j.t.slot, z < 0 ? " (failed)" : "");
	}
	{
		struct rusage ru;
		if (getrusage(RUSAGE_SELF, &ru) == 0)
			say("peak RSS %ld KiB", ru.ru_maxrss);
	}
	if (r < 0)
		say("task %lld FAILED at %s: %s", (long long)j.t.id, j.stage, j.reason);
	else
		say("task %lld done: %s@%s in slot %s, sha256 %s", (long long)j.t.id, j.t.m.image, j.t.m.version, j.t.slot,
		    j.t.m.artifact.sha256);
	report(&j, r == 0);
	if (j.disk_fd >= 0)
		close(j.disk_fd);
	httpc_free(j.hc);
	finish(o, r == 0 ? 0 : 1);
	return r == 0 ? 0 : 1;
}
