// SPDX-License-Identifier: Apache-2.0
/* The boot services' thread: see boot.h. */
#include "boot.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dhcp.h"
#include "evloop.h"
#include "log.h"
#include "netif.h"
#include "tftp.h"
#include "tftp_proc.h"
#include "util.h"

#define TFTP_PORT 69

struct boot {
	struct evloop *ev;
	struct dhcp_server *dhcp;
	struct tftp_proc *tftp; /* the TFTP server, in its own sandboxed process */
	pthread_t thread;
	bool running;
};

static void *run(void *ud)
{
	struct boot *b = ud;
	int r = evloop_run(b->ev);
	if (r < 0)
		log_error("boot: event loop failed: %s", strerror(-r));
	return NULL;
}

/* A UDP socket on port, bound to the interface (and so to its address). */
static int udp_socket(const char *ifname, uint16_t port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = INADDR_ANY };
	int one = 1, fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, ifname, (socklen_t)strlen(ifname)) < 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

static int parse_dhcp_config(const struct config *cfg, uint16_t api_port, struct dhcp_config *d)
{
	char tmp[64], *dash, *save = NULL;

	memset(d, 0, sizeof(*d));
	dhcp_mode_parse(cfg->dhcp_mode, &d->mode);
	snprintf(d->interface, sizeof(d->interface), "%s", cfg->boot_interface);
	if (cfg->dhcp_range[0]) {
		snprintf(tmp, sizeof(tmp), "%s", cfg->dhcp_range);
		dash = strchr(tmp, '-');
		if (!dash)
			return -EINVAL;
		*dash = '\0';
		if (inet_pton(AF_INET, tmp, &d->range_start) != 1 || inet_pton(AF_INET, dash + 1, &d->range_end) != 1)
			return -EINVAL;
	}
	d->lease_time = (uint32_t)cfg->dhcp_lease_time;
	if (cfg->dhcp_router[0] && inet_pton(AF_INET, cfg->dhcp_router, &d->router) != 1)
		return -EINVAL;
	snprintf(tmp, sizeof(tmp), "%s", cfg->dhcp_dns);
	for (char *t = strtok_r(tmp, ",", &save); t && d->n_dns < 2; t = strtok_r(NULL, ",", &save)) {
		while (*t == ' ')
			t++;
		if (inet_pton(AF_INET, t, &d->dns[d->n_dns++]) != 1)
			return -EINVAL;
	}
	snprintf(d->http_base, sizeof(d->http_base), "%s", cfg->boot_http_url);
	d->http_port = api_port;
	snprintf(d->bios_file, sizeof(d->bios_file), "%s", cfg->dhcp_bios_file);
	snprintf(d->uefi_file, sizeof(d->uefi_file), "%s", cfg->dhcp_uefi_file);
	d->commit_ms = (unsigned)cfg->dhcp_commit_ms;
	snprintf(d->user, sizeof(d->user), "%s", cfg->user);
	snprintf(d->log_level, sizeof(d->log_level), "%s", cfg->log_level);
	return 0;
}

/*
 * <state_dir>/empty: where the DHCP listener is chrooted. Root's, read and
 * search only, and nothing in it (a file found there is an error: someone
 * put it there).
 */
static int empty_dir(const struct config *cfg, char *path, size_t size)
{
	struct stat st;
	DIR *dir;
	struct dirent *e;
	int r = 0;

	if ((size_t)snprintf(path, size, "%s/empty", cfg->state_dir) >= size)
		return -ENAMETOOLONG;
	/* (chmod: the umask would take the bits for others away) */
	if (mkdir(path, 0555) == 0 ? chmod(path, 0555) < 0 : errno != EEXIST) {
		r = -errno;
		log_error("dhcp: cannot create %s: %s", path, strerror(-r));
		return r;
	}
	if (lstat(path, &st) < 0 || !S_ISDIR(st.st_mode) || (st.st_mode & 0222) || !(dir = opendir(path))) {
		log_error("dhcp: %s must be a directory nobody can write (mode 0555)", path);
		return -EINVAL;
	}
	while ((e = readdir(dir)))
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
			log_error("dhcp: %s must be empty (the DHCP listener is chrooted there); it holds %s", path,
				  e->d_name);
			r = -ENOTEMPTY;
			break;
		}
	closedir(dir);
	return r;
}

int boot_start(const struct config *cfg, struct store *store, uint16_t api_port, struct boot **ret)
{
	struct boot *b;
	struct dhcp_config dc;
	int r;

	if (!cfg->boot_interface[0]) {
		*ret = NULL;
		return 0;
	}
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	if ((r = evloop_new(&b->ev)) < 0)
		goto fail;
	if ((r = parse_dhcp_config(cfg, api_port, &dc)) < 0) {
		log_error("boot: bad [dhcp] addresses");
		goto fail;
	}
	if (dc.mode != DHCP_MODE_OFF && ((r = empty_dir(cfg, dc.sandbox_root, sizeof(dc.sandbox_root))) < 0 ||
					 (r = dhcp_server_new(b->ev, store, &dc, &b->dhcp)) < 0))
		goto fail;
	if (cfg->tftp_enabled) {
		int fd = udp_socket(cfg->boot_interface, TFTP_PORT);
		if (fd < 0) {
			r = fd;
			log_error("tftp: cannot listen on %s port %d: %s", cfg->boot_interface, TFTP_PORT, strerror(-r));
			goto fail;
		}
		if ((r = tftp_proc_start(b->ev, fd, cfg, &b->tftp)) < 0)
			goto fail;
		log_info("tftp: serving %s on %s port %d", cfg->firmware_dir, cfg->boot_interface, TFTP_PORT);
	}
	if ((r = -pthread_create(&b->thread, NULL, run, b)) < 0)
		goto fail;
	b->running = true;
	*ret = b;
	return 0;
fail:
	boot_stop(b);
	return r;
}

void boot_stop(struct boot *b)
{
	if (!b)
		return;
	if (b->running) {
		evloop_stop(b->ev);
		pthread_join(b->thread, NULL);
	}
	dhcp_server_free(b->dhcp);
	tftp_proc_stop(b->tftp);
	evloop_free(b->ev);
	free(b);
}
