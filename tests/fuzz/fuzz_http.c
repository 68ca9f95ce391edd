// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target for the HTTP front of bootwaved (server/api/): the real
 * API is started once in-process on 127.0.0.1 port 0, over a store in a
 * temporary directory holding a little state (tokens of each role, an image
 * with a published version, a pool, two nodes, one behind a BMC that refuses
 * at once, a reimage task with its agent token, custom data), and each input
 * is written as is to a fresh TCP connection, so libmicrohttpd parses the
 * request line, headers and body as in production and the routes, the JSON
 * codec and the agent protocol see whatever comes. The literals @ADMIN@,
 * @OPERATOR@, @VIEWER@, @AGENT@ and @HEARTBEAT@ in an input become the
 * tokens, so that inputs get past authorization (a Content-Length is not
 * changed with them: a body that must hold a token holds the secret itself).
 * Tokens, and node n1's open task, are made again when an input removed them.
 *
 * Per input: a reply, if any, starts with an HTTP status line; no route
 * leaves a request unanswered ("handler gave no answer"); a reply that starts
 * ends within REPLY_TIMEOUT_S; and every 64 inputs the API still answers.
 * FUZZ_HTTP_SHOW=1 prints each reply's status and the start of its body.
 *
 * The process moves to a network namespace of its own (with a user namespace
 * when not root), so that a node or BMC address an input invents reaches
 * nothing but this loopback; under libFuzzer it refuses to run without one.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api-internal.h"
#include "auth.h"
#include "config.h"
#include "store.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Defined by libFuzzer only: tells fuzzing from the replay of a corpus. */
size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size) __attribute__((weak));

/* Every reply ends within this (the BMCs refuse at once or time out in 1 s). */
#define REPLY_TIMEOUT_S 15
/* A reply is read up to this much; the rest is dropped with the connection. */
#define REPLY_MAX (128 * 1024)
/* Silence after the request's end that means the server waits for the rest of it. */
#define CLOSE_WAIT_MS 50

/* n1's BMC is on this loopback's discard port: Redfish is refused at once
 * (an IPMI BMC would cost each input 1 s, [bmc] timeout). */
#define N1_JSON                                                                                        \
	"{\"name\":\"n1\",\"mac\":\"52:54:00:00:00:01\",\"rack\":\"r1\",\"pool\":\"p1\",\"update_domain\":1," \
	"\"bmc_driver\":\"redfish\",\"bmc_address\":\"127.0.0.1\",\"bmc_port\":9,"                                \
	"\"bmc_username\":\"root\",\"bmc_password\":\"secret\",\"bmc_insecure_tls\":true}"

static struct {
	char dir[64];
	struct config cfg;
	struct store *store;
	struct api *api;
	uint16_t port;
	unsigned long inputs;
	bool started;
} fz;

/* The placeholders and their tokens (48 hex digits after the prefix). */
static const struct {
	const char *mark, *role, *name, *secret;
} tokens[] = {
	{ "@ADMIN@", "admin", "fz-admin", "bw_00000000000000000000000000000000000000000000000a" },
	{ "@OPERATOR@", "operator", "fz-operator", "bw_00000000000000000000000000000000000000000000000b" },
	{ "@VIEWER@", "viewer", "fz-viewer", "bw_00000000000000000000000000000000000000000000000c" },
};
#define AGENT_SECRET "bwa_00000000000000000000000000000000000000000000000d"
#define HEARTBEAT_SECRET "bwa_00000000000000000000000000000000000000000000000e"

static void die(const char *what)
{
	fprintf(stderr, "fuzz_http: %s\n", what);
	abort();
}

/* ---- isolation ---- */

static void write_proc(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (write(fd, text, strlen(text)) < 0)
			fprintf(stderr, "fuzz_http: %s: %s\n", path, strerror(errno));
		close(fd);
	}
}

/* A network namespace of its own with loopback up; false if not permitted. */
static bool isolate(void)
{
	struct ifreq ifr = { 0 };
	char map[64];
	uid_t uid = getuid();
	gid_t gid = getgid();
	int fd;

	if (unshare(CLONE_NEWNET) < 0) {
		/* Not root: a user namespace where this user is root, for the network one. */
		if (unshare(CLONE_NEWUSER | CLONE_NEWNET) < 0)
			return false;
		write_proc("/proc/self/setgroups", "deny");
		snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)uid, (unsigned)uid);
		write_proc("/proc/self/uid_map", map);
		snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)gid, (unsigned)gid);
		write_proc("/proc/self/gid_map", map);
	}
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0 || (ifr.ifr_flags |= IFF_UP, ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)) {
		close(fd);
		return false;
	}
	close(fd);
	return true;
}

/* ---- one exchange ---- */

/* One reply at a time: its buffer is reused (a fresh one per input costs page faults). */
static char reply_buf[REPLY_MAX + 1];

struct reply {
	char *buf; /* reply_buf */
	size_t len;
	bool timed_out;
};

/* The value of header name in the header block [h, end), or NULL. */
static const char *header_in(const char *h, const char *end, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = h; p && p < end; p = memchr(p, '\n', (size_t)(end - p)), p = p ? p + 1 : NULL)
		if ((size_t)(end - p) > n + 1 && !strncasecmp(p, name, n) && p[n] == ':')
			return p + n + 1;
	return NULL;
}

/* True while nothing but interim replies ("100 Continue") came: the answer is still to come. */
static bool interim_only(const struct reply *rp)
{
	const char *h = rp->buf, *end;

	while ((size_t)(h - rp->buf) < rp->len) {
		if (rp->len - (size_t)(h - rp->buf) < 10 || strncmp(h, "HTTP/1.1 1", 10) != 0 ||
		    !(end = memmem(h, rp->len - (size_t)(h - rp->buf), "\r\n\r\n", 4)))
			return false;
		h = end + 4;
	}
	return true;
}

/*
 * True once the first reply is whole: libmicrohttpd keeps a connection
 * whose client ended its side open until its timeout once it has answered,
 * so the end is found by the reply's framing, not by the close. An event
 * stream never ends: its first event is enough.
 */
static bool reply_complete(const struct reply *rp, bool head)
{
	const char *h = rp->buf, *end, *v;

	for (;;) {
		end = memmem(h, rp->len - (size_t)(h - rp->buf), "\r\n\r\n", 4);
		if (!end)
			return false;
		/* "100 Continue" comes before the answer. */
		if (strncmp(h, "HTTP/1.1 1", 10) != 0)
			break;
		h = end + 4;
	}
	end += 4;
	size_t body = rp->len - (size_t)(end - rp->buf);
	if (head || !strncmp(h + 9, "204", 3) || !strncmp(h + 9, "304", 3))
		return true;
	if (header_in(h, end, "Content-Type") && memmem(h, (size_t)(end - h), "text/event-stream", 17))
		return memmem(end, body, "\n\n", 2) != NULL;
	if ((v = header_in(h, end, "Content-Length")))
		return body >= strtoull(v, NULL, 10);
	if ((v = header_in(h, end, "Transfer-Encoding")) && !strncasecmp(v + strspn(v, " "), "chunked", 7))
		return (body >= 5 && !memcmp(end, "0\r\n\r\n", 5)) || memmem(end, body, "\r\n0\r\n\r\n", 7);
	return false;
}

/*
 * Writes req to a fresh connection and reads the first reply (whole, or
 * until the server closes); ends the write side after wait_ms without one
 * (see below; < 0: the default for req).
 */
static int exchange(const void *req, size_t len, int wait_ms, struct reply *rp)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(fz.port),
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct timeval tv = { .tv_sec = 5 };
	struct timespec t0, t1;
	size_t off = 0;
	bool half_closed = false;
	/*
	 * A request is answered, or the server waits for more of it. The write
	 * side is kept open for wait_ms, then ended so that the server closes a
	 * request the input left incomplete. Ending it at once would drop a
	 * request suspended for its BMC job (routes_bmc.c), which gets 3 s (the
	 * setup's requests, whole and some slow, get 10 s); and libmicrohttpd
	 * can miss an end that arrives with the request's last bytes (its
	 * edge-triggered epoll reads once, then waits for an event that never
	 * comes; the connection then waits for its timeout). So after the end,
	 * a silence of CLOSE_WAIT_MS is the server waiting for more: not a
	 * finding. A reply that starts must finish.
	 */
	if (wait_ms < 0)
		wait_ms = memmem(req, len, "/power", 6) || memmem(req, len, "/bootdev", 8) || memmem(req, len, "/health", 7)
				  ? 3000 : 5;
	int fd;

	*rp = (struct reply){ .buf = reply_buf };
	reply_buf[0] = '\0';
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	/* The server may answer and close before the whole input is in (a 413): fine. */
	while (off < len) {
		ssize_t n = send(fd, (const char *)req + off, len - off, MSG_NOSIGNAL);
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;
		int ms, pr;
		clock_gettime(CLOCK_MONOTONIC, &t1);
		ms = (int)((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000);
		if (ms >= REPLY_TIMEOUT_S * 1000) {
			rp->timed_out = true;
			break;
		}
		if (!half_closed && interim_only(rp) && ms >= wait_ms) {
			shutdown(fd, SHUT_WR);
			half_closed = true;
		}
		pr = poll(&p, 1, !interim_only(rp) ? 1000 : half_closed ? CLOSE_WAIT_MS : wait_ms - ms);
		if (pr == 0 && half_closed && interim_only(rp))
			break; /* waiting for the rest of the request */
		if (pr <= 0)
			continue;
		n = recv(fd, rp->buf + rp->len, REPLY_MAX - rp->len, 0);
		if (n <= 0)
			break;
		rp->len += (size_t)n;
		rp->buf[rp->len] = '\0';
		if (rp->len == REPLY_MAX || reply_complete(rp, len >= 5 && !memcmp(req, "HEAD ", 5)))
			break;
	}
	rp->buf[rp->len] = '\0';
	close(fd);
	return 0;
}

/* Status of a reply, 0 if it has none. */
static unsigned status_of(const struct reply *rp)
{
	if (rp->len < 13 || (memcmp(rp->buf, "HTTP/1.1 ", 9) != 0 && memcmp(rp->buf, "HTTP/1.0 ", 9) != 0))
		return 0;
	for (int i = 9; i < 12; i++)
		if (rp->buf[i] < '0' || rp->buf[i] > '9')
			return 0;
	if (rp->buf[12] != ' ' && rp->buf[12] != '\r')
		return 0;
	return (unsigned)((rp->buf[9] - '0') * 100 + (rp->buf[10] - '0') * 10 + (rp->buf[11] - '0'));
}

/* A request of the setup, which must get want (0: any answer). */
static void setup_request(unsigned want, const char *method, const char *path, const char *type, const void *body,
			  size_t len)
{
	char *req = NULL;
	struct reply rp;
	int n;

	n = asprintf(&req, "%s %s HTTP/1.1\r\nHost: fuzz\r\nAuthorization: Bearer %s\r\nContent-Type: %s\r\n"
			   "Content-Length: %zu\r\nConnection: close\r\n\r\n",
		     method, path, tokens[0].secret, type, len);
	if (n < 0)
		die("out of memory");
	req = realloc(req, (size_t)n + len);
	if (!req)
		die("out of memory");
	memcpy(req + n, body, len);
	if (exchange(req, (size_t)n + len, 10000, &rp) < 0)
		die("setup: cannot connect to the API");
	if (want ? status_of(&rp) != want : status_of(&rp) == 0) {
		fprintf(stderr, "fuzz_http: setup: %s %s: wanted %u, got:\n%s\n", method, path, want, rp.buf);
		abort();
	}
	free(req);
}

static void setup_json(unsigned want, const char *method, const char *path, const char *json)
{
	setup_request(want, method, path, "application/json", json, strlen(json));
}

/* ---- the state ---- */

/* A ustar archive of an OS tree with a kernel and an initrd in /boot, in tar[4096]. */
static size_t os_tarball(uint8_t *tar)
{
	static const struct {
		const char *name, *text;
	} files[] = {
		{ "boot/vmlinuz-6.1.0-test", "kernel 1\n" },
		{ "boot/initrd.img-6.1.0-test", "initrd 1\n" },
		{ "etc/os-release", "VERSION_ID=1\n" },
	};
	size_t off = 0;

	memset(tar, 0, 4096);
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		uint8_t *h = tar + off;
		size_t len = strlen(files[i].text);
		unsigned sum = 0;

		memcpy(h, files[i].name, strlen(files[i].name));
		memcpy(h + 100, "0000644", 7);
		memcpy(h + 108, "0000000", 7);
		memcpy(h + 116, "0000000", 7);
		snprintf((char *)h + 124, 12, "%011o", (unsigned)len);
		memcpy(h + 136, "00000000000", 11);
		memset(h + 148, ' ', 8);
		h[156] = '0';
		memcpy(h + 257, "ustar", 6);
		memcpy(h + 263, "00", 2);
		for (size_t k = 0; k < 512; k++)
			sum += h[k];
		snprintf((char *)h + 148, 8, "%06o", sum);
		memcpy(h + 512, files[i].text, len);
		off += 1024;
	}
	return off + 1024; /* two zero blocks end it */
}

/* The tokens of the placeholders, made again if an input deleted one. */
static void ensure_tokens(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(tokens); i++) {
		uint8_t hash[SHA256_LEN];
		struct bw_token tok;
		struct store_err se;

		auth_token_hash(tokens[i].secret, hash);
		if (store_token_by_hash(fz.store, hash, &tok) == 0)
			continue;
		/* A name taken by an input's token: that token goes first. */
		if (store_get_by_key(fz.store, &model_token, 0, tokens[i].name, &tok) == 0)
			store_delete(fz.store, &model_token, tok.id, &se);
		model_init(&model_token, &tok);
		snprintf(tok.name, sizeof(tok.name), "%s", tokens[i].name);
		snprintf(tok.role, sizeof(tok.role), "%s", tokens[i].role);
		snprintf(tok.prefix, sizeof(tok.prefix), "%.*s", TOKEN_SHOWN, tokens[i].secret);
		if (store_token_create(fz.store, &tok, hash, &se) < 0)
			die("cannot make a token");
	}
}

/*
 * Node n1's agent and heartbeat tokens, and an open reimage task for the
 * agent's (an input's result ends the task): made again when missing, as
 * the boot script would at the node's next boot; n1 enrolled again if an
 * input deleted it. Does nothing once an input has deleted what n1 or its
 * task refer to (rack, pool, image).
 */
static void ensure_agent(void)
{
	struct bw_node node;
	struct bw_image img;
	struct bw_image_version v;
	struct bw_task t;
	uint8_t hash[SHA256_LEN];
	char err[320];

	if (store_get_by_key(fz.store, &model_node, 0, "n1", &node) < 0) {
		/* Deleted by an input: enrolled again, as far as what it refers to is left. */
		setup_json(0, "POST", "/api/v1/nodes", N1_JSON);
		if (store_get_by_key(fz.store, &model_node, 0, "n1", &node) < 0)
			return;
	}
	if (store_task_open(fz.store, node.id, &t) < 0) {
		if (node.maintenance || store_get_by_key(fz.store, &model_image, 0, "os", &img) < 0 ||
		    store_get_by_key(fz.store, &model_image_version, img.id, "1", &v) < 0 ||
		    reimage_start(fz.api, &node, &img, &v, NULL, false, "fuzz", 0, &t, err, sizeof(err)) < 0)
			return;
	}
	sha256_buf(AGENT_SECRET, AGENT_TOKEN_LEN, hash);
	store_agent_token_add(fz.store, node.id, "reimage", t.id, hash, (int64_t)time(NULL) + 86400);
	sha256_buf(HEARTBEAT_SECRET, AGENT_TOKEN_LEN, hash);
	store_agent_token_add(fz.store, node.id, "heartbeat", 0, hash, (int64_t)time(NULL) + 86400);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static void stop(void)
{
	if (!fz.started)
		return;
	fz.started = false;
	api_stop(fz.api);
	store_close(fz.store);
	nftw(fz.dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void start(void)
{
	uint8_t key[SECRET_KEY_LEN], tar[4096];
	struct store_err se;
	char path[128], err[512], tmpl[] = "/tmp/fuzz_http.XXXXXX", templates[PATH_MAX];
	FILE *f;

	/* The store syncs every write: in memory it costs nothing. */
	if (access("/dev/shm", W_OK) == 0)
		memcpy(tmpl, "/dev/shm", 8);
	if (!mkdtemp(tmpl))
		die("cannot make a temporary directory");
	snprintf(fz.dir, sizeof(fz.dir), "%s", tmpl);
	snprintf(path, sizeof(path), "%s/firmware", fz.dir);
	mkdir(path, 0700);
	/* The boot scripts are rendered from the repository's templates when run from its top. */
	if (realpath("firmware/templates", templates)) {
		snprintf(path, sizeof(path), "%s/firmware/templates", fz.dir);
		if (symlink(templates, path) < 0)
			die("cannot link the templates");
	}
	snprintf(path, sizeof(path), "%s/bootwaved.conf", fz.dir);
	f = fopen(path, "w");
	if (!f)
		die("cannot write the configuration");
	fprintf(f,
		"[daemon]\nstate_dir = %s\nlog_level = error\n"
		"[api]\nlisten = 127.0.0.1:0\nthreads = 2\nmax_body = 64K\nmax_upload = 1M\nmax_custom_data = 4K\n"
		"page_size = 20\nmax_page_size = 100\n"
		"[images]\nmax_content = 1M\n"
		"[extensions]\nmax_bundle = 64K\nworkers = 1\n"
		"[bmc]\nworkers = 2\nretries = 0\ntimeout = 1\nmin_poll = 0\n"
		"[boot]\nfirmware_dir = %s/firmware\nhttp_url = http://127.0.0.1:8080\n",
		fz.dir, fz.dir);
	fclose(f);
	if (config_load(path, &fz.cfg, err, sizeof(err)) < 0)
		die(err);
	log_set_level(LOG_ERR_);
	signal(SIGPIPE, SIG_IGN);
	if (auth_load_key(fz.cfg.key_file, key) < 0)
		die("cannot make the key");
	if (store_open(fz.cfg.store_path, &fz.store, &se) < 0)
		die(se.message);
	ensure_tokens();
	if (api_start(&fz.cfg, fz.store, key, &fz.api) < 0)
		die("cannot start the API");
	fz.port = api_port(fz.api);
	fz.started = true;
	atexit(stop);

	setup_json(201, "POST", "/api/v1/images", "{\"name\":\"os\",\"description\":\"fuzz\"}");
	setup_request(201, "PUT", "/api/v1/images/os/versions/1?filename=os.tar", "application/octet-stream", tar,
		      os_tarball(tar));
	setup_json(201, "POST", "/api/v1/sites", "{\"name\":\"s1\"}");
	setup_json(201, "POST", "/api/v1/zones", "{\"name\":\"z1\",\"site\":\"s1\"}");
	setup_json(201, "POST", "/api/v1/racks", "{\"name\":\"r1\",\"zone\":\"z1\",\"fault_domain\":1}");
	setup_json(201, "POST", "/api/v1/pools", "{\"name\":\"p1\",\"image\":\"os\",\"image_version\":\"1\"}");
	setup_json(201, "POST", "/api/v1/nodes", N1_JSON);
	setup_json(201, "POST", "/api/v1/nodes",
		   "{\"name\":\"n2\",\"mac\":\"52:54:00:00:00:02\",\"os_disk\":\"/dev/vda\","
		   "\"data_disks\":[\"/dev/vdb\",\"/dev/vdc\"]}");
	setup_json(202, "POST", "/api/v1/nodes/n1/reimage", "{}");
	setup_request(200, "PUT", "/api/v1/pools/p1/custom-data", "text/cloud-config", "#cloud-config\n", 14);
	ensure_agent();
	explicit_bzero(key, sizeof(key));
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (!isolate()) {
		if (LLVMFuzzerMutate)
			die("cannot make a network namespace (needs root or user namespaces): the fuzzer's "
			    "requests could reach addresses beyond loopback");
		/* A replay sends the corpus only, whose addresses are all 127.0.0.1. */
		fprintf(stderr, "fuzz_http: no network namespace; replaying in the host's\n");
	}
	start();
	return 0;
}

/* input with every placeholder replaced by its token; *ret_len its length. */
static char *substitute(const uint8_t *data, size_t size, size_t *ret_len)
{
	static const struct {
		const char *mark, *value;
	} extra[] = { { "@AGENT@", AGENT_SECRET }, { "@HEARTBEAT@", HEARTBEAT_SECRET } };
	/* Every placeholder is shorter than its value, by at most 52 - 7. */
	char *out = malloc(size * 8 + 1), *o = out;

	if (!out)
		return NULL;
	for (size_t i = 0; i < size;) {
		const char *mark = NULL, *value = NULL;
		if (data[i] == '@') {
			for (size_t k = 0; k < ARRAY_SIZE(tokens) && !mark; k++)
				if (size - i >= strlen(tokens[k].mark) && !memcmp(data + i, tokens[k].mark, strlen(tokens[k].mark)))
					mark = tokens[k].mark, value = tokens[k].secret;
			for (size_t k = 0; k < ARRAY_SIZE(extra) && !mark; k++)
				if (size - i >= strlen(extra[k].mark) && !memcmp(data + i, extra[k].mark, strlen(extra[k].mark)))
					mark = extra[k].mark, value = extra[k].value;
		}
		if (mark) {
			memcpy(o, value, strlen(value));
			o += strlen(value);
			i += strlen(mark);
		} else
			*o++ = (char)data[i++];
	}
	*ret_len = (size_t)(o - out);
	return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct reply rp;
	size_t len;
	char *req;

	if (!fz.started)
		LLVMFuzzerInitialize(NULL, NULL);
	ensure_tokens();
	if (memmem(data, size, "@AGENT@", 7) || memmem(data, size, "@HEARTBEAT@", 11))
		ensure_agent();
	req = substitute(data, size, &len);
	if (!req)
		return 0;
	if (exchange(req, len, -1, &rp) < 0)
		die("cannot connect to the API");
	if (rp.timed_out) {
		fprintf(stderr, "fuzz_http: no end of the reply within %d s; got:\n%.300s\n", REPLY_TIMEOUT_S, rp.buf);
		die("a request left hanging");
	}
	if (rp.len > 0 && status_of(&rp) == 0) {
		fprintf(stderr, "fuzz_http: a reply without a status line:\n%.300s\n", rp.buf);
		abort();
	}
	/* As the whole error (an input may echo the words in a message, but not unescaped quotes). */
	if (status_of(&rp) == 500 &&
	    strstr(rp.buf, "{\"error\":{\"code\":\"internal\",\"message\":\"handler gave no answer\"}}"))
		die("a route gave no answer");
	/* FUZZ_HTTP_SHOW=1: each reply's status line and body start, to check what a seed reaches. */
	if (getenv("FUZZ_HTTP_SHOW")) {
		const char *body = strstr(rp.buf, "\r\n\r\n");
		fprintf(stderr, "fuzz_http: %.*s | %.160s\n", (int)strcspn(rp.buf, "\r\n"), rp.buf,
			body ? body + 4 : "");
	}
	free(req);
	/* Still answering: a worker that died or deadlocked shows here. */
	if (++fz.inputs % 64 == 0) {
		static const char probe[] = "GET /api/v1 HTTP/1.1\r\nHost: fuzz\r\nAuthorization: Bearer "
					    "bw_00000000000000000000000000000000000000000000000c\r\n\r\n";
		if (exchange(probe, sizeof(probe) - 1, 10000, &rp) < 0 || status_of(&rp) != 200)
			die("the API stopped answering");
	}
	return 0;
}
