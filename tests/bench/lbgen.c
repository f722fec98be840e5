// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * lbgen.c - a traffic generator at the machine's top rate, and its sink.
 *
 *   lbgen [send] --dev veth0 [--flows N] [--duration S | --count N] [--json] ...
 *   lbgen sink --dev veth1 --mode drop|count|stack [--duration S] [--json]
 *
 * send: BPF_PROG_RUN with BPF_F_TEST_XDP_LIVE_FRAMES on gen_redirect
 * (bpf/bench_gen.bpf.c), which redirects every frame into the veth, so the
 * frames arrive at its peer as received packets: the peer's XDP program, or
 * its stack, sees them.  Frames come from a template (IPv4/IPv6, UDP/TCP,
 * valid checksums, destination MAC = the peer's); with --flows N the program
 * rewrites the source address and port of each frame.  Reports packets,
 * seconds, Mpps.  Before sending, a few frames are run in plain test mode and
 * their checksums and sources checked here.
 *
 * sink: holds an XDP program on the receiving veth through a bpf_link for a
 * bounded time (or until SIGINT/SIGTERM): xdp_drop_prog (the ceiling),
 * gen_count (counts distinct flows), or none (the stack; GRO is switched on
 * so that the veth has the NAPI instance that XDP frames need).  Reports the
 * device's received packets and, for count, the flows.
 *
 * Everything works inside `nsenter --net=...`: devices are resolved through
 * sockets and `ip -j`, never through /sys, which still shows the host's
 * namespace when only the network namespace changes.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <jansson.h>
#include "bench_gen.skel.h"
#include "xdp_drop.skel.h"
#include "lberr.h"
#include "lbgen.h"
#include "pkt.h"

#ifndef BPF_F_TEST_XDP_LIVE_FRAMES
#define BPF_F_TEST_XDP_LIVE_FRAMES (1U << 1)
#endif

#define MAX_FRAME 1514		/* the veth's default MTU plus the Ethernet header */
#define DEF_SIZE 64		/* frame length without FCS */
#define MAX_SECONDS 3600.0	/* every run is bounded in time */
#define DEF_SECONDS 5.0
#define CHUNK_MIN 4096		/* packets per BPF_PROG_RUN call */
#define CHUNK_MAX (1 << 20)
#define CHECK_FRAMES 256	/* frames checked in plain test mode before sending */

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* ---- parsing ---- */

static bool parse_u64(const char *opt, const char *s, uint64_t min, uint64_t max, uint64_t *out,
		      struct lb_err *err)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *end || *s == '-' || v < min || v > max) {
		lb_errf(err, EINVAL, "%s is not a number from %llu to %llu: `%s'", opt,
			(unsigned long long)min, (unsigned long long)max, s);
		return false;
	}
	*out = v;
	return true;
}

static bool parse_seconds(const char *opt, const char *s, double *out, struct lb_err *err)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v > 0 && v <= MAX_SECONDS)) {
		lb_errf(err, EINVAL, "%s is not a time in seconds, above 0 and at most %.0f: `%s'",
			opt, MAX_SECONDS, s);
		return false;
	}
	*out = v;
	return true;
}

/* Six hex bytes separated by colons. */
static bool parse_mac(const char *s, uint8_t mac[6], struct lb_err *err)
{
	const char *p = s;
	char *end;

	for (int i = 0; i < 6; i++, p = end + 1) {
		unsigned long b;

		errno = 0;
		b = strtoul(p, &end, 16);
		if (!isxdigit((unsigned char)*p) || errno || end - p > 2 || b > 0xff ||
		    *end != (i < 5 ? ':' : 0)) {
			lb_errf(err, EINVAL, "--dst-mac is not a MAC address like "
				"02:00:00:00:00:01: `%s'", s);
			return false;
		}
		mac[i] = (uint8_t)b;
	}
	return true;
}

static int family_af(int family)
{
	return family == 4 ? AF_INET : AF_INET6;
}

/* ---- devices, resolved in the current network namespace ---- */

/* Enters the network namespace at path (NULL: stay); returns the fd to come back, or -errno. */
static int netns_enter(const char *path)
{
	int self, fd;

	if (!path)
		return -ENOENT;
	self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (self < 0 || fd < 0 || setns(fd, CLONE_NEWNET)) {
		int r = -errno;

		if (self >= 0)
			close(self);
		if (fd >= 0)
			close(fd);
		return r;
	}
	close(fd);
	return self;
}

static void netns_leave(int self)
{
	if (self < 0)
		return;
	if (setns(self, CLONE_NEWNET)) {
		/* Stuck in the wrong namespace: nothing after this would be right. */
		perror("lbgen: returning to the network namespace");
		exit(1);
	}
	close(self);
}

/* A socket of the namespace at path (NULL: this one): its ioctls answer for that namespace. */
static int netns_socket(const char *path)
{
	int self = path ? netns_enter(path) : -1, sock;

	if (path && self < 0)
		return self;
	sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sock < 0)
		sock = -errno;
	netns_leave(self);
	return sock;
}

/* `ip -j FLAG link show dev NAME` in the namespace at netns (NULL: this one), parsed. */
static json_t *ip_link_json(const char *name, const char *flag, const char *netns)
{
	json_t *j = NULL;
	int fds[2], status;
	pid_t pid;
	FILE *f;

	if (pipe2(fds, O_CLOEXEC))
		return NULL;
	pid = fork();
	if (pid == 0) {
		dup2(fds[1], STDOUT_FILENO);
		if (netns && netns_enter(netns) < 0)
			_exit(126);
		execlp("ip", "ip", "-j", flag, "link", "show", "dev", name, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	f = fdopen(fds[0], "r");
	if (f) {
		j = json_loadf(f, 0, NULL);
		fclose(f);
	} else {
		close(fds[0]);
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
	    WEXITSTATUS(status)) {
		json_decref(j);
		return NULL;
	}
	return j;
}

/* Name and index of --dev or --ifindex. */
static int resolve_dev(const char *dev, uint64_t ifindex, char name[IF_NAMESIZE], int *index,
		       struct lb_err *err)
{
	if (dev) {
		*index = (int)if_nametoindex(dev);
		if (!*index)
			return lb_errf(err, errno, "no device `%s' in this network namespace", dev);
		snprintf(name, IF_NAMESIZE, "%s", dev);
		return 0;
	}
	if (!ifindex)
		return lb_errf(err, EINVAL, "give the device: --dev NAME or --ifindex N");
	if (!if_indextoname((unsigned int)ifindex, name))
		return lb_errf(err, errno, "no device with ifindex %llu in this network namespace",
			       (unsigned long long)ifindex);
	*index = (int)ifindex;
	return 0;
}

/* The other end of a veth: its name in its namespace, NULL netns for this one. */
struct peer {
	char name[IF_NAMESIZE];
	const char *netns;
};

/* Name of device index in the namespace at path. */
static int netns_ifname(const char *path, int index, char name[IF_NAMESIZE])
{
	struct ifreq ifr = { .ifr_ifindex = index };
	int sock = netns_socket(path), r = 0;

	if (sock < 0)
		return sock;
	if (ioctl(sock, SIOCGIFNAME, &ifr))
		r = -errno;
	else
		snprintf(name, IF_NAMESIZE, "%s", ifr.ifr_name);
	close(sock);
	return r;
}

/* Finds the veth's peer through `ip -j -d link`: "link" names it here, "link_index" elsewhere. */
static int find_peer(const char *name, const char *netns, struct peer *pr, struct lb_err *err)
{
	json_t *j = ip_link_json(name, "-d", NULL), *l = json_array_get(j, 0);
	const char *kind = json_string_value(
		json_object_get(json_object_get(l, "linkinfo"), "info_kind"));
	const char *here = json_string_value(json_object_get(l, "link"));
	json_t *index = json_object_get(l, "link_index");
	int r = 0;

	pr->netns = here ? NULL : netns;
	if (!kind || strcmp(kind, "veth"))
		r = lb_errf(err, ENOTSUP, "%s is not a veth (or `ip -j -d link' failed): give the "
			    "destination MAC with --dst-mac", name);
	else if (here)
		snprintf(pr->name, IF_NAMESIZE, "%s", here);
	else if (!json_is_integer(index))
		r = lb_errf(err, ENOENT, "`ip -j -d link show dev %s' names no peer", name);
	else if (!netns)
		r = lb_errf(err, EXDEV, "the peer of %s is in another network namespace: give "
			    "--peer-netns /run/netns/NAME (or --dst-mac MAC)", name);
	else if ((r = netns_ifname(netns, (int)json_integer_value(index), pr->name)))
		lb_errf(err, r, "no device %lld, the peer of %s, in %s: %s",
			json_integer_value(index), name, netns, strerror(-r));
	json_decref(j);
	return r;
}

/* MAC address of device name in the namespace at netns (NULL: this one). */
static int dev_mac(const char *name, const char *netns, uint8_t mac[6])
{
	struct ifreq ifr = { 0 };
	int sock = netns_socket(netns), r = 0;

	if (sock < 0)
		return sock;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(sock, SIOCGIFHWADDR, &ifr))
		r = -errno;
	else
		memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	close(sock);
	return r;
}

/* Received packets of a device (a veth counts the XDP frames it receives there too). */
static long long rx_packets(const char *name, const char *netns)
{
	json_t *j = ip_link_json(name, "-s", netns);
	json_t *v = json_object_get(
		json_object_get(json_object_get(json_array_get(j, 0), "stats64"), "rx"), "packets");
	long long n = json_is_integer(v) ? json_integer_value(v) : -1;

	json_decref(j);
	return n;
}

/* ---- send: options ---- */

enum vary { VARY_AUTO, VARY_ADDR, VARY_PORT };

struct gen_cfg {
	const char *dev, *peer_netns, *src, *dst;
	uint64_t ifindex, flows, count, size, cpu, batch;
	uint16_t sport, dport;
	uint8_t dmac[6], proto, tcp_flags;
	int family;
	bool dmac_set, scatter, json, cpu_set;
	enum vary vary;
	double duration;
};

static const char send_usage[] =
	"usage: lbgen [send] (--dev NAME | --ifindex N) [options]\n"
	"  --dst-mac MAC        destination MAC (default: the veth peer's, see --peer-netns)\n"
	"  --peer-netns PATH    network namespace of the peer, to read its MAC\n"
	"  --family 4|6         (4)   --proto udp|tcp (udp)   --tcp-flags syn|ack (syn)\n"
	"  --src ADDR[/LEN]     sources (198.18.128.0/17, 2001:db8:1::/64)\n"
	"  --dst ADDR           destination (198.18.0.2, 2001:db8::2)\n"
	"  --sport N (40000)    --dport N (9000)    --size BYTES (64, frame without FCS)\n"
	"  --flows N (1)        flows: source address and/or port vary per packet\n"
	"  --vary auto|addr|port  auto: addresses of the prefix first, then ports\n"
	"  --order scatter|seq  flow order: scattered (default) or sequential\n"
	"  --count N            packets      --duration SEC (5 if neither, at most 3600)\n"
	"  --cpu N              pin          --batch N (64, 1-256)    --json\n";

enum {
	OPT_DEV = 256, OPT_IFINDEX, OPT_DMAC, OPT_PEERNS, OPT_FAMILY, OPT_PROTO, OPT_TCPFLAGS,
	OPT_SRC, OPT_DST, OPT_SPORT, OPT_DPORT, OPT_SIZE, OPT_FLOWS, OPT_VARY, OPT_ORDER,
	OPT_COUNT, OPT_DURATION, OPT_CPU, OPT_BATCH, OPT_JSON, OPT_MODE, OPT_READY, OPT_HELP,
};

static const struct option send_opts[] = {
	{ "dev", 1, NULL, OPT_DEV },		{ "ifindex", 1, NULL, OPT_IFINDEX },
	{ "dst-mac", 1, NULL, OPT_DMAC },	{ "peer-netns", 1, NULL, OPT_PEERNS },
	{ "family", 1, NULL, OPT_FAMILY },	{ "proto", 1, NULL, OPT_PROTO },
	{ "tcp-flags", 1, NULL, OPT_TCPFLAGS },	{ "src", 1, NULL, OPT_SRC },
	{ "dst", 1, NULL, OPT_DST },		{ "sport", 1, NULL, OPT_SPORT },
	{ "dport", 1, NULL, OPT_DPORT },	{ "size", 1, NULL, OPT_SIZE },
	{ "flows", 1, NULL, OPT_FLOWS },	{ "vary", 1, NULL, OPT_VARY },
	{ "order", 1, NULL, OPT_ORDER },	{ "count", 1, NULL, OPT_COUNT },
	{ "duration", 1, NULL, OPT_DURATION },	{ "cpu", 1, NULL, OPT_CPU },
	{ "batch", 1, NULL, OPT_BATCH },	{ "json", 0, NULL, OPT_JSON },
	{ "help", 0, NULL, OPT_HELP },		{ NULL, 0, NULL, 0 },
};

/* One choice among words; false with a message quoting the value. */
static bool parse_word(const char *opt, const char *s, const char *const *words, int n, int *out,
		       struct lb_err *err)
{
	for (int i = 0; i < n; i++) {
		if (!strcmp(s, words[i])) {
			*out = i;
			return true;
		}
	}
	lb_errf(err, EINVAL, "%s is not one of %s%s%s%s%s: `%s'", opt, words[0], n > 1 ? ", " : "",
		n > 1 ? words[1] : "", n > 2 ? ", " : "", n > 2 ? words[2] : "", s);
	return false;
}

static bool send_opt_word(struct gen_cfg *c, int opt, const char *arg, struct lb_err *err)
{
	static const char *const fam[] = { "4", "6" }, *const proto[] = { "udp", "tcp" };
	static const char *const flags[] = { "syn", "ack" }, *const order[] = { "seq", "scatter" };
	static const char *const vary[] = { "auto", "addr", "port" };
	int w;

	switch (opt) {
	case OPT_FAMILY:
		if (!parse_word("--family", arg, fam, 2, &w, err))
			return false;
		c->family = w ? 6 : 4;
		return true;
	case OPT_PROTO:
		if (!parse_word("--proto", arg, proto, 2, &w, err))
			return false;
		c->proto = w ? IPPROTO_TCP : IPPROTO_UDP;
		return true;
	case OPT_TCPFLAGS:
		if (!parse_word("--tcp-flags", arg, flags, 2, &w, err))
			return false;
		c->tcp_flags = w ? PKT_ACK : PKT_SYN;
		return true;
	case OPT_ORDER:
		if (!parse_word("--order", arg, order, 2, &w, err))
			return false;
		c->scatter = w == 1;
		return true;
	default:
		if (!parse_word("--vary", arg, vary, 3, &w, err))
			return false;
		c->vary = (enum vary)w;
		return true;
	}
}

static bool send_opt_num(struct gen_cfg *c, int opt, const char *arg, struct lb_err *err)
{
	uint64_t v;

	switch (opt) {
	case OPT_IFINDEX:
		return parse_u64("--ifindex", arg, 1, INT32_MAX, &c->ifindex, err);
	case OPT_SPORT:
	case OPT_DPORT:
		if (!parse_u64(opt == OPT_SPORT ? "--sport" : "--dport", arg, 1, 65535, &v, err))
			return false;
		*(opt == OPT_SPORT ? &c->sport : &c->dport) = (uint16_t)v;
		return true;
	case OPT_SIZE:
		return parse_u64("--size", arg, 1, MAX_FRAME, &c->size, err);
	case OPT_FLOWS:
		/* At most 2^31: the program's 32-bit digit sums then cannot overflow. */
		return parse_u64("--flows", arg, 1, 1U << 31, &c->flows, err);
	case OPT_COUNT:
		return parse_u64("--count", arg, 1, UINT64_MAX / 2, &c->count, err);
	case OPT_DURATION:
		return parse_seconds("--duration", arg, &c->duration, err);
	case OPT_BATCH:
		return parse_u64("--batch", arg, 1, 256, &c->batch, err);
	default:
		c->cpu_set = true;
		return parse_u64("--cpu", arg, 0, CPU_SETSIZE - 1, &c->cpu, err);
	}
}

static bool send_opt(struct gen_cfg *c, int opt, const char *arg, struct lb_err *err)
{
	switch (opt) {
	case OPT_DEV:
		c->dev = arg;
		return true;
	case OPT_DMAC:
		c->dmac_set = true;
		return parse_mac(arg, c->dmac, err);
	case OPT_PEERNS:
		c->peer_netns = arg;
		return true;
	case OPT_SRC:
		c->src = arg;
		return true;
	case OPT_DST:
		c->dst = arg;
		return true;
	case OPT_JSON:
		c->json = true;
		return true;
	case OPT_FAMILY:
	case OPT_PROTO:
	case OPT_TCPFLAGS:
	case OPT_ORDER:
	case OPT_VARY:
		return send_opt_word(c, opt, arg, err);
	default:
		return send_opt_num(c, opt, arg, err);
	}
}

static int parse_send(int argc, char **argv, struct gen_cfg *c, struct lb_err *err)
{
	int opt;

	*c = (struct gen_cfg){ .family = 4, .proto = IPPROTO_UDP, .tcp_flags = PKT_SYN,
			       .sport = 40000, .dport = 9000, .flows = 1, .scatter = true,
			       .batch = 64 };
	optind = 1;
	while ((opt = getopt_long(argc, argv, "", send_opts, NULL)) != -1) {
		if (opt == OPT_HELP || opt == '?') {
			fputs(send_usage, opt == '?' ? stderr : stdout);
			exit(opt == '?' ? 2 : 0);
		}
		if (!send_opt(c, opt, optarg, err))
			return -EINVAL;
	}
	if (optind < argc)
		return lb_errf(err, EINVAL, "unexpected argument `%s'", argv[optind]);
	if (!c->count && !c->duration)
		c->duration = DEF_SECONDS;
	if (!c->duration)
		c->duration = MAX_SECONDS;
	if (!c->count)
		c->count = UINT64_MAX / 2;
	return 0;
}

/* ---- send: sources, template, checksums ---- */

/* The sources: addresses first..first+hosts-1 in the last 32 bits of addr. */
struct src_range {
	uint8_t addr[16];	/* first source, network order */
	uint32_t first;		/* its last 32 bits, host order */
	uint64_t hosts;
};

/*
 * ADDR[/LEN].  Only the last 32 bits vary; an IPv4 prefix of 30 bits or less
 * leaves out its network and broadcast addresses, an IPv6 one its subnet-router
 * anycast address.  An address inside the prefix is where the range starts.
 */
static int parse_src(const char *text, int family, struct src_range *r, struct lb_err *err)
{
	int bits = family == 4 ? 32 : 128, len = bits, vb;
	char buf[INET6_ADDRSTRLEN + 8], *slash, *end = NULL;
	uint32_t low, mask, net, first, last;

	snprintf(buf, sizeof(buf), "%s", text);
	slash = strchr(buf, '/');
	if (slash) {
		*slash = 0;
		len = (int)strtol(slash + 1, &end, 10);
	}
	if (inet_pton(family_af(family), buf, r->addr) != 1 || len < 0 || len > bits ||
	    (slash && (end == slash + 1 || *end)))
		return lb_errf(err, EINVAL, "--src is not an IPv%d address or prefix: `%s'", family,
			       text);
	vb = bits - len > 32 ? 32 : bits - len;
	low = (uint32_t)r->addr[bits / 8 - 4] << 24 | (uint32_t)r->addr[bits / 8 - 3] << 16 |
	      (uint32_t)r->addr[bits / 8 - 2] << 8 | r->addr[bits / 8 - 1];
	mask = vb == 32 ? UINT32_MAX : (1U << vb) - 1;
	net = low & ~mask;
	first = net + (family == 4 ? vb >= 2 : vb >= 1);
	last = net + mask - (family == 4 && vb >= 2);
	r->first = low > first ? low : first;
	if (r->first > last)
		return lb_errf(err, EINVAL, "--src leaves no address to send from: `%s'", text);
	r->hosts = (uint64_t)last - r->first + 1;
	pkt_put32(r->addr + bits / 8 - 4, r->first);
	return 0;
}

/* How the flows map onto sources, and where the program writes them. */
struct gen_plan {
	const char *src_text;	/* --src, or the family's default */
	struct src_range src;
	uint8_t dst[16], smac[6], dmac[6];
	struct peer peer;
	bool peer_known;	/* its received packets can be read */
	uint32_t addrs, stride;
	uint16_t off_saddr, off_addr, off_sport, off_l4csum, off_ipcsum;
	uint32_t ip_sum, l4_sum;
	uint8_t frame[MAX_FRAME];
	size_t len;
};

static uint64_t gcd(uint64_t a, uint64_t b)
{
	while (b) {
		uint64_t t = a % b;

		a = b;
		b = t;
	}
	return a;
}

/* A stride near the golden ratio of n, coprime to n: consecutive flows land far apart. */
static uint32_t scatter_stride(uint32_t n)
{
	uint64_t s;

	if (n <= 2)
		return 1;
	for (s = (uint64_t)(n * 0.6180339887); gcd(s, n) != 1; s++)
		;
	return (uint32_t)s;
}

static int plan_flows(const struct gen_cfg *c, struct gen_plan *p, struct lb_err *err)
{
	uint64_t ports;

	if (c->vary == VARY_PORT)
		p->addrs = 1;
	else
		p->addrs = (uint32_t)(c->flows < p->src.hosts ? c->flows : p->src.hosts);
	if (c->vary == VARY_ADDR && p->addrs < c->flows)
		return lb_errf(err, EINVAL, "--flows %llu: --src `%s' holds %llu addresses",
			       (unsigned long long)c->flows, p->src_text,
			       (unsigned long long)p->src.hosts);
	ports = (c->flows + p->addrs - 1) / p->addrs;
	if (c->sport + ports - 1 > 65535)
		return lb_errf(err, EINVAL, "--flows %llu needs %llu source ports from --sport %u: "
			       "beyond 65535", (unsigned long long)c->flows,
			       (unsigned long long)ports, c->sport);
	p->stride = c->scatter ? scatter_stride((uint32_t)c->flows) : 1;
	return 0;
}

/* Ones' complement sum folded to 16 bits, not inverted. */
static uint32_t fold16(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return sum;
}

/*
 * The sums the program adds the varying fields to: the IPv4 header, and the
 * L4 pseudo-header and segment, with the varying address bits, the source
 * port and the checksums zeroed.
 */
static void plan_sums(const struct gen_cfg *c, struct gen_plan *p)
{
	size_t l3 = 14, l4 = l3 + (c->family == 4 ? 20 : 40), alen = c->family == 4 ? 4 : 16;
	size_t saddr = l3 + (c->family == 4 ? 12 : 8), l4len = p->len - l4;
	uint8_t t[MAX_FRAME];
	uint32_t sum;

	p->off_saddr = (uint16_t)saddr;
	p->off_addr = (uint16_t)(saddr + alen - 4);
	p->off_sport = (uint16_t)l4;
	p->off_l4csum = (uint16_t)(l4 + (c->proto == IPPROTO_UDP ? 6 : 16));
	p->off_ipcsum = c->family == 4 ? (uint16_t)(l3 + 10) : 0;
	memcpy(t, p->frame, p->len);
	memset(t + p->off_addr, 0, 4);
	memset(t + p->off_sport, 0, 2);
	memset(t + p->off_l4csum, 0, 2);
	if (p->off_ipcsum) {
		memset(t + p->off_ipcsum, 0, 2);
		p->ip_sum = fold16(pkt_sum(0, t + l3, 20));
	}
	sum = pkt_sum(0, t + saddr, 2 * alen) + c->proto + (uint32_t)l4len;
	p->l4_sum = fold16(pkt_sum(sum, t + l4, l4len));
}

/* The first flow's frame, from the project's test packet builder. */
static int plan_frame(const struct gen_cfg *c, struct gen_plan *p, struct lb_err *err)
{
	size_t hdr = 14 + (c->family == 4 ? 20 : 40) + (c->proto == IPPROTO_UDP ? 8 : 20);
	size_t size = c->size ? c->size : (hdr > DEF_SIZE ? hdr : DEF_SIZE);
	struct pkt_spec s = { .family = (uint8_t)c->family, .proto = c->proto,
			      .sport = c->sport, .dport = c->dport,
			      .tcp_flags = c->proto == IPPROTO_TCP ? c->tcp_flags : 0 };

	if (size < hdr)
		return lb_errf(err, EINVAL, "--size %zu is below the %zu bytes of the headers",
			       size, hdr);
	s.payload = (uint16_t)(size - hdr);
	memcpy(s.saddr, p->src.addr, 16);
	memcpy(s.daddr, p->dst, 16);
	p->len = pkt_build(&s, p->frame, sizeof(p->frame));
	if (p->len != size)
		return lb_errf(err, EINVAL, "building a %zu-byte frame failed", size);
	memcpy(p->frame, p->dmac, 6);
	memcpy(p->frame + 6, p->smac, 6);
	plan_sums(c, p);
	return 0;
}

static int plan_addrs(const struct gen_cfg *c, struct gen_plan *p, struct lb_err *err)
{
	const char *dst = c->dst ? c->dst : c->family == 4 ? "198.18.0.2" : "2001:db8::2";

	p->src_text = c->src ? c->src : c->family == 4 ? "198.18.128.0/17" : "2001:db8:1::/64";
	if (parse_src(p->src_text, c->family, &p->src, err))
		return -EINVAL;
	if (inet_pton(family_af(c->family), dst, p->dst) != 1)
		return lb_errf(err, EINVAL, "--dst is not an IPv%d address: `%s'", c->family, dst);
	return 0;
}

/* ---- send: the program ---- */

static struct bench_gen *gen_load(const struct gen_cfg *c, const struct gen_plan *p, int ifindex,
				  struct lb_err *err)
{
	struct bench_gen *g = bench_gen__open();

	if (!g) {
		lb_errf(err, errno, "opening bench_gen: %s", strerror(errno));
		return NULL;
	}
	g->rodata->gen_ifindex = (uint32_t)ifindex;
	g->rodata->gen_flows = (uint32_t)c->flows;
	g->rodata->gen_addrs = p->addrs;
	g->rodata->gen_stride = p->stride;
	g->rodata->gen_stride_addr = p->stride % p->addrs;
	g->rodata->gen_stride_port = p->stride / p->addrs;
	g->rodata->gen_flows_addr = (uint32_t)(c->flows % p->addrs);
	g->rodata->gen_flows_port = (uint32_t)(c->flows / p->addrs);
	g->rodata->gen_addr_base = p->src.first;
	g->rodata->gen_sport_base = c->sport;
	g->rodata->gen_off_addr = p->off_addr;
	g->rodata->gen_off_sport = p->off_sport;
	g->rodata->gen_off_l4csum = p->off_l4csum;
	g->rodata->gen_off_ipcsum = p->off_ipcsum;
	g->rodata->gen_ip_sum = p->ip_sum;
	g->rodata->gen_l4_sum = p->l4_sum;
	g->rodata->gen_udp = c->proto == IPPROTO_UDP;
	bpf_program__set_autoload(g->progs.gen_count, false);
	if (bench_gen__load(g)) {
		lb_errf(err, errno, "loading gen_redirect: %s", strerror(errno));
		bench_gen__destroy(g);
		return NULL;
	}
	return g;
}

/* Flow of the frame with sequence number n, as gen_redirect computes it. */
static void flow_source(const struct gen_cfg *c, const struct gen_plan *p, uint64_t n,
			uint32_t *addr, uint16_t *sport)
{
	uint32_t f = (uint32_t)(n % c->flows * p->stride % c->flows);

	*addr = p->src.first + f % p->addrs;
	*sport = (uint16_t)(c->sport + f / p->addrs);
}

/* Frame n as sent: its source is flow n's and every checksum sums to 0xffff. */
static bool frame_ok(const struct gen_cfg *c, const struct gen_plan *p, const uint8_t *f,
		     uint64_t n)
{
	size_t alen = c->family == 4 ? 4 : 16, l4len = p->len - p->off_sport;
	uint8_t want[6];
	uint32_t addr, sum;
	uint16_t sport;

	flow_source(c, p, n, &addr, &sport);
	pkt_put32(want, addr);
	pkt_put16(want + 4, sport);
	if (memcmp(f + p->off_addr, want, 4) || memcmp(f + p->off_sport, want + 4, 2))
		return false;
	if (p->off_ipcsum && fold16(pkt_sum(0, f + 14, 20)) != 0xffff)
		return false;
	sum = pkt_sum(0, f + p->off_saddr, 2 * alen) + c->proto + (uint32_t)l4len;
	return fold16(pkt_sum(sum, f + p->off_sport, l4len)) == 0xffff;
}

static int seq_reset(int map_fd)
{
	int ncpu = libbpf_num_possible_cpus(), r;
	struct lbgen_seq *zero;
	uint32_t key = 0;

	if (ncpu < 0)
		return ncpu;
	zero = calloc((size_t)ncpu, sizeof(*zero));
	if (!zero)
		return -ENOMEM;
	r = bpf_map_update_elem(map_fd, &key, zero, BPF_ANY) ? -errno : 0;
	free(zero);
	return r;
}

/* Frames gen_redirect has produced on every CPU since seq_reset(). */
static long long seq_total(int map_fd)
{
	int ncpu = libbpf_num_possible_cpus();
	struct lbgen_seq *v = ncpu > 0 ? calloc((size_t)ncpu, sizeof(*v)) : NULL;
	uint32_t key = 0;
	long long n = -1;

	if (v && !bpf_map_lookup_elem(map_fd, &key, v))
		for (n = 0; ncpu-- > 0;)
			n += (long long)v[ncpu].frames;
	free(v);
	return n;
}

static int pin_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set) ? -errno : 0;
}

/*
 * Runs the first frames in plain test mode (no side effects, output returned)
 * and checks them here, on one CPU since the sequence is per CPU.  Then
 * resets the sequence so that sending starts at flow 0.
 */
static int gen_check(const struct gen_cfg *c, const struct gen_plan *p, struct bench_gen *g,
		     struct lb_err *err)
{
	int prog = bpf_program__fd(g->progs.gen_redirect), r = 0;
	uint8_t out[MAX_FRAME];
	cpu_set_t saved;

	if (sched_getaffinity(0, sizeof(saved), &saved) || pin_cpu(sched_getcpu()))
		return lb_errf(err, errno, "pinning to a CPU: %s", strerror(errno));
	for (uint64_t n = 0; n < CHECK_FRAMES && !r; n++) {
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = p->frame,
			    .data_size_in = (uint32_t)p->len, .data_out = out,
			    .data_size_out = sizeof(out), .repeat = 1);

		if (bpf_prog_test_run_opts(prog, &o))
			r = lb_errf(err, errno, "test run of gen_redirect: %s", strerror(errno));
		else if (o.retval != XDP_REDIRECT || o.data_size_out != p->len ||
			 !frame_ok(c, p, out, n))
			r = lb_errf(err, EPROTO, "frame %llu of gen_redirect is wrong (verdict %u, "
				    "%u bytes): source or checksum", (unsigned long long)n,
				    o.retval, o.data_size_out);
	}
	if (sched_setaffinity(0, sizeof(saved), &saved) && !r)
		r = lb_errf(err, errno, "restoring the CPU affinity: %s", strerror(errno));
	if (!r && seq_reset(bpf_map__fd(g->maps.gen_seq)))
		r = lb_errf(err, errno, "resetting gen_seq: %s", strerror(errno));
	return r;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Live frames until --count, --duration or a signal, in calls of about 50 ms
 * at the rate seen so far, so that a run ends close to its duration.  A signal
 * interrupts a call midway (EINTR): the packet count comes from the program's
 * own sequence numbers, not from the calls.
 */
static int send_loop(const struct gen_cfg *c, const struct gen_plan *p, struct bench_gen *g,
		     double *seconds)
{
	int prog = bpf_program__fd(g->progs.gen_redirect), r = 0;
	struct xdp_md ctx = { .data_end = (uint32_t)p->len };
	double t0 = now_s(), end = t0 + c->duration;
	uint64_t sent = 0, chunk = CHUNK_MIN, n;
	double t;

	while (sent < c->count && !stop && (t = now_s()) < end) {
		n = c->count - sent < chunk ? c->count - sent : chunk;
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = p->frame,
			    .data_size_in = (uint32_t)p->len, .ctx_in = &ctx,
			    .ctx_size_in = sizeof(ctx), .repeat = (int)n,
			    .flags = BPF_F_TEST_XDP_LIVE_FRAMES, .batch_size = (uint32_t)c->batch);

		if (bpf_prog_test_run_opts(prog, &o)) {
			r = errno == EINTR ? 0 : -errno;
			break;
		}
		sent += n;
		chunk = (uint64_t)((double)n / (now_s() - t + 1e-9) * 0.05);
		chunk = chunk < CHUNK_MIN ? CHUNK_MIN : chunk > CHUNK_MAX ? CHUNK_MAX : chunk;
	}
	*seconds = now_s() - t0;
	return r;
}

static const char *proto_name(uint8_t proto)
{
	return proto == IPPROTO_UDP ? "udp" : "tcp";
}

struct send_result {
	long long packets;	/* frames gen_redirect produced */
	long long peer_rx;	/* packets the peer received meanwhile; -1: unknown */
	double seconds;
};

static void send_report(const struct gen_cfg *c, const struct gen_plan *p, const char *name,
			const struct send_result *res)
{
	double mpps = res->seconds > 0 ? (double)res->packets / res->seconds / 1e6 : 0;
	json_t *j;

	if (res->peer_rx >= 0 && res->peer_rx * 2 < res->packets)
		fprintf(stderr, "lbgen: warning: %s received %lld of %lld frames: a veth drops "
			"redirected frames unless its peer has an XDP program or GRO on\n",
			p->peer.name, res->peer_rx, res->packets);
	if (!c->json) {
		printf("%lld packets in %.3f s: %.3f Mpps (IPv%d %s, %zu bytes, %llu flows, into %s)",
		       res->packets, res->seconds, mpps, c->family, proto_name(c->proto), p->len,
		       (unsigned long long)c->flows, name);
		if (res->peer_rx >= 0)
			printf("; %s received %lld", p->peer.name, res->peer_rx);
		putchar('\n');
		return;
	}
	j = json_pack("{s:I, s:f, s:f, s:s, s:i, s:s, s:I, s:I, s:I, s:I, s:s, s:o}", "packets",
		      (json_int_t)res->packets, "seconds", res->seconds, "mpps", mpps, "dev", name,
		      "family", c->family, "proto", proto_name(c->proto), "size", (json_int_t)p->len,
		      "flows", (json_int_t)c->flows, "batch", (json_int_t)c->batch, "cpu",
		      (json_int_t)(c->cpu_set ? (long long)c->cpu : -1LL), "order",
		      c->scatter ? "scatter" : "seq", "peer_rx",
		      res->peer_rx >= 0 ? json_integer(res->peer_rx) : json_null());
	if (j)
		json_dumpf(j, stdout, JSON_COMPACT);
	putchar('\n');
	json_decref(j);
}

/* Sends, and counts what the program produced and what the peer received. */
static int send_run(const struct gen_cfg *c, const struct gen_plan *p, struct bench_gen *g,
		    struct send_result *res)
{
	long long rx0 = p->peer_known ? rx_packets(p->peer.name, p->peer.netns) : -1, rx1 = -1;
	int r = send_loop(c, p, g, &res->seconds);

	res->packets = seq_total(bpf_map__fd(g->maps.gen_seq));
	if (rx0 >= 0) {
		/* NAPI may have left the last frames to ksoftirqd: give it a moment. */
		usleep(100 * 1000);
		rx1 = rx_packets(p->peer.name, p->peer.netns);
	}
	res->peer_rx = rx0 >= 0 && rx1 >= 0 ? rx1 - rx0 : -1;
	return r;
}

/* Everything before the first packet: sources, device, MACs, template, sums. */
static int send_prepare(const struct gen_cfg *c, struct gen_plan *p, char name[IF_NAMESIZE],
			int *ifindex, struct lb_err *err)
{
	int r = plan_addrs(c, p, err) ?: plan_flows(c, p, err) ?:
		resolve_dev(c->dev, c->ifindex, name, ifindex, err);

	if (r)
		return r;
	r = dev_mac(name, NULL, p->smac);
	if (r)
		return lb_errf(err, r, "MAC address of %s: %s", name, strerror(-r));
	/* Without the peer, --dst-mac still works; only the delivery count is missing. */
	r = find_peer(name, c->peer_netns, &p->peer, err);
	p->peer_known = !r;
	if (r && !c->dmac_set)
		return r;
	*err->msg = 0;
	if (c->dmac_set)
		memcpy(p->dmac, c->dmac, 6);
	else if ((r = dev_mac(p->peer.name, p->peer.netns, p->dmac)))
		return lb_errf(err, r, "MAC address of %s, the peer of %s: %s", p->peer.name, name,
			       strerror(-r));
	return plan_frame(c, p, err);
}

static int send_main(int argc, char **argv)
{
	struct gen_plan *p = calloc(1, sizeof(*p));
	struct sigaction sa = { .sa_handler = on_signal };
	struct send_result res = { 0 };
	struct lb_err err = { "" };
	struct bench_gen *g = NULL;
	char name[IF_NAMESIZE];
	struct gen_cfg c;
	int ifindex = 0, r;

	if (!p)
		return fprintf(stderr, "lbgen: out of memory\n"), 1;
	r = parse_send(argc, argv, &c, &err) ?: send_prepare(&c, p, name, &ifindex, &err);
	if (!r && c.cpu_set && pin_cpu((int)c.cpu))
		r = lb_errf(&err, errno, "--cpu %llu: %s", (unsigned long long)c.cpu,
			    strerror(errno));
	if (!r && !(g = gen_load(&c, p, ifindex, &err)))
		r = -EINVAL;
	if (!r)
		r = gen_check(&c, p, g, &err);
	/* No SA_RESTART: a signal ends the current BPF_PROG_RUN call with EINTR. */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (!r && (r = send_run(&c, p, g, &res)))
		lb_errf(&err, r, "BPF_PROG_RUN in live-frames mode into %s: %s", name,
			strerror(-r));
	if (!r)
		send_report(&c, p, name, &res);
	else
		fprintf(stderr, "lbgen: %s\n", err.msg);
	bench_gen__destroy(g);
	free(p);
	return r ? 1 : 0;
}

/* ---- sink ---- */

enum sink_mode { SINK_DROP, SINK_COUNT, SINK_STACK };

struct sink_cfg {
	const char *dev, *ready;
	uint64_t ifindex;
	int mode;
	double duration;
	bool json;
};

struct sink {
	struct xdp_drop *drop;
	struct bench_gen *count;
	struct bpf_link *link;
	const char *gro_dev;	/* GRO switched on here, to switch off again */
};

static const char *const sink_modes[] = { "drop", "count", "stack" };

static const char sink_usage[] =
	"usage: lbgen sink (--dev NAME | --ifindex N) --mode drop|count|stack [options]\n"
	"  drop: xdp_drop_prog; count: gen_count (distinct flows); stack: no XDP program\n"
	"  --duration SEC (60, at most 3600; SIGINT/SIGTERM end it sooner)\n"
	"  --ready FILE         written once the program is attached\n"
	"  --json\n";

static const struct option sink_opts[] = {
	{ "dev", 1, NULL, OPT_DEV },	     { "ifindex", 1, NULL, OPT_IFINDEX },
	{ "mode", 1, NULL, OPT_MODE },	     { "duration", 1, NULL, OPT_DURATION },
	{ "ready", 1, NULL, OPT_READY },     { "json", 0, NULL, OPT_JSON },
	{ "help", 0, NULL, OPT_HELP },	     { NULL, 0, NULL, 0 },
};

static bool sink_opt(struct sink_cfg *c, int opt, const char *arg, struct lb_err *err)
{
	switch (opt) {
	case OPT_DEV:
		c->dev = arg;
		return true;
	case OPT_IFINDEX:
		return parse_u64("--ifindex", arg, 1, INT32_MAX, &c->ifindex, err);
	case OPT_MODE:
		return parse_word("--mode", arg, sink_modes, 3, &c->mode, err);
	case OPT_DURATION:
		return parse_seconds("--duration", arg, &c->duration, err);
	case OPT_READY:
		c->ready = arg;
		return true;
	default:
		c->json = true;
		return true;
	}
}

static int parse_sink(int argc, char **argv, struct sink_cfg *c, struct lb_err *err)
{
	int opt;

	*c = (struct sink_cfg){ .mode = -1, .duration = 60 };
	optind = 1;
	while ((opt = getopt_long(argc, argv, "", sink_opts, NULL)) != -1) {
		if (opt == OPT_HELP || opt == '?') {
			fputs(sink_usage, opt == '?' ? stderr : stdout);
			exit(opt == '?' ? 2 : 0);
		}
		if (!sink_opt(c, opt, optarg, err))
			return -EINVAL;
	}
	if (optind < argc)
		return lb_errf(err, EINVAL, "unexpected argument `%s'", argv[optind]);
	if (c->mode < 0)
		return lb_errf(err, EINVAL, "give --mode drop, count or stack");
	return 0;
}

/* Legacy ethtool GRO get/set: the one feature the veth needs, without ethtool(8). */
static int ethtool_value(const char *name, uint32_t cmd, uint32_t *val)
{
	struct ethtool_value ev = { .cmd = cmd, .data = *val };
	struct ifreq ifr = { 0 };
	int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), r = 0;

	if (sock < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ifr.ifr_data = (void *)&ev;
	if (ioctl(sock, SIOCETHTOOL, &ifr))
		r = -errno;
	*val = ev.data;
	close(sock);
	return r;
}

/*
 * A veth only accepts redirected XDP frames while its peer has a NAPI
 * instance: an XDP program, or GRO switched on.
 */
static int gro_on(struct sink *s, const char *name, struct lb_err *err)
{
	uint32_t on = 0;
	int r = ethtool_value(name, ETHTOOL_GGRO, &on);

	if (!r && !on) {
		on = 1;
		r = ethtool_value(name, ETHTOOL_SGRO, &on);
		s->gro_dev = r ? NULL : name;
	}
	return r ? lb_errf(err, r, "switching GRO on for %s: %s", name, strerror(-r)) : 0;
}

static int sink_attach(struct sink *s, int mode, int ifindex, const char *name,
		       struct lb_err *err)
{
	const char *what = mode == SINK_DROP ? "xdp_drop" : "gen_count";

	if (mode == SINK_STACK)
		return gro_on(s, name, err);
	if (mode == SINK_DROP) {
		s->drop = xdp_drop__open_and_load();
		if (s->drop)
			s->link = bpf_program__attach_xdp(s->drop->progs.xdp_drop_prog, ifindex);
	} else {
		s->count = bench_gen__open();
		if (s->count && !bpf_program__set_autoload(s->count->progs.gen_redirect, false) &&
		    !bench_gen__load(s->count))
			s->link = bpf_program__attach_xdp(s->count->progs.gen_count, ifindex);
	}
	if (!s->link)
		return lb_errf(err, errno, "loading %s and attaching it to %s through a bpf_link: "
			       "%s", what, name, strerror(errno));
	return 0;
}

static void sink_detach(struct sink *s)
{
	uint32_t off = 0;

	bpf_link__destroy(s->link);
	xdp_drop__destroy(s->drop);
	bench_gen__destroy(s->count);
	if (s->gro_dev)
		ethtool_value(s->gro_dev, ETHTOOL_SGRO, &off);
}

/* Sleeps until the deadline or SIGINT/SIGTERM (blocked, so none is lost). */
static void sink_wait(const sigset_t *set, double seconds)
{
	double end = now_s() + seconds, left;

	while ((left = end - now_s()) > 0) {
		struct timespec ts = { (time_t)left, (long)((left - (double)(time_t)left) * 1e9) };

		if (sigtimedwait(set, NULL, &ts) >= 0 || errno != EINTR)
			return;
	}
}

struct flow_count {
	long long flows, sources, packets, other, full;
};

static int cmp_source(const void *a, const void *b)
{
	const struct lbgen_flow *x = a, *y = b;

	return x->family != y->family ? x->family - y->family : memcmp(x->addr, y->addr, 16);
}

/* Distinct flows (entries) and distinct source addresses of count_flows. */
static int count_flows(int fd, struct flow_count *fc)
{
	struct lbgen_flow *keys = calloc(LBGEN_MAX_FLOWS, sizeof(*keys));
	long long n = 0;

	if (!keys)
		return -ENOMEM;
	while (n < LBGEN_MAX_FLOWS &&
	       !bpf_map_get_next_key(fd, n ? &keys[n - 1] : NULL, &keys[n]))
		n++;
	qsort(keys, (size_t)n, sizeof(*keys), cmp_source);
	fc->flows = n;
	fc->sources = n > 0;
	for (long long i = 1; i < n; i++)
		fc->sources += cmp_source(&keys[i - 1], &keys[i]) != 0;
	free(keys);
	return 0;
}

static int count_read(struct bench_gen *g, struct flow_count *fc)
{
	int ncpu = libbpf_num_possible_cpus();
	struct lbgen_rx *rx = ncpu > 0 ? calloc((size_t)ncpu, sizeof(*rx)) : NULL;
	uint32_t key = 0;

	if (!rx)
		return -ENOMEM;
	if (bpf_map_lookup_elem(bpf_map__fd(g->maps.count_rx), &key, rx)) {
		free(rx);
		return -errno;
	}
	for (int i = 0; i < ncpu; i++) {
		fc->packets += (long long)rx[i].packets;
		fc->other += (long long)rx[i].other;
		fc->full += (long long)rx[i].full;
	}
	free(rx);
	return count_flows(bpf_map__fd(g->maps.count_flows), fc);
}

static void sink_report(const struct sink_cfg *c, const char *name, long long rx, double secs,
			const struct flow_count *fc)
{
	json_t *j;

	if (!c->json) {
		printf("%s (%s): %lld packets received in %.3f s", name, sink_modes[c->mode], rx,
		       secs);
		if (c->mode == SINK_COUNT)
			printf("; counted %lld packets, %lld flows, %lld source addresses, "
			       "%lld other, %lld not kept (table full)", fc->packets, fc->flows,
			       fc->sources, fc->other, fc->full);
		putchar('\n');
		return;
	}
	j = json_pack("{s:s, s:s, s:f, s:I}", "dev", name, "mode", sink_modes[c->mode],
		      "seconds", secs, "rx_packets", (json_int_t)rx);
	if (j && c->mode == SINK_COUNT)
		json_object_update_new(j, json_pack("{s:I, s:I, s:I, s:I, s:I}", "packets",
						(json_int_t)fc->packets, "flows",
						(json_int_t)fc->flows, "sources",
						(json_int_t)fc->sources, "other",
						(json_int_t)fc->other, "full", (json_int_t)fc->full));
	if (j)
		json_dumpf(j, stdout, JSON_COMPACT);
	putchar('\n');
	json_decref(j);
}

static int write_ready(const char *path)
{
	FILE *f = fopen(path, "we");

	if (!f)
		return -errno;
	fputs("ready\n", f);
	return fclose(f) ? -errno : 0;
}

static int sink_main(int argc, char **argv)
{
	struct lb_err err = { "" };
	struct flow_count fc = { 0 };
	struct sink s = { 0 };
	struct sink_cfg c;
	char name[IF_NAMESIZE];
	long long rx0 = -1, rx1 = -1;
	double t0 = 0, secs = 0;
	int ifindex = 0, r;
	sigset_t set;

	/* A shell starts background commands with SIGINT ignored: take it back. */
	signal(SIGINT, SIG_DFL);
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, NULL);
	r = parse_sink(argc, argv, &c, &err) ?: resolve_dev(c.dev, c.ifindex, name, &ifindex, &err);
	if (!r && (r = sink_attach(&s, c.mode, ifindex, name, &err)) == 0) {
		rx0 = rx_packets(name, NULL);
		t0 = now_s();
		if (c.ready && (r = write_ready(c.ready)))
			lb_errf(&err, r, "writing %s: %s", c.ready, strerror(-r));
		if (!r)
			sink_wait(&set, c.duration);
		secs = now_s() - t0;
		rx1 = rx_packets(name, NULL);
		if (!r && s.count && (r = count_read(s.count, &fc)))
			lb_errf(&err, r, "reading gen_count's maps: %s", strerror(-r));
	}
	sink_detach(&s);
	if (r) {
		fprintf(stderr, "lbgen: %s\n", err.msg);
		return 1;
	}
	sink_report(&c, name, rx0 >= 0 && rx1 >= 0 ? rx1 - rx0 : -1, secs, &fc);
	return 0;
}

/* ---- commands ---- */

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
} commands[] = {
	{ "send", send_main, "Sends live frames into a veth (the default command)" },
	{ "sink", sink_main, "Drops, counts or passes to the stack what a veth receives" },
};

int main(int argc, char **argv)
{
	size_t i;

	if (argc > 1 && (!strcmp(argv[1], "help") || !strcmp(argv[1], "-h"))) {
		printf("usage: lbgen [send|sink] [options]; lbgen COMMAND --help\n");
		for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
			printf("  %-6s %s\n", commands[i].name, commands[i].help);
		return 0;
	}
	for (i = 0; argc > 1 && i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	return send_main(argc, argv);
}
