// SPDX-License-Identifier: Apache-2.0
/*
 * A TFTP server alone, for tests/integration/test_tftp.sh: the server of
 * server/boot/tftp.c on an event loop, until SIGTERM or SIGINT. SIGUSR1
 * logs the counters; at exit they are printed on stdout as one line of
 * key=value pairs, as the loop stopped (before the server ends the
 * transfers still running). Signals come through a signalfd on the loop, so one that
 * arrives before the loop runs is not lost.
 *
 *   tftpd_test [-v] [-m max_transfers] [-t timeout_ms] [-r retries]
 *              [-b max_blksize] [-w max_windowsize] [-p portfile] ADDR:PORT ROOT
 *
 * ADDR is an IPv4 address or an IPv6 one in brackets; PORT may be 0, and
 * the port bound is then written to portfile.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "evloop.h"
#include "log.h"
#include "tftp.h"
#include "util.h"

struct daemon {
	struct evloop *ev;
	struct tftp_server *srv;
	int sigfd;
};

static void print_stats(FILE *f, const struct tftp_server *srv)
{
	struct tftp_stats st;

	tftp_server_stats(srv, &st);
	fprintf(f, "requests=%llu completed=%llu failed=%llu refused=%llu dropped=%llu duplicates=%llu active=%llu bytes=%llu retransmits=%llu\n",
		(unsigned long long)st.requests, (unsigned long long)st.completed, (unsigned long long)st.failed,
		(unsigned long long)st.refused, (unsigned long long)st.dropped, (unsigned long long)st.duplicates, (unsigned long long)st.active,
		(unsigned long long)st.bytes, (unsigned long long)st.retransmits);
	fflush(f);
}

static void on_signal(struct evloop *ev, int fd, uint32_t events, void *ud)
{
	struct daemon *d = ud;
	struct signalfd_siginfo si;

	(void)events;
	while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGUSR1) {
			print_stats(stderr, d->srv);
			continue;
		}
		log_info("tftpd_test: %s, stopping", strsignal((int)si.ssi_signo));
		evloop_stop(ev);
	}
}

/* "1.2.3.4:69" or "[::1]:69" into a bound UDP socket. -1 on error (printed). */
static int bind_udp(const char *spec)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon = strrchr(spec, ':');
	union {
		struct sockaddr sa;
		struct sockaddr_in in;
		struct sockaddr_in6 in6;
	} a;
	socklen_t len;
	char *end;
	long port;
	int fd;

	memset(&a, 0, sizeof(a));
	if (!colon || (size_t)(colon - spec) >= sizeof(host)) {
		fprintf(stderr, "tftpd_test: bad address %s\n", spec);
		return -1;
	}
	memcpy(host, spec, (size_t)(colon - spec));
	host[colon - spec] = '\0';
	port = strtol(colon + 1, &end, 10);
	if (*end || port < 0 || port > 65535) {
		fprintf(stderr, "tftpd_test: bad port in %s\n", spec);
		return -1;
	}
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {
		host[strlen(host) - 1] = '\0';
		a.in6.sin6_family = AF_INET6;
		a.in6.sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, host + 1, &a.in6.sin6_addr) != 1) {
			fprintf(stderr, "tftpd_test: bad IPv6 address %s\n", host + 1);
			return -1;
		}
		len = sizeof(a.in6);
	} else {
		a.in.sin_family = AF_INET;
		a.in.sin_port = htons((uint16_t)port);
		if (inet_pton(AF_INET, host, &a.in.sin_addr) != 1) {
			fprintf(stderr, "tftpd_test: bad IPv4 address %s\n", host);
			return -1;
		}
		len = sizeof(a.in);
	}
	fd = socket(a.sa.sa_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, &a.sa, len) < 0) {
		fprintf(stderr, "tftpd_test: bind %s: %m\n", spec);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static unsigned arg_uint(const char *s, const char *what)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);
	if (!*s || *end || v > 0xffffffffUL) {
		fprintf(stderr, "tftpd_test: bad %s: %s\n", what, s);
		exit(2);
	}
	return (unsigned)v;
}

int main(int argc, char **argv)
{
	struct daemon d = { .sigfd = -1 };
	struct tftp_config cfg;
	const char *portfile = NULL;
	sigset_t mask;
	int opt, fd, r;

	tftp_config_default(&cfg);
	while ((opt = getopt(argc, argv, "vm:t:r:b:w:p:")) != -1) {
		switch (opt) {
		case 'v':
			log_set_level(LOG_DEBUG_);
			break;
		case 'm':
			cfg.max_transfers = arg_uint(optarg, "max_transfers");
			break;
		case 't':
			cfg.timeout_ms = arg_uint(optarg, "timeout_ms");
			break;
		case 'r':
			cfg.retries = arg_uint(optarg, "retries");
			break;
		case 'b':
			cfg.max_blksize = arg_uint(optarg, "max_blksize");
			break;
		case 'w':
			cfg.max_windowsize = arg_uint(optarg, "max_windowsize");
			break;
		case 'p':
			portfile = optarg;
			break;
		default:
			fprintf(stderr, "usage: tftpd_test [-v] [-m max_transfers] [-t timeout_ms] [-r retries] "
					"[-b max_blksize] [-w max_windowsize] [-p portfile] ADDR:PORT ROOT\n");
			return 2;
		}
	}
	if (argc - optind != 2) {
		fprintf(stderr, "usage: tftpd_test [options] ADDR:PORT ROOT\n");
		return 2;
	}
	cfg.root = argv[optind + 1];

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGUSR1);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0 ||
	    (d.sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC)) < 0) {
		fprintf(stderr, "tftpd_test: signalfd: %m\n");
		return 1;
	}
	fd = bind_udp(argv[optind]);
	if (fd < 0)
		return 1;
	r = evloop_new(&d.ev);
	if (r < 0) {
		fprintf(stderr, "tftpd_test: evloop: %s\n", strerror(-r));
		close(fd);
		return 1;
	}
	r = tftp_server_new(d.ev, fd, &cfg, &d.srv);
	if (r < 0) {
		fprintf(stderr, "tftpd_test: tftp_server_new: %s\n", strerror(-r));
		evloop_free(d.ev);
		return 1;
	}
	r = evloop_add_fd(d.ev, d.sigfd, EPOLLIN, on_signal, &d);
	if (r < 0) {
		fprintf(stderr, "tftpd_test: evloop_add_fd: %s\n", strerror(-r));
		return 1;
	}
	if (portfile) {
		char tmp[4096];
		FILE *f;
		snprintf(tmp, sizeof(tmp), "%s.tmp", portfile);
		f = fopen(tmp, "w");
		if (!f || fprintf(f, "%u\n", tftp_server_port(d.srv)) < 0 || fclose(f) != 0 || rename(tmp, portfile) < 0) {
			fprintf(stderr, "tftpd_test: cannot write %s: %m\n", portfile);
			return 1;
		}
	}
	log_info("tftpd_test: serving %s on port %u (max %u transfers, timeout %u ms, %u retries, blksize <= %u, "
		 "windowsize <= %u)",
		 cfg.root, tftp_server_port(d.srv), cfg.max_transfers, cfg.timeout_ms, cfg.retries, cfg.max_blksize,
		 cfg.max_windowsize);
	r = evloop_run(d.ev);
	print_stats(stdout, d.srv);
	tftp_server_free(d.srv);
	evloop_del_fd(d.ev, d.sigfd);
	close(d.sigfd);
	evloop_free(d.ev);
	return r < 0 ? 1 : 0;
}
