// SPDX-License-Identifier: Apache-2.0
/*
 * A TFTP peer that misbehaves on purpose, for the integration tests: sends
 * raw datagrams and shows the answer, plays a client that never
 * acknowledges, and injects a packet from a wrong transfer ID into a
 * download. Standalone (libc only) so it can be pointed at any server.
 *
 *   udpsend [-t ms] HOST PORT HEX|@FILE
 *       Sends one datagram (hex digits, spaces allowed, or the bytes of
 *       FILE) and prints the first reply in hex. A DATA or OACK reply (a
 *       transfer started) is answered with ERROR 0 so the server stops.
 *       Exit 0 with a reply, 1 on timeout.
 *   udpsend [-t ms] -n HOST PORT FILENAME [OPTION VALUE]...
 *       Sends an octet RRQ and never ACKs: counts what arrives until an
 *       ERROR, or until ms of silence, and prints
 *       "data=N oack=N first=BLOCK error=CODE message" (error=none if none).
 *       Exit 0 if an ERROR ended it, 1 otherwise.
 *   udpsend [-t ms] -s HOST PORT FILENAME OUTFILE
 *       Downloads FILENAME (octet, no options, ACK per block). After block
 *       1, a second socket sends an ACK to the transfer's port; its reply is
 *       printed as "stray=HEX" (or "stray=none"). Exit 0 once the whole file
 *       is in OUTFILE, 1 otherwise.
 *   udpsend [-t ms] -w WINDOW [-d N] HOST PORT FILENAME OUTFILE
 *       Downloads FILENAME with "windowsize WINDOW" (RFC 7440) and 512-byte
 *       blocks, losing every Nth DATA on purpose (-d, default none): ACKs
 *       the end of each window, and on a gap ACKs the last block received
 *       in order (once), so the server must rewind; re-ACKs after ms of
 *       silence. The RRQ is sent twice, as a client whose first answer is
 *       late would. Prints "received=N lost=N acks=N". Exit 0 once the
 *       whole file is in OUTFILE, 1 otherwise.
 *   udpsend -g HOST PORT
 *       A peer that answers garbage: binds HOST:PORT and answers every
 *       datagram with one of the same length whose first 4 bytes are the
 *       request's (an RMCP header, say) and the rest random. Runs until
 *       killed.
 * Default timeout: 2000 ms.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define PKT_MAX 65536

static int timeout_ms = 2000;

static void usage(void)
{
	fprintf(stderr, "usage: udpsend [-t ms] HOST PORT HEX|@FILE\n"
			"       udpsend [-t ms] -n HOST PORT FILENAME [OPTION VALUE]...\n"
			"       udpsend [-t ms] -s HOST PORT FILENAME OUTFILE\n"
			"       udpsend [-t ms] -w WINDOW [-d N] HOST PORT FILENAME OUTFILE\n"
			"       udpsend -g HOST PORT\n");
	exit(2);
}

static int resolve(const char *host, const char *port, struct sockaddr_storage *ret, socklen_t *ret_len)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM,
				  .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV };
	struct addrinfo *ai;
	int r = getaddrinfo(host, port, &hints, &ai);

	if (r != 0) {
		fprintf(stderr, "udpsend: %s:%s: %s\n", host, port, gai_strerror(r));
		return -1;
	}
	memcpy(ret, ai->ai_addr, ai->ai_addrlen);
	*ret_len = ai->ai_addrlen;
	freeaddrinfo(ai);
	return 0;
}

static int udp_socket(int family)
{
	int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		perror("udpsend: socket");
		exit(1);
	}
	return fd;
}

/* Waits up to ms for a datagram: its length, 0 on timeout, exits on error. */
static size_t recv_timeout(int fd, uint8_t *buf, size_t cap, int ms, struct sockaddr_storage *from, socklen_t *from_len)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	ssize_t n;
	int r;

	do
		r = poll(&p, 1, ms);
	while (r < 0 && errno == EINTR);
	if (r == 0)
		return 0;
	*from_len = sizeof(*from);
	n = recvfrom(fd, buf, cap, 0, (struct sockaddr *)from, from_len);
	if (n < 0) {
		perror("udpsend: recvfrom");
		exit(1);
	}
	return (size_t)n;
}

static void print_hex(const char *prefix, const uint8_t *buf, size_t n)
{
	printf("%s", prefix);
	for (size_t i = 0; i < n; i++)
		printf("%02x", buf[i]);
	printf("\n");
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The datagram to send: hex digits, or @FILE. */
static size_t load_packet(const char *arg, uint8_t *buf, size_t cap)
{
	size_t n = 0;
	int hi = -1;

	if (arg[0] == '@') {
		FILE *f = fopen(arg + 1, "rb");
		if (!f) {
			perror(arg + 1);
			exit(2);
		}
		n = fread(buf, 1, cap, f);
		fclose(f);
		return n;
	}
	for (const char *p = arg; *p; p++) {
		int v;
		if (*p == ' ' || *p == ':')
			continue;
		v = hexval(*p);
		if (v < 0 || n >= cap) {
			fprintf(stderr, "udpsend: bad hex: %s\n", arg);
			exit(2);
		}
		if (hi < 0) {
			hi = v;
		} else {
			buf[n++] = (uint8_t)(hi << 4 | v);
			hi = -1;
		}
	}
	if (hi >= 0) {
		fprintf(stderr, "udpsend: odd number of hex digits\n");
		exit(2);
	}
	return n;
}

static size_t put_str(uint8_t *buf, size_t n, size_t cap, const char *s)
{
	size_t l = strlen(s) + 1;
	if (n + l > cap) {
		fprintf(stderr, "udpsend: request too long\n");
		exit(2);
	}
	memcpy(buf + n, s, l);
	return n + l;
}

static void send_to(int fd, const void *buf, size_t n, const struct sockaddr_storage *to, socklen_t to_len)
{
	if (sendto(fd, buf, n, 0, (const struct sockaddr *)to, to_len) < 0) {
		perror("udpsend: sendto");
		exit(1);
	}
}

static void send_ack(int fd, uint16_t block, const struct sockaddr_storage *to, socklen_t to_len)
{
	uint8_t ack[4] = { 0, 4, (uint8_t)(block >> 8), (uint8_t)block };
	send_to(fd, ack, sizeof(ack), to, to_len);
}

static int mode_raw(const struct sockaddr_storage *srv, socklen_t srv_len, const char *arg)
{
	static uint8_t buf[PKT_MAX];
	struct sockaddr_storage from;
	socklen_t from_len;
	size_t n = load_packet(arg, buf, sizeof(buf));
	int fd = udp_socket(srv->ss_family);

	send_to(fd, buf, n, srv, srv_len);
	n = recv_timeout(fd, buf, sizeof(buf), timeout_ms, &from, &from_len);
	if (n == 0) {
		printf("timeout\n");
		return 1;
	}
	print_hex("", buf, n);
	if (n >= 2 && buf[0] == 0 && (buf[1] == 3 || buf[1] == 6)) {
		static const uint8_t bye[] = { 0, 5, 0, 0, 'u', 'd', 'p', 's', 'e', 'n', 'd', 0 };
		send_to(fd, bye, sizeof(bye), &from, from_len);
	}
	close(fd);
	return 0;
}

static int mode_noack(const struct sockaddr_storage *srv, socklen_t srv_len, char **args, int nargs)
{
	static uint8_t buf[PKT_MAX];
	struct sockaddr_storage from;
	socklen_t from_len;
	unsigned data = 0, oack = 0;
	long first = -1;
	size_t n = 2;
	int fd = udp_socket(srv->ss_family);

	buf[0] = 0;
	buf[1] = 1;
	n = put_str(buf, n, 512, args[0]);
	n = put_str(buf, n, 512, "octet");
	for (int i = 1; i + 1 < nargs; i += 2) {
		n = put_str(buf, n, 512, args[i]);
		n = put_str(buf, n, 512, args[i + 1]);
	}
	send_to(fd, buf, n, srv, srv_len);
	for (;;) {
		n = recv_timeout(fd, buf, sizeof(buf), timeout_ms, &from, &from_len);
		if (n == 0) {
			printf("data=%u oack=%u first=%ld error=none\n", data, oack, first);
			return 1;
		}
		if (n >= 4 && buf[0] == 0 && buf[1] == 3) {
			data++;
			if (first < 0)
				first = buf[2] << 8 | buf[3];
		} else if (n >= 2 && buf[0] == 0 && buf[1] == 6) {
			oack++;
		} else if (n >= 4 && buf[0] == 0 && buf[1] == 5) {
			buf[n < sizeof(buf) ? n : sizeof(buf) - 1] = 0;
			printf("data=%u oack=%u first=%ld error=%u %s\n", data, oack, first, buf[2] << 8 | buf[3],
			       (char *)buf + 4);
			return 0;
		}
	}
}

static int mode_stray(const struct sockaddr_storage *srv, socklen_t srv_len, const char *name, const char *out)
{
	static uint8_t buf[PKT_MAX];
	struct sockaddr_storage from, tid;
	socklen_t from_len, tid_len = 0;
	uint16_t expect = 1;
	size_t n = 2;
	int fd = udp_socket(srv->ss_family);
	FILE *f = fopen(out, "wb");

	if (!f) {
		perror(out);
		return 1;
	}
	buf[0] = 0;
	buf[1] = 1;
	n = put_str(buf, n, 512, name);
	n = put_str(buf, n, 512, "octet");
	send_to(fd, buf, n, srv, srv_len);
	for (;;) {
		n = recv_timeout(fd, buf, sizeof(buf), timeout_ms, &from, &from_len);
		if (n == 0) {
			fprintf(stderr, "udpsend: timeout waiting for block %u\n", expect);
			return 1;
		}
		if (n >= 4 && buf[0] == 0 && buf[1] == 5) {
			buf[n < sizeof(buf) ? n : sizeof(buf) - 1] = 0;
			fprintf(stderr, "udpsend: ERROR %u %s\n", buf[2] << 8 | buf[3], (char *)buf + 4);
			return 1;
		}
		if (n < 4 || buf[0] != 0 || buf[1] != 3)
			continue;
		if (!tid_len) {
			tid = from;
			tid_len = from_len;
		} else if (from_len != tid_len || memcmp(&from, &tid, from_len) != 0) {
			continue;
		}
		if ((uint16_t)(buf[2] << 8 | buf[3]) != expect) {
			send_ack(fd, (uint16_t)(expect - 1), &tid, tid_len);
			continue;
		}
		fwrite(buf + 4, 1, n - 4, f);
		if (expect == 1) {
			/* The wrong TID: another port of ours, an ACK the server must not take. */
			int other = udp_socket(srv->ss_family);
			uint8_t reply[600];
			size_t m;
			send_ack(other, 1, &tid, tid_len);
			m = recv_timeout(other, reply, sizeof(reply), timeout_ms, &from, &from_len);
			if (m)
				print_hex("stray=", reply, m);
			else
				printf("stray=none\n");
			fflush(stdout);
			close(other);
		}
		send_ack(fd, expect, &tid, tid_len);
		if (n - 4 < 512)
			break;
		expect++;
	}
	if (fclose(f) != 0) {
		perror(out);
		return 1;
	}
	return 0;
}

static int mode_window(const struct sockaddr_storage *srv, socklen_t srv_len, const char *name, const char *out,
		       unsigned window, unsigned lose_every)
{
	static uint8_t buf[PKT_MAX];
	struct sockaddr_storage from, tid;
	socklen_t from_len, tid_len = 0;
	unsigned received = 0, lost = 0, acks = 0, since_ack = 0, silent = 0;
	uint16_t expect = 1, acked_gap = 0;
	char ws[16];
	size_t n = 2;
	int fd = udp_socket(srv->ss_family);
	FILE *f = fopen(out, "wb");

	if (!f) {
		perror(out);
		return 1;
	}
	snprintf(ws, sizeof(ws), "%u", window);
	buf[0] = 0;
	buf[1] = 1;
	n = put_str(buf, n, 512, name);
	n = put_str(buf, n, 512, "octet");
	n = put_str(buf, n, 512, "windowsize");
	n = put_str(buf, n, 512, ws);
	send_to(fd, buf, n, srv, srv_len);
	send_to(fd, buf, n, srv, srv_len);
	for (;;) {
		uint16_t block;
		n = recv_timeout(fd, buf, sizeof(buf), timeout_ms, &from, &from_len);
		if (n == 0) {
			if (++silent > 5 || !tid_len) {
				fprintf(stderr, "udpsend: nothing for %d ms, block %u\n", timeout_ms * silent, expect);
				return 1;
			}
			/* RFC 7440: on a timeout the receiver ACKs the last block it has in order. */
			send_ack(fd, (uint16_t)(expect - 1), &tid, tid_len);
			acks++;
			continue;
		}
		silent = 0;
		if (n >= 4 && buf[0] == 0 && buf[1] == 5) {
			buf[n < sizeof(buf) ? n : sizeof(buf) - 1] = 0;
			fprintf(stderr, "udpsend: ERROR %u %s\n", buf[2] << 8 | buf[3], (char *)buf + 4);
			return 1;
		}
		if (!tid_len) {
			tid = from;
			tid_len = from_len;
		} else if (from_len != tid_len || memcmp(&from, &tid, from_len) != 0) {
			fprintf(stderr, "udpsend: a second transfer answered: the duplicate RRQ was not recognized\n");
			return 1;
		}
		if (n >= 2 && buf[0] == 0 && buf[1] == 6) {
			send_ack(fd, 0, &tid, tid_len);
			acks++;
			continue;
		}
		if (n < 4 || buf[0] != 0 || buf[1] != 3)
			continue;
		received++;
		if (lose_every && received % lose_every == 0) {
			lost++;
			continue;
		}
		block = (uint16_t)(buf[2] << 8 | buf[3]);
		if (block != expect) {
			/* A gap (or an old block): ACK what we have, once per gap. */
			if (acked_gap != expect) {
				send_ack(fd, (uint16_t)(expect - 1), &tid, tid_len);
				acks++;
				acked_gap = expect;
				since_ack = 0;
			}
			continue;
		}
		fwrite(buf + 4, 1, n - 4, f);
		expect++;
		since_ack++;
		if (n - 4 < 512) {
			send_ack(fd, (uint16_t)(expect - 1), &tid, tid_len);
			acks++;
			break;
		}
		if (since_ack == window) {
			send_ack(fd, (uint16_t)(expect - 1), &tid, tid_len);
			acks++;
			since_ack = 0;
		}
	}
	if (fclose(f) != 0) {
		perror(out);
		return 1;
	}
	printf("received=%u lost=%u acks=%u\n", received, lost, acks);
	return 0;
}

/* -g: answers every datagram with garbage of the same length. */
static int mode_garbage(const struct sockaddr_storage *addr, socklen_t addr_len)
{
	int fd = udp_socket(addr->ss_family);
	uint8_t buf[PKT_MAX];
	unsigned seed = (unsigned)getpid();

	if (bind(fd, (const struct sockaddr *)addr, addr_len) < 0) {
		perror("udpsend: bind");
		return 1;
	}
	for (;;) {
		struct sockaddr_storage from;
		socklen_t from_len = sizeof(from);
		ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &from_len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			perror("udpsend: recvfrom");
			return 1;
		}
		for (ssize_t i = 4; i < n; i++)
			buf[i] = (uint8_t)rand_r(&seed);
		sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&from, from_len);
	}
}

int main(int argc, char **argv)
{
	struct sockaddr_storage srv;
	socklen_t srv_len;
	unsigned window = 1, lose_every = 0;
	char mode = 'r';
	int opt;

	while ((opt = getopt(argc, argv, "t:nsw:d:g")) != -1) {
		switch (opt) {
		case 't':
			timeout_ms = atoi(optarg);
			break;
		case 'w':
			mode = 'w';
			window = (unsigned)atoi(optarg);
			break;
		case 'd':
			lose_every = (unsigned)atoi(optarg);
			break;
		case 'n':
		case 's':
		case 'g':
			mode = (char)opt;
			break;
		default:
			usage();
		}
	}
	argv += optind;
	argc -= optind;
	if (argc < (mode == 'g' ? 2 : 3) || timeout_ms <= 0)
		usage();
	if (resolve(argv[0], argv[1], &srv, &srv_len) < 0)
		return 2;
	if (mode == 'g')
		return mode_garbage(&srv, srv_len);
	setvbuf(stdout, NULL, _IOLBF, 0);
	switch (mode) {
	case 'n':
		return mode_noack(&srv, srv_len, argv + 2, argc - 2);
	case 's':
		if (argc != 4)
			usage();
		return mode_stray(&srv, srv_len, argv[2], argv[3]);
	case 'w':
		if (argc != 4 || window == 0)
			usage();
		return mode_window(&srv, srv_len, argv[2], argv[3], window, lose_every);
	default:
		if (argc != 3)
			usage();
		return mode_raw(&srv, srv_len, argv[2]);
	}
}
