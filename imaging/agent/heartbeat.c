// SPDX-License-Identifier: Apache-2.0
/*
 * Heartbeat mode, in the installed OS: every interval, run the local probe
 * (a shell command that exits 0 when healthy, or an http(s) URL that must
 * answer 2xx) and POST the state to bootwaved with this boot's heartbeat
 * token. The state is Initializing until the probe first passes or the
 * grace period ends, then Healthy or Unhealthy. No probe: Healthy.
 * Network errors are logged and the loop goes on: the server counts the
 * silence, not the agent.
 */
#include <curl/curl.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "cmdline.h"
#include "fsutil.h"
#include "httpc.h"
#include "util.h"

static size_t discard(char *p, size_t sz, size_t n, void *u)
{
	(void)p;
	(void)u;
	return sz * n;
}

/* Runs the probe with a time limit: true if healthy. */
static bool probe_ok(const char *probe, unsigned timeout_s)
{
	if (!probe)
		return true;
	if (strncmp(probe, "http://", 7) == 0 || strncmp(probe, "https://", 8) == 0) {
		CURL *c = curl_easy_init();
		long status = 0;
		bool ok;
		if (!c)
			return false;
		curl_easy_setopt(c, CURLOPT_URL, probe);
		curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)timeout_s);
		curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
		ok = curl_easy_perform(c) == CURLE_OK && curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK &&
		     status >= 200 && status < 300;
		curl_easy_cleanup(c);
		return ok;
	}
	pid_t pid = fork();
	int status;
	if (pid < 0)
		return false;
	if (pid == 0) {
		alarm(timeout_s); /* SIGALRM ends a probe that hangs */
		execl("/bin/sh", "sh", "-c", probe, (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0)
		return false;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static void read_line(const char *path, char *buf, size_t size)
{
	_cleanup_free_ char *text = NULL;
	size_t len;

	buf[0] = '\0';
	if (read_file(path, 4096, &text, &len) == 0) {
		snprintf(buf, size, "%.*s", (int)strcspn(text, "\n"), text);
		if (strspn(buf, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.+~_-") != strlen(buf))
			buf[0] = '\0';
	}
}

/* The first line of the host key file, if it looks like an OpenSSH public key ("type base64 ..."). */
static void host_key_of(const struct agent_opts *o, char *buf, size_t size)
{
	static const char *const usual[] = { "/etc/ssh/ssh_host_ed25519_key.pub",
					     "/etc/dropbear/dropbear_ed25519_host_key.pub", NULL };
	_cleanup_free_ char *text = NULL;
	size_t len, n;

	buf[0] = '\0';
	for (size_t i = 0; (o->host_key ? i == 0 : usual[i] != NULL); i++) {
		if (read_file(o->host_key ? o->host_key : usual[i], 16 * 1024, &text, &len) == 0)
			break;
	}
	if (!text)
		return;
	n = strcspn(text, "\r\n");
	if (n >= size || (strncmp(text, "ssh-", 4) != 0 && strncmp(text, "ecdsa-", 6) != 0))
		return;
	memcpy(buf, text, n);
	buf[n] = '\0';
}

/*
 * Adds line (the appliance's public key, as the server sent it) to the
 * authorized_keys file when it is not there yet. The file and its directory
 * are made private, as sshd and dropbear require.
 */
static void authorize(const char *path, const char *line)
{
	_cleanup_free_ char *text = NULL, *dir = NULL;
	size_t len = 0;
	FILE *f;

	if (!path || !line || !*line || strchr(line, '\n') || (strncmp(line, "ssh-", 4) != 0 && strncmp(line, "ecdsa-", 6) != 0))
		return;
	if (read_file(path, 1024 * 1024, &text, &len) == 0 && strstr(text, line))
		return;
	dir = strdup(path);
	if (dir && strrchr(dir, '/')) {
		*strrchr(dir, '/') = '\0';
		if (*dir && mkdir(dir, 0700) < 0 && errno != EEXIST)
			fprintf(stderr, "bootwave-agent: cannot make %s: %s\n", dir, strerror(errno));
	}
	f = fopen(path, "a");
	if (!f) {
		fprintf(stderr, "bootwave-agent: cannot add the appliance's key to %s: %s\n", path, strerror(errno));
		return;
	}
	fchmod(fileno(f), 0600);
	fprintf(f, "%s%s\n", len && text[len - 1] != '\n' ? "\n" : "", line);
	if (fclose(f) != 0)
		fprintf(stderr, "bootwave-agent: cannot write %s: %s\n", path, strerror(errno));
	else
		fprintf(stderr, "bootwave-agent: the appliance's SSH key is now in %s\n", path);
}

int agent_heartbeat(const struct agent_opts *o)
{
	struct agent_boot boot;
	struct httpc *hc;
	_cleanup_free_ char *text = NULL;
	char version[64], boot_id[64], host_key[768];
	const char *bad = NULL, *state = "Initializing";
	unsigned interval = o->interval ? o->interval : 15;
	time_t start = time(NULL);
	bool passed_once = false;
	size_t len;
	int r;

	if ((r = read_file(o->cmdline, 64 * 1024, &text, &len)) < 0) {
		fprintf(stderr, "bootwave-agent: cannot read %s: %s\n", o->cmdline, strerror(-r));
		return 2;
	}
	if ((r = agent_cmdline_parse(text, len, &boot, &bad)) < 0 || !boot.hbtoken[0]) {
		fprintf(stderr, "bootwave-agent: %s: %s %s\n", o->cmdline, bad ? bad : "bootwave.hbtoken",
			r == -EINVAL ? "is malformed" : "is missing");
		return 2;
	}
	read_line("/etc/bootwave/version", version, sizeof(version));
	read_line("/proc/sys/kernel/random/boot_id", boot_id, sizeof(boot_id));
	if (!(hc = httpc_new(boot.server, boot.hbtoken)))
		return 1;
	for (;;) {
		struct httpc_reply rep = { 0 };
		bool ok = probe_ok(o->probe, interval > 1 ? interval - 1 : 1);
		json_t *body;

		passed_once |= ok;
		if (ok)
			state = "Healthy";
		else if (passed_once || (unsigned)(time(NULL) - start) >= o->grace)
			state = "Unhealthy";
		/* Read every time: the key may be made after the agent started. */
		host_key_of(o, host_key, sizeof(host_key));
		body = json_pack("{s:s, s:s, s:s}", "state", state, "version", version, "boot_id", boot_id);
		if (body && host_key[0])
			json_object_set_new(body, "ssh_host_key", json_string(host_key));
		r = body ? httpc_request(hc, "POST", "/api/v1/agent/heartbeat", body, &rep) : -ENOMEM;
		json_decref(body);
		if (r < 0)
			fprintf(stderr, "bootwave-agent: heartbeat (%s) not sent: %s\n", state, rep.err);
		else if (rep.status != 200)
			fprintf(stderr, "bootwave-agent: heartbeat (%s): HTTP %ld\n", state, rep.status);
		else {
			if (!o->interval && json_is_integer(json_object_get(rep.json, "interval")) &&
			    json_integer_value(json_object_get(rep.json, "interval")) > 0)
				interval = (unsigned)json_integer_value(json_object_get(rep.json, "interval"));
			authorize(o->authorized_keys, json_string_value(json_object_get(rep.json, "ssh_authorized_key")));
		}
		httpc_reply_clear(&rep);
		if (o->once)
			break;
		sleep(interval);
	}
	httpc_free(hc);
	return r < 0 ? 1 : 0;
}
