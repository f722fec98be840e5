// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * ctseed.c - open many UDP flows outbound, one datagram each, so that a
 * stateful firewall on the way out (lbagent's TC egress program, nftables
 * conntrack) tracks them and lets their replies in.
 *
 *   ctseed --src ADDR --sport N --dst ADDR --addrs A --dport N --flows F
 *
 * Flow i goes from ADDR:sport to (dst + i % A):(dport + i / A): the reverse
 * of flow i of `lbgen send --src dst/LEN --flows F` when A is the number of
 * sources lbgen takes from that prefix.  Prints the datagrams sent and the
 * send errors (a full queue on the far side does not matter: the packet went
 * through the egress hooks before it was refused).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <getopt.h>
#include <sys/socket.h>

static unsigned long num(const char *opt, const char *s, unsigned long max)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v > max) {
		fprintf(stderr, "ctseed: %s: `%s' is not a number up to %lu\n", opt, s, max);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "src", 1, NULL, 's' },   { "sport", 1, NULL, 'p' }, { "dst", 1, NULL, 'd' },
		{ "addrs", 1, NULL, 'a' }, { "dport", 1, NULL, 'q' }, { "flows", 1, NULL, 'f' },
		{ 0 }
	};
	struct sockaddr_in src = { .sin_family = AF_INET }, dst = { .sin_family = AF_INET };
	unsigned long sport = 0, dport = 0, addrs = 1, flows = 0, sent = 0, errs = 0;
	uint32_t base;
	int o, fd, one = 1;

	while ((o = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (o) {
		case 's':
			if (inet_pton(AF_INET, optarg, &src.sin_addr) != 1)
				goto usage;
			break;
		case 'd':
			if (inet_pton(AF_INET, optarg, &dst.sin_addr) != 1)
				goto usage;
			break;
		case 'p': sport = num("--sport", optarg, 65535); break;
		case 'q': dport = num("--dport", optarg, 65535); break;
		case 'a': addrs = num("--addrs", optarg, 1UL << 24); break;
		case 'f': flows = num("--flows", optarg, 1UL << 24); break;
		default: goto usage;
		}
	}
	if (optind != argc || !flows || !addrs || !dport ||
	    dport + (flows - 1) / addrs > 65535)
		goto usage;
	src.sin_port = htons((uint16_t)sport);
	base = ntohl(dst.sin_addr.s_addr);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&src, sizeof(src))) {
		fprintf(stderr, "ctseed: socket bound to %s:%lu: %s\n", inet_ntoa(src.sin_addr),
			sport, strerror(errno));
		return 1;
	}
	for (unsigned long i = 0; i < flows; i++) {
		dst.sin_addr.s_addr = htonl(base + (uint32_t)(i % addrs));
		dst.sin_port = htons((uint16_t)(dport + i / addrs));
		if (sendto(fd, "x", 1, 0, (struct sockaddr *)&dst, sizeof(dst)) == 1)
			sent++;
		else
			errs++;
	}
	close(fd);
	printf("%lu sent, %lu errors\n", sent, errs);
	return 0;
usage:
	fprintf(stderr, "usage: ctseed --src ADDR --sport N --dst ADDR --addrs A --dport N --flows F\n");
	return 2;
}
