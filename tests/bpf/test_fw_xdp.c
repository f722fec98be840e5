// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * test_fw_xdp.c - the firewall datapath (fw_xdp, fw_tc) under BPF_PROG_TEST_RUN.
 *
 * Self-contained: the binary moves into its own mount and network namespaces,
 * mounts a private bpffs, loads both objects with their maps pinned there,
 * registers lo (ifindex 1) and installs a policy through the real user-space
 * library (policy_parse -> policy_compile -> policy_write).  Each case builds
 * a packet (tests/lib/pkt.h), runs one program on it, and checks the return
 * value and that exactly one counter moved: the one of the expected reason.
 * Cases run in table order, so a TC egress row can create the conntrack
 * entry the XDP row after it relies on.
 */
#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "fw_xdp.skel.h"
#include "fw_tc.skel.h"
#include "ct_gc.skel.h"
#include "compile.h"
#include "fwmaps.h"
#include "policy.h"
#include "pkt.h"
#include "testlib.h"

#define LO_IFINDEX	1
#define HI_IFINDEX	5000	/* past LB_IFINDEX_ARRAY: its row is in lb_ifaces_hi */
#define ME4		"198.18.0.1"
#define ME6		"2001:db8::1"

/* Rule indexes in POLICY below, for hit counters and events. */
#define RULE_ALLOW_WEB	0
#define RULE_AUDIT_8080	11

/* JSON with ' for " so it stays readable here; policy_json() swaps them back. */
static const char POLICY[] = "{"
	"'default': 'deny',"
	"'interfaces': {'lo': {'default': 'deny'}},"
	"'failsafe': ["
	"  {'src': '198.18.100.0/24', 'proto': 'tcp', 'dport': 22},"
	"  {'src': '2001:db8:100::/48', 'proto': 'tcp', 'dport': 22}],"
	"'rules': ["
	"  {'id': 'allow-web', 'src': '198.18.1.0/24', 'proto': 'tcp', 'dport': 80,"
	"   'action': 'allow'},"
	"  {'id': 'deny-telnet', 'proto': 'tcp', 'dport': 23, 'action': 'deny'},"
	"  {'id': 'allow-dns', 'proto': 'udp', 'dport': 53, 'action': 'allow'},"
	"  {'id': 'deny-syslog', 'proto': 'udp', 'dport': 514, 'action': 'deny'},"
	"  {'id': 'allow-ping', 'proto': 'icmp', 'icmp_type': 8, 'action': 'allow'},"
	"  {'id': 'deny-timestamp', 'proto': 'icmp', 'icmp_type': 13, 'action': 'deny'},"
	"  {'id': 'allow-web6', 'src': '2001:db8:1::/48', 'proto': 'tcp', 'dport': 443,"
	"   'action': 'allow'},"
	"  {'id': 'deny-web6', 'src': '2001:db8:2::/48', 'proto': 'tcp', 'dport': 443,"
	"   'action': 'deny'},"
	"  {'id': 'deny-mdns6', 'src': '2001:db8::/32', 'proto': 'udp', 'dport': 5353,"
	"   'action': 'deny'},"
	"  {'id': 'allow-ping6', 'proto': 'icmpv6', 'icmp_type': 128, 'action': 'allow'},"
	"  {'id': 'deny-ping6-bad', 'src': '2001:db8:bad::/48', 'proto': 'icmpv6',"
	"   'icmp_type': 128, 'action': 'deny'},"
	"  {'id': 'audit-8080', 'proto': 'tcp', 'dport': 8080, 'action': 'audit'},"
	"  {'id': 'deny-ssh-admin', 'src': '198.18.100.0/24', 'proto': 'tcp', 'dport': 22,"
	"   'action': 'deny'},"
	"  {'id': 'deny-ssh-admin6', 'src': '2001:db8:100::/48', 'proto': 'tcp', 'dport': 22,"
	"   'action': 'deny'},"
	"  {'id': 'allow-gre', 'proto': 47, 'action': 'allow'},"
	"  {'id': 'allow-frag', 'proto': 'udp', 'dport': 7000, 'action': 'allow'},"
	"  {'id': 'deny-frag', 'proto': 'udp', 'dport': 7001, 'action': 'deny'},"
	"  {'id': 'deny-host', 'src': '198.18.1.77/32', 'proto': 'tcp', 'dport': 80,"
	"   'action': 'deny'},"
	"  {'id': 'deny-host6', 'src': '2001:db8:1::77/128', 'proto': 'tcp', 'dport': 443,"
	"   'action': 'deny'},"
	"  {'id': 'deny-to-host', 'dst': '198.18.0.99/32', 'proto': 'udp', 'dport': 53,"
	"   'action': 'deny'}"
	"]}";

static const char *policy_json(void)
{
	static char buf[sizeof(POLICY)];
	size_t i;

	for (i = 0; i < sizeof(POLICY); i++)
		buf[i] = POLICY[i] == '\'' ? '"' : POLICY[i];
	return buf;
}

static struct {
	char dir[64];
	bool mounted;
	struct fw_xdp *xdp;
	struct fw_tc *tc;
	struct lb_maps maps;
	struct lb_compiled *policy;
	int ncpu;
	__u32 ifindex;		/* packets come in here; lo unless a test says otherwise */
} env = { .maps = { .src4 = -1 }, .ifindex = LO_IFINDEX };

/* ---- environment ---- */

static int lo_up(void)
{
	struct ifreq ifr = { .ifr_name = "lo" };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), r = -1;

	if (fd < 0)
		return -errno;
	if (!ioctl(fd, SIOCGIFFLAGS, &ifr)) {
		ifr.ifr_flags |= IFF_UP;
		r = ioctl(fd, SIOCSIFFLAGS, &ifr);
	}
	r = r ? -errno : 0;
	close(fd);
	return r;
}

/* Own namespaces, a private bpffs, and one CPU so per-CPU state is predictable. */
static int env_isolate(void)
{
	cpu_set_t cpus;
	int cpu = sched_getcpu();

	if (unshare(CLONE_NEWNS | CLONE_NEWNET))
		return -errno;
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
		return -errno;
	strcpy(env.dir, "/tmp/lbtest.XXXXXX");
	if (!mkdtemp(env.dir))
		return -errno;
	if (mount("bpf", env.dir, "bpf", 0, NULL))
		return -errno;
	env.mounted = true;
	CPU_ZERO(&cpus);
	CPU_SET(cpu < 0 ? 0 : cpu, &cpus);
	sched_setaffinity(0, sizeof(cpus), &cpus);
	return lo_up();
}

static int env_load(void)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = env.dir);
	struct lb_err err = { "" };
	int r;

	env.xdp = fw_xdp__open_opts(&opts);
	if (!env.xdp)
		return -errno;
	r = fw_xdp__load(env.xdp);
	if (r)
		return r;
	/* Second object: libbpf reuses the maps the first one pinned. */
	env.tc = fw_tc__open_opts(&opts);
	if (!env.tc)
		return -errno;
	r = fw_tc__load(env.tc);
	if (r)
		return r;
	r = maps_from_object(&env.maps, env.xdp->obj, &err);
	if (r)
		fprintf(stderr, "  %s\n", err.msg);
	return r;
}

static void env_cleanup(void)
{
	if (env.maps.src4 >= 0)
		maps_close(&env.maps);
	compiled_free(env.policy);
	fw_tc__destroy(env.tc);
	fw_xdp__destroy(env.xdp);
	if (env.mounted)
		umount2(env.dir, MNT_DETACH);
	if (env.dir[0])
		rmdir(env.dir);
}

static int iface_register(void)
{
	struct lb_iface v = { .slot = 0, .default_action = { LB_ACT_DENY, LB_ACT_DENY } };

	return iface_row_put(&env.maps, LO_IFINDEX, &v);
}

static int config_set(__u32 ev_rate, __u32 ev_burst, __u64 udp_timeout_ns)
{
	struct lb_config cfg = { .ev_rate = ev_rate, .ev_burst = ev_burst };
	__u32 zero = 0;

	cfg.ct_timeout_ns[LB_CTT_UDP] = udp_timeout_ns;
	return bpf_map_update_elem(env.maps.config, &zero, &cfg, BPF_ANY);
}

/* Events are not under test everywhere: a deep bucket keeps them all. */
static int config_default(void)
{
	return config_set(1000000, 1000000, 0);
}

/* ---- policy ---- */

static int policy_install(enum lb_action lo_default)
{
	struct lb_iface_action ifa = { .ifindex = LO_IFINDEX, .action = lo_default };
	struct lb_err err = { "" };
	struct lb_active act;
	int r;

	if (!env.policy) {
		struct lb_policy *p = NULL;

		r = policy_parse(policy_json(), strlen(POLICY), "test-policy", &p, &err);
		if (!r)
			r = policy_compile(p, &env.policy, &err);
		policy_free(p);
		if (r)
			goto fail;
	}
	r = policy_active(&env.maps, &act);
	if (!r)
		r = policy_write(&env.maps, env.policy, act.loaded ? !act.copy : 0, &ifa, 1, &err);
fail:
	if (r)
		fprintf(stderr, "  policy: %s\n", err.msg[0] ? err.msg : strerror(-r));
	return r;
}

/* Any other policy (JSON with ' for "), onto the inactive copy; lo default deny. */
static int policy_install_text(const char *text)
{
	struct lb_iface_action ifa = { .ifindex = LO_IFINDEX, .action = LB_ACT_DENY };
	struct lb_compiled *c = NULL;
	struct lb_policy *p = NULL;
	struct lb_err err = { "" };
	struct lb_active act;
	char *json = strdup(text);
	int r = -ENOMEM;

	for (char *q = json; q && *q; q++)
		*q = *q == '\'' ? '"' : *q;
	if (json)
		r = policy_parse(json, strlen(json), "test-policy", &p, &err);
	if (!r) {
		/* The test interface gets the policy's default. */
		ifa.action = p->default_action;
		r = policy_compile(p, &c, &err) ?: policy_active(&env.maps, &act) ?:
		    policy_write(&env.maps, c, act.loaded ? !act.copy : 0, &ifa, 1, &err);
	}
	if (r)
		fprintf(stderr, "  policy: %s\n", err.msg[0] ? err.msg : strerror(-r));
	compiled_free(c);
	policy_free(p);
	free(json);
	return r;
}

/* What the writer told the datapath about the active copy. */
static int copy_info_active(struct lb_copy_info *ci)
{
	struct lb_active act;
	int r = policy_active(&env.maps, &act);

	return r ?: bpf_map_lookup_elem(env.maps.copy_info, &act.copy, ci);
}

/* ---- counters ---- */

static int percpu_sum(int fd, __u32 key, size_t vsz, __u64 *out, size_t nfields)
{
	size_t stride = (vsz + 7) / 8;
	__u64 *v = calloc((size_t)env.ncpu, stride * 8);
	int r, c;
	size_t f;

	if (!v)
		return -ENOMEM;
	r = bpf_map_lookup_elem(fd, &key, v);
	memset(out, 0, nfields * sizeof(*out));
	for (c = 0; !r && c < env.ncpu; c++)
		for (f = 0; f < nfields; f++)
			out[f] += v[(size_t)c * stride + f];
	free(v);
	return r;
}

/* Packets per reason on slot 0 (lo). */
static void stats_read(__u64 pk[LB_REASON_SLOTS])
{
	struct lb_counter c;
	__u64 v[2];
	__u32 r;

	for (r = 0; r < LB_REASON_SLOTS; r++) {
		pk[r] = 0;
		if (!percpu_sum(env.maps.stats, r, sizeof(c), v, 2))
			pk[r] = v[0];
	}
}

/* Packets over every slot and reason: to prove nothing was counted anywhere. */
static __u64 stats_total(void)
{
	__u64 v[2], total = 0;
	__u32 k;

	for (k = 0; k < LB_MAX_IFACES * LB_REASON_SLOTS; k++)
		if (!percpu_sum(env.maps.stats, k, sizeof(struct lb_counter), v, 2))
			total += v[0];
	return total;
}

static __u64 rule_hits(__u32 rule_idx)
{
	struct lb_active act = { 0 };
	__u64 v = 0;

	policy_active(&env.maps, &act);
	percpu_sum(env.maps.rule_hits, act.copy * LB_MAX_RULES + rule_idx, sizeof(v), &v, 1);
	return v;
}

static void ev_stats(struct lb_ev_stats *st)
{
	percpu_sum(env.maps.ev_stats, 0, sizeof(*st), (__u64 *)st, 3);
}

/* ---- running programs ---- */

enum hook { XDP, TC };

static int xdp_test_run(const uint8_t *in, __u32 in_len, __u32 data, __u32 data_end,
			int *retval)
{
	struct xdp_md ctx = { .data = data, .data_end = data_end, .ingress_ifindex = env.ifindex };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in, .data_size_in = in_len, .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx), .repeat = 1);
	int r;

	r = bpf_prog_test_run_opts(bpf_program__fd(env.xdp->progs.lb_fw_xdp), &o);
	*retval = (int)o.retval;
	return r;
}

/*
 * test_run refuses frames shorter than an Ethernet header.  Newer kernels
 * take data_end below the input size and put the rest in a fragment, which
 * the program cannot see; older ones take metadata in front of the frame,
 * which is outside [data, data_end) too.
 */
static int run_xdp(const uint8_t *pkt, size_t len, int *retval)
{
	uint8_t buf[4096] = { 0 };
	__u32 meta;
	int r;

	memcpy(buf, pkt, len);
	if (len >= 14)
		return xdp_test_run(buf, (__u32)len, 0, (__u32)len, retval);
	r = xdp_test_run(buf, 14, 0, (__u32)len, retval);
	if (r != -EINVAL)
		return r;
	meta = (__u32)((14 - len + 3) & ~3U);
	memset(buf, 0, sizeof(buf));
	memcpy(buf + meta, pkt, len);
	return xdp_test_run(buf, meta + (__u32)len, meta, meta + (__u32)len, retval);
}

static int run_tc(const uint8_t *pkt, size_t len, int *retval)
{
	struct __sk_buff ctx = { .ifindex = LO_IFINDEX };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = (__u32)len,
		    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx), .repeat = 1);
	int r;

	r = bpf_prog_test_run_opts(bpf_program__fd(env.tc->progs.lb_fw_tc_egress), &o);
	*retval = (int)o.retval;
	return r;
}

static int run_pkt(enum hook hook, const struct pkt_spec *s, int *retval)
{
	uint8_t buf[2048];
	size_t len = pkt_build(s, buf, sizeof(buf));

	if (!len)
		return -EINVAL;
	return hook == XDP ? run_xdp(buf, len, retval) : run_tc(buf, len, retval);
}

/* ---- table-driven cases ---- */

struct fw_case {
	const char *name;
	enum hook hook;
	struct pkt_spec pkt;
	int ret;		/* program return value */
	int reason;		/* the one counter that must move */
};

#define IN4(s)		.family = 4, .src = s, .dst = ME4
#define IN6(s)		.family = 6, .src = s, .dst = ME6
#define OUT4(d)		.family = 4, .src = ME4, .dst = d
#define OUT6(d)		.family = 6, .src = ME6, .dst = d
#define TCP(sp, dp, fl)	.proto = IPPROTO_TCP, .sport = sp, .dport = dp, .tcp_flags = fl
#define UDP(sp, dp)	.proto = IPPROTO_UDP, .sport = sp, .dport = dp
#define ICMP(t, c)	.proto = IPPROTO_ICMP, .icmp_type = t, .icmp_code = c
#define ICMP6(t, c)	.proto = IPPROTO_ICMPV6, .icmp_type = t, .icmp_code = c
#define EXT(...)	.ext = { __VA_ARGS__ }, .n_ext = sizeof((uint8_t[]){ __VA_ARGS__ })
#define PASS(r)		XDP_PASS, r
#define DROP(r)		XDP_DROP, r
/* Egress never decides: TC_ACT_UNSPEC (tcx's TCX_NEXT), whoever is next goes on. */
#define TC_NO_VERDICT	(-1)
#define EGRESS		TC_NO_VERDICT, LB_R_EGRESS
#define UNTRACKED	TC_NO_VERDICT, LB_R_EGRESS_UNTRACKED

static void run_case(const struct fw_case *c)
{
	__u64 before[LB_REASON_SLOTS], after[LB_REASON_SLOTS], total = 0;
	int ret = -1, moved = -1, r;
	__u32 i;

	stats_read(before);
	r = run_pkt(c->hook, &c->pkt, &ret);
	if (!ASSERT_OK(r, c->name))
		return;
	stats_read(after);
	for (i = 0; i < LB_REASON_SLOTS; i++) {
		total += after[i] - before[i];
		if (after[i] != before[i])
			moved = (int)i;
	}
	ASSERT_EQ(ret, c->ret, c->name);
	ASSERT_EQ(moved, c->reason, c->name);
	ASSERT_EQ(total, 1, c->name);
}

static void run_cases(const struct fw_case *cases, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		run_case(&cases[i]);
}

#define RUN_CASES(t) run_cases(t, sizeof(t) / sizeof(t[0]))

/* ---- before any policy ---- */

static void test_unmanaged_iface(void)
{
	const struct pkt_spec bad = { IN4("198.18.1.5"), TCP(1, 80, PKT_SYN), .ihl = 3 };
	struct lb_iface saved;
	__u64 before;
	int ret = -1;

	if (!ASSERT_OK(iface_row_get(&env.maps, LO_IFINDEX, &saved), "lookup lo"))
		return;
	if (!ASSERT_OK(iface_row_del(&env.maps, LO_IFINDEX), "unregister lo"))
		return;
	before = stats_total();
	ASSERT_OK(run_pkt(XDP, &bad, &ret), "run xdp");
	ASSERT_EQ(ret, XDP_PASS, "xdp leaves a foreign interface's packet alone");
	ASSERT_OK(run_pkt(TC, &bad, &ret), "run tc");
	ASSERT_EQ(ret, TC_NO_VERDICT, "tc leaves it alone");
	ASSERT_EQ(stats_total(), before, "nothing counted");
	ASSERT_OK(iface_row_put(&env.maps, LO_IFINDEX, &saved), "register lo");
}

/* An ifindex past the array has its row in the hash: managed all the same. */
static void test_high_ifindex(void)
{
	const struct lb_iface row = { .slot = 0, .default_action = { LB_ACT_DENY, LB_ACT_DENY } };
	static const struct fw_case cases[] = {
		{ "high_ifindex_counted", XDP, { IN4("198.18.2.5"), TCP(1000, 9999, PKT_SYN) },
		  PASS(LB_R_NO_POLICY) },
	};
	const struct pkt_spec any = { IN4("198.18.2.5"), TCP(1000, 9999, PKT_SYN) };
	struct lb_iface got;
	__u64 before;
	int ret = -1;

	if (!ASSERT_OK(system("ip link add lbhi0 index 5000 type veth peer name lbhi1 && "
			      "ip link set lbhi0 up"), "veth at ifindex 5000"))
		return;
	env.ifindex = HI_IFINDEX;
	before = stats_total();
	ASSERT_OK(run_pkt(XDP, &any, &ret), "run before register");
	ASSERT_EQ(ret, XDP_PASS, "not managed yet: pass");
	ASSERT_EQ(stats_total(), before, "not managed yet: not counted");
	ASSERT_OK(iface_row_put(&env.maps, HI_IFINDEX, &row), "register ifindex 5000");
	ASSERT_OK(bpf_map_lookup_elem(env.maps.ifaces_hi, &(__u32){ HI_IFINDEX }, &got),
		  "its row is in lb_ifaces_hi");
	RUN_CASES(cases);
	ASSERT_OK(iface_row_del(&env.maps, HI_IFINDEX), "unregister");
	ASSERT_EQ(iface_row_get(&env.maps, HI_IFINDEX, &got), -ENOENT, "row gone");
	before = stats_total();
	ASSERT_OK(run_pkt(XDP, &any, &ret), "run after unregister");
	ASSERT_EQ(stats_total(), before, "unregistered: not counted");
	env.ifindex = LO_IFINDEX;
	system("ip link del lbhi0");
}

static const struct fw_case no_policy_cases[] = {
	{ "no_policy_tcp", XDP, { IN4("198.18.2.5"), TCP(1000, 9999, PKT_SYN) },
	  PASS(LB_R_NO_POLICY) },
	{ "no_policy_still_parses", XDP, { IN4("198.18.2.5"), TCP(1000, 80, PKT_SYN), .ihl = 4 },
	  DROP(LB_R_BAD_IPV4) },
	{ "no_policy_not_ip", XDP, { .ethertype = 0x0806 }, PASS(LB_R_NOT_IP) },
};

static void test_no_policy(void)
{
	RUN_CASES(no_policy_cases);
}

static void test_policy_install(void)
{
	ASSERT_OK(policy_install(LB_ACT_DENY), "policy_write");
}

/* ---- parser ---- */

static const struct fw_case parse_cases[] = {
	{ "arp", XDP, { .ethertype = 0x0806 }, PASS(LB_R_NOT_IP) },
	{ "eth_truncated", XDP, { .ethertype = 0x0806, .payload = 1, .cut = 5 },
	  DROP(LB_R_BAD_ETH) },
	{ "vlan_1_tag", XDP, { IN4("198.18.1.5"), TCP(1000, 80, PKT_SYN), .vlans = 1 },
	  PASS(LB_R_RULE_ALLOW) },
	{ "vlan_2_tags", XDP, { IN4("198.18.1.5"), TCP(1000, 80, PKT_SYN), .vlans = 2 },
	  PASS(LB_R_RULE_ALLOW) },
	{ "vlan_2_tags_v6", XDP, { IN6("2001:db8:1::5"), TCP(1000, 443, PKT_SYN), .vlans = 2 },
	  PASS(LB_R_RULE_ALLOW) },
	{ "vlan_3_tags", XDP, { IN4("198.18.1.5"), TCP(1000, 80, PKT_SYN), .vlans = 3 },
	  DROP(LB_R_BAD_VLAN) },
	{ "vlan_truncated", XDP, { .ethertype = 0x0806, .vlans = 1, .payload = 1, .cut = 3 },
	  DROP(LB_R_BAD_VLAN) },
	{ "ipv4_options", XDP, { IN4("198.18.1.5"), TCP(1000, 80, PKT_SYN), .ip_opt_len = 12 },
	  PASS(LB_R_RULE_ALLOW) },
	{ "ipv4_max_options", XDP, { IN4("198.18.1.5"), TCP(1000, 80, PKT_SYN), .ip_opt_len = 40 },
	  PASS(LB_R_RULE_ALLOW) },
	{ "ipv4_ihl_4", XDP, { IN4("198.18.1.5"), TCP(1000, 80, PKT_SYN), .ihl = 4 },
	  DROP(LB_R_BAD_IPV4) },
	{ "ipv4_ihl_beyond_packet", XDP, { IN4("198.18.1.5"), .proto = 47, .ihl = 15 },
	  DROP(LB_R_BAD_IPV4) },
	{ "ipv4_version_6", XDP, { IN4("198.18.1.5"), TCP(1000, 80, PKT_SYN), .version = 6 },
	  DROP(LB_R_BAD_IPV4) },
	{ "ipv4_tot_len_beyond_packet", XDP,
	  { IN4("198.18.1.5"), TCP(1000, 80, PKT_SYN), .tot_len_adj = 1 }, DROP(LB_R_BAD_IPV4) },
	{ "ipv4_tot_len_below_ihl", XDP,
	  { IN4("198.18.1.5"), TCP(1000, 80, PKT_SYN), .tot_len = 19 }, DROP(LB_R_BAD_IPV4) },
	{ "ipv4_tot_len_short_is_padding", XDP,
	  { IN4("198.18.1.5"), TCP(1000, 80, PKT_SYN), .payload = 6, .tot_len_adj = -6 },
	  PASS(LB_R_RULE_ALLOW) },
	{ "ipv4_truncated", XDP, { IN4("198.18.1.5"), .proto = 47, .cut = 1 },
	  DROP(LB_R_BAD_IPV4) },
	{ "ipv6_truncated", XDP, { IN6("2001:db8:1::5"), .proto = 59, .cut = 1 },
	  DROP(LB_R_BAD_IPV6) },
	{ "ipv6_version_4", XDP, { IN6("2001:db8:1::5"), TCP(1, 443, PKT_SYN), .version = 4 },
	  DROP(LB_R_BAD_IPV6) },
	{ "ipv6_payload_len_beyond_packet", XDP,
	  { IN6("2001:db8:1::5"), TCP(1, 443, PKT_SYN), .tot_len_adj = 1 }, DROP(LB_R_BAD_IPV6) },
	{ "ipv6_hop_dst_opts", XDP, { IN6("2001:db8:1::5"), TCP(1, 443, PKT_SYN), EXT(0, 60) },
	  PASS(LB_R_RULE_ALLOW) },
	{ "ipv6_every_ext_kind", XDP,
	  { IN6("2001:db8:1::5"), TCP(1, 443, PKT_SYN), EXT(0, 43, 51, 60) },
	  PASS(LB_R_RULE_ALLOW) },
	{ "ipv6_6_ext_headers", XDP,
	  { IN6("2001:db8:1::5"), TCP(1, 443, PKT_SYN), EXT(0, 60, 60, 60, 60, 60) },
	  PASS(LB_R_RULE_ALLOW) },
	{ "ipv6_7_ext_headers", XDP,
	  { IN6("2001:db8:1::5"), TCP(1, 443, PKT_SYN), EXT(0, 60, 60, 60, 60, 60, 60) },
	  DROP(LB_R_IPV6_EXT_LIMIT) },
	{ "ipv6_ext_truncated", XDP, { IN6("2001:db8:1::5"), .proto = 59, EXT(0), .cut = 1 },
	  DROP(LB_R_BAD_IPV6) },
	{ "tcp_truncated", XDP, { IN4("198.18.1.5"), TCP(1000, 80, PKT_SYN), .cut = 1 },
	  DROP(LB_R_BAD_L4) },
	{ "tcp_doff_4", XDP, { IN4("198.18.1.5"), TCP(1000, 80, PKT_SYN), .tcp_doff = 4 },
	  DROP(LB_R_BAD_L4) },
	{ "tcp_options_truncated", XDP,
	  { IN4("198.18.1.5"), TCP(1000, 80, PKT_SYN), .tcp_doff = 8, .cut = 4 },
	  DROP(LB_R_BAD_L4) },
	{ "tcp6_truncated", XDP, { IN6("2001:db8:1::5"), TCP(1, 443, PKT_SYN), .cut = 1 },
	  DROP(LB_R_BAD_L4) },
	{ "udp_truncated", XDP, { IN4("198.18.1.5"), UDP(1000, 53), .cut = 1 }, DROP(LB_R_BAD_L4) },
	{ "icmp_truncated", XDP, { IN4("198.18.1.5"), ICMP(8, 0), .cut = 1 }, DROP(LB_R_BAD_L4) },
	{ "icmp6_truncated", XDP, { IN6("2001:db8:1::5"), ICMP6(128, 0), .cut = 1 },
	  DROP(LB_R_BAD_L4) },
	{ "tcp_syn_fin", XDP, { IN4("198.18.1.5"), TCP(1000, 80, PKT_SYN | PKT_FIN) },
	  DROP(LB_R_BAD_TCP_FLAGS) },
	{ "tcp_syn_rst", XDP, { IN4("198.18.1.5"), TCP(1000, 80, PKT_SYN | PKT_RST) },
	  DROP(LB_R_BAD_TCP_FLAGS) },
	{ "tcp_no_flags", XDP, { IN4("198.18.1.5"), TCP(1000, 80, 0) }, DROP(LB_R_BAD_TCP_FLAGS) },
	{ "gre_by_proto_rule", XDP, { IN4("198.18.2.5"), .proto = 47, .payload = 4 },
	  PASS(LB_R_RULE_ALLOW) },
	{ "esp_default", XDP, { IN4("198.18.2.5"), .proto = 50, .payload = 8 },
	  DROP(LB_R_DEFAULT_DENY) },
	{ "ipv6_no_next_header", XDP, { IN6("2001:db8:1::5"), .proto = 59 },
	  DROP(LB_R_DEFAULT_DENY) },
};

static void test_parse(void)
{
	RUN_CASES(parse_cases);
}

/* ---- rules ---- */

static const struct fw_case rule_cases[] = {
	{ "v4_tcp_allow", XDP, { IN4("198.18.1.5"), TCP(40000, 80, PKT_SYN) },
	  PASS(LB_R_RULE_ALLOW) },
	{ "v4_tcp_allow_other_src", XDP, { IN4("198.18.2.5"), TCP(40000, 80, PKT_SYN) },
	  DROP(LB_R_DEFAULT_DENY) },
	{ "v4_tcp_deny", XDP, { IN4("198.18.1.5"), TCP(40000, 23, PKT_SYN) },
	  DROP(LB_R_RULE_DENY) },
	{ "v4_udp_allow", XDP, { IN4("198.18.3.3"), UDP(5000, 53) }, PASS(LB_R_RULE_ALLOW) },
	{ "v4_udp_deny", XDP, { IN4("198.18.3.3"), UDP(5000, 514) }, DROP(LB_R_RULE_DENY) },
	{ "v4_icmp_allow", XDP, { IN4("198.18.3.3"), ICMP(8, 0), .icmp_id = 7 },
	  PASS(LB_R_RULE_ALLOW) },
	{ "v4_icmp_deny", XDP, { IN4("198.18.3.3"), ICMP(13, 0) }, DROP(LB_R_RULE_DENY) },
	{ "v4_icmp_default", XDP, { IN4("198.18.3.3"), ICMP(17, 0) }, DROP(LB_R_DEFAULT_DENY) },
	{ "v4_default_deny", XDP, { IN4("198.18.3.3"), TCP(40000, 9999, PKT_SYN) },
	  DROP(LB_R_DEFAULT_DENY) },
	{ "v4_audit", XDP, { IN4("198.18.3.3"), TCP(40000, 8080, PKT_SYN) },
	  PASS(LB_R_RULE_AUDIT) },
	{ "v6_tcp_allow", XDP, { IN6("2001:db8:1::5"), TCP(40000, 443, PKT_SYN) },
	  PASS(LB_R_RULE_ALLOW) },
	{ "v6_tcp_deny", XDP, { IN6("2001:db8:2::5"), TCP(40000, 443, PKT_SYN) },
	  DROP(LB_R_RULE_DENY) },
	{ "v6_tcp_default", XDP, { IN6("2001:db8:3::5"), TCP(40000, 443, PKT_SYN) },
	  DROP(LB_R_DEFAULT_DENY) },
	{ "v6_udp_allow", XDP, { IN6("2001:db8:3::5"), UDP(5000, 53) }, PASS(LB_R_RULE_ALLOW) },
	{ "v6_udp_deny", XDP, { IN6("2001:db8:3::5"), UDP(5000, 5353) }, DROP(LB_R_RULE_DENY) },
	{ "v6_icmp_allow", XDP, { IN6("2001:db8:3::5"), ICMP6(128, 0) }, PASS(LB_R_RULE_ALLOW) },
	{ "v6_icmp_deny_longer_prefix", XDP, { IN6("2001:db8:bad::5"), ICMP6(128, 0) },
	  DROP(LB_R_RULE_DENY) },
	{ "v6_audit", XDP, { IN6("2001:db8:3::5"), TCP(40000, 8080, PKT_ACK) },
	  PASS(LB_R_RULE_AUDIT) },
	/* Host prefixes sit in the exact-match hash; their neighbours fall to the trie. */
	{ "v4_host_src_beats_its_24", XDP, { IN4("198.18.1.77"), TCP(40000, 80, PKT_SYN) },
	  DROP(LB_R_RULE_DENY) },
	{ "v4_host_neighbour_uses_24", XDP, { IN4("198.18.1.78"), TCP(40000, 80, PKT_SYN) },
	  PASS(LB_R_RULE_ALLOW) },
	{ "v6_host_src_beats_its_48", XDP, { IN6("2001:db8:1::77"), TCP(40000, 443, PKT_SYN) },
	  DROP(LB_R_RULE_DENY) },
	{ "v6_host_neighbour_uses_48", XDP, { IN6("2001:db8:1::78"), TCP(40000, 443, PKT_SYN) },
	  PASS(LB_R_RULE_ALLOW) },
	{ "v4_host_dst", XDP, { .family = 4, .src = "198.18.3.3", .dst = "198.18.0.99",
	  UDP(5000, 53) }, DROP(LB_R_RULE_DENY) },
};

static void test_rules(void)
{
	struct lb_copy_info ci;

	RUN_CASES(rule_cases);
	if (ASSERT_OK(copy_info_active(&ci), "copy info"))
		ASSERT_TRUE(ci.flags & LB_CI_DENSE, "a small policy's rules are in the dense table");
}

/*
 * Longest prefixes shorter than a host: /24s and /56s go to the exact-match
 * hashes, the /16 and /48 that contain them to the tries; longest match wins.
 */
static const char POLICY_PREFIXES[] = "{'default': 'deny', 'rules': ["
	"{'id': 'd24', 'src': '198.18.64.0/24', 'proto': 'udp', 'dport': 9000, 'action': 'deny'},"
	"{'id': 'a16', 'src': '198.18.0.0/16', 'proto': 'udp', 'dport': 9000, 'action': 'allow'},"
	"{'id': 'd56', 'src': '2001:db8:aa:bb00::/56', 'proto': 'udp', 'dport': 9000,"
	" 'action': 'deny'},"
	"{'id': 'a48', 'src': '2001:db8:aa::/48', 'proto': 'udp', 'dport': 9000,"
	" 'action': 'allow'}]}";

static const struct fw_case prefix_cases[] = {
	{ "v4_in_24", XDP, { IN4("198.18.64.200"), UDP(1, 9000) }, DROP(LB_R_RULE_DENY) },
	{ "v4_in_16_only", XDP, { IN4("198.18.65.5"), UDP(1, 9000) }, PASS(LB_R_RULE_ALLOW) },
	{ "v4_outside", XDP, { IN4("198.19.64.5"), UDP(1, 9000) }, DROP(LB_R_DEFAULT_DENY) },
	{ "v4_other_port", XDP, { IN4("198.18.64.5"), UDP(1, 9001) }, DROP(LB_R_DEFAULT_DENY) },
	{ "v6_in_56", XDP, { IN6("2001:db8:aa:bbff::1"), UDP(1, 9000) }, DROP(LB_R_RULE_DENY) },
	{ "v6_in_48_only", XDP, { IN6("2001:db8:aa:bc00::1"), UDP(1, 9000) },
	  PASS(LB_R_RULE_ALLOW) },
	{ "v6_outside", XDP, { IN6("2001:db8:ab::1"), UDP(1, 9000) }, DROP(LB_R_DEFAULT_DENY) },
};

/*
 * Rules naming a source and a destination each: 1,030 x 1,030 class pairs
 * do not fit the dense table, so the rules go to the lb_rules hash.
 */
#define WIDE_RULES 1030

static char *policy_wide(void)
{
	size_t cap = 64 + WIDE_RULES * 128, off = 0;
	char *s = malloc(cap);

	if (!s)
		return NULL;
	off += (size_t)snprintf(s, cap, "{'default': 'deny', 'rules': [");
	for (int i = 0; i < WIDE_RULES; i++)
		off += (size_t)snprintf(s + off, cap - off,
					"%s{'id': 'w%d', 'src': '198.18.%d.%d', 'dst': '198.19.%d.%d',"
					" 'action': '%s'}", i ? "," : "", i, 4 + i / 256, i % 256,
					i / 256, i % 256, i ? "deny" : "allow");
	snprintf(s + off, cap - off, "]}");
	return s;
}

static const struct fw_case wide_cases[] = {
	{ "hash_rule_allow", XDP, { .family = 4, .src = "198.18.4.0", .dst = "198.19.0.0",
	  UDP(1, 2) }, PASS(LB_R_RULE_ALLOW) },
	{ "hash_rule_deny", XDP, { .family = 4, .src = "198.18.7.5", .dst = "198.19.3.5",
	  UDP(1, 2) }, DROP(LB_R_RULE_DENY) },
	{ "hash_no_rule", XDP, { .family = 4, .src = "198.18.7.5", .dst = "198.19.3.6",
	  UDP(1, 2) }, DROP(LB_R_DEFAULT_DENY) },
};

/*
 * As many /32 sources as a copy holds (with 0.0.0.0/0): the host table is
 * full, so the writer leaves some of them to the trie.  Those must still
 * match, as /32s.
 */
#define FULL_HOSTS (LB_MAX_PREFIXES / LB_POLICY_COPIES - 1)

static char *policy_full(void)
{
	size_t cap = 64 + FULL_HOSTS * 96, off = 0;
	char *s = malloc(cap);

	if (!s)
		return NULL;
	off += (size_t)snprintf(s, cap, "{'default': 'allow', 'rules': [");
	for (int i = 0; i < (int)FULL_HOSTS; i++)
		off += (size_t)snprintf(s + off, cap - off,
					"%s{'id': 'f%d', 'src': '198.%d.%d.%d', 'proto': 'udp',"
					" 'dport': 9000, 'action': 'deny'}", i ? "," : "", i,
					18 + (i >> 16), (i >> 8) & 255, i & 255);
	snprintf(s + off, cap - off, "]}");
	return s;
}

/* Sources of the active copy's IPv4 /32s in the trie: those the host table had no slot for. */
static size_t trie_hosts(uint8_t copy, uint8_t (*out)[4], size_t max)
{
	struct lb_lpm4_key k, prev;
	size_t n = 0;
	bool first = true;

	while (n < max && !bpf_map_get_next_key(env.maps.src4, first ? NULL : &prev, &k)) {
		if (k.copy == copy && k.prefixlen == 8 + 32)
			memcpy(out[n++], k.addr, 4);
		prev = k;
		first = false;
	}
	return n;
}

/* One IPv4/UDP packet to port 9000 from source a; its XDP verdict must be want. */
static void run_src4(const uint8_t a[4], int want)
{
	struct pkt_spec p = { .family = 4, .dst = ME4, UDP(1, 9000) };
	char src[32];
	int ret = -1;

	snprintf(src, sizeof(src), "%u.%u.%u.%u", a[0], a[1], a[2], a[3]);
	p.src = src;
	ASSERT_OK(run_pkt(XDP, &p, &ret), "run");
	ASSERT_EQ(ret, want, src);
}

/*
 * Entries of the active copy's IPv4 source table that sit in their second
 * bucket: their first bucket must say so (lb_ht4_bucket.more), else the
 * datapath never reads the second.  Returns how many were found, up to max.
 */
static size_t second_bucket_hosts(uint8_t copy, const struct lb_copy_info *ci,
				  uint8_t (*out)[4], size_t max)
{
	uint32_t bmask = ci->host_bmask[LB_CI_T(0, 0)], base = (copy & 1) * LB_HT_BUCKETS;
	struct lb_ht4_bucket b, first;
	size_t n = 0, unflagged = 0;
	uint32_t k, k1, a;
	unsigned int w;

	for (k = 0; k <= bmask && n < max; k++) {
		uint32_t key = base + k;

		if (bpf_map_lookup_elem(env.maps.srcx4, &key, &b))
			break;
		for (w = 0; w < LB_HT_WAYS && n < max; w++) {
			if (!b.cls1[w])
				continue;
			memcpy(&a, b.addr[w], 4);
			k1 = lb_ht_bucket1(lb_ht_hash_len(a, 0, b.plen[w]), bmask);
			if (k1 == k)
				continue;
			key = base + k1;
			if (bpf_map_lookup_elem(env.maps.srcx4, &key, &first) || !first.more)
				unflagged++;
			memcpy(out[n++], b.addr[w], 4);
		}
	}
	ASSERT_EQ(unflagged, 0, "first buckets of displaced entries say 'more'");
	return n;
}

static void test_host_table_full(void)
{
	uint8_t spill[4][4], many[64][4];
	struct lb_copy_info ci;
	struct lb_active act;
	char *text = policy_full();
	size_t n, i;

	if (!ASSERT_OK_PTR(text, "policy text") ||
	    !ASSERT_OK(policy_install_text(text), "131,071 /32 sources")) {
		free(text);
		goto out;
	}
	free(text);
	if (!ASSERT_OK(copy_info_active(&ci), "copy info") ||
	    !ASSERT_OK(policy_active(&env.maps, &act), "active copy"))
		goto out;
	ASSERT_TRUE(ci.flags & LB_CI_HOST(LB_CI_T(0, 0)), "host table in use");
	n = trie_hosts((uint8_t)act.copy, spill, 4);
	ASSERT_TRUE(n > 0 && (ci.flags & LB_CI_TRIE(LB_CI_T(0, 0))), "a full table spills");
	for (i = 0; i < n + 2; i++) {
		/* The spilled sources, then two from the table. */
		const uint8_t *a = i < n ? spill[i] : (const uint8_t[4]){ 198, 19, 254, (uint8_t)i };

		run_src4(a, XDP_DROP);
	}
	/* Entries found only in their second bucket; the one address the policy lacks. */
	n = second_bucket_hosts((uint8_t)act.copy, &ci, many, 64);
	ASSERT_EQ(n, 64, "a full table has entries in their second bucket");
	for (i = 0; i < n; i++)
		run_src4(many[i], XDP_DROP);
	run_src4((const uint8_t[4]){ 198, 19, 255, 255 }, XDP_PASS);
out:
	ASSERT_OK(policy_install(LB_ACT_DENY), "the test policy back");
}

/*
 * Several prefix lengths in one host table (lb_fw.h): IPv6 /64, /56 and /48,
 * the /64 and a /56 with the same masked address; IPv4 /32, /24, /16, /12 in
 * the table and /8, the fifth length, in the trie.  Longest match wins.
 */
static const char POLICY_LENGTHS[] = "{'default': 'deny', 'rules': ["
	"{'id': 'd32', 'src': '198.18.64.0/32', 'proto': 'udp', 'dport': 9000, 'action': 'deny'},"
	"{'id': 'a24', 'src': '198.18.64.0/24', 'proto': 'udp', 'dport': 9000, 'action': 'allow'},"
	"{'id': 'd16', 'src': '198.18.0.0/16', 'proto': 'udp', 'dport': 9000, 'action': 'deny'},"
	"{'id': 'a12', 'src': '198.16.0.0/12', 'proto': 'udp', 'dport': 9000, 'action': 'allow'},"
	"{'id': 'd8', 'src': '198.0.0.0/8', 'proto': 'udp', 'dport': 9000, 'action': 'deny'},"
	"{'id': 'a64', 'src': '2001:db8:aa:bb00::/64', 'proto': 'udp', 'dport': 9000,"
	" 'action': 'allow'},"
	"{'id': 'd56', 'src': '2001:db8:aa:bb00::/56', 'proto': 'udp', 'dport': 9000,"
	" 'action': 'deny'},"
	"{'id': 'a48', 'src': '2001:db8:aa::/48', 'proto': 'udp', 'dport': 9000,"
	" 'action': 'allow'}]}";

static const struct fw_case length_cases[] = {
	{ "len_v4_32", XDP, { IN4("198.18.64.0"), UDP(1, 9000) }, DROP(LB_R_RULE_DENY) },
	{ "len_v4_24", XDP, { IN4("198.18.64.1"), UDP(1, 9000) }, PASS(LB_R_RULE_ALLOW) },
	{ "len_v4_24_top", XDP, { IN4("198.18.64.255"), UDP(1, 9000) }, PASS(LB_R_RULE_ALLOW) },
	{ "len_v4_16", XDP, { IN4("198.18.65.0"), UDP(1, 9000) }, DROP(LB_R_RULE_DENY) },
	{ "len_v4_12", XDP, { IN4("198.17.64.0"), UDP(1, 9000) }, PASS(LB_R_RULE_ALLOW) },
	{ "len_v4_8_trie", XDP, { IN4("198.100.64.0"), UDP(1, 9000) }, DROP(LB_R_RULE_DENY) },
	{ "len_v4_0", XDP, { IN4("199.18.64.0"), UDP(1, 9000) }, DROP(LB_R_DEFAULT_DENY) },
	{ "len_v6_64", XDP, { IN6("2001:db8:aa:bb00::1"), UDP(1, 9000) }, PASS(LB_R_RULE_ALLOW) },
	{ "len_v6_56_same_bits", XDP, { IN6("2001:db8:aa:bb01::1"), UDP(1, 9000) },
	  DROP(LB_R_RULE_DENY) },
	{ "len_v6_56", XDP, { IN6("2001:db8:aa:bbff::1"), UDP(1, 9000) }, DROP(LB_R_RULE_DENY) },
	{ "len_v6_48", XDP, { IN6("2001:db8:aa:bc00::1"), UDP(1, 9000) }, PASS(LB_R_RULE_ALLOW) },
	{ "len_v6_0", XDP, { IN6("2001:db8:ab::1"), UDP(1, 9000) }, DROP(LB_R_DEFAULT_DENY) },
};

/*
 * A /18 inserted after 99,999 /32s into one table: with the table 3/4 full
 * it may land in its second bucket; it must still be found (the shape of the
 * benchmark's policy, tests/bench/compare.sh).
 */
static void test_host_table_late_prefix(void)
{
	size_t cap = 128 + 100000 * 96, off = 0;
	char *s = malloc(cap);
	int i;

	if (!ASSERT_OK_PTR(s, "policy text"))
		return;
	off += (size_t)snprintf(s, cap, "{'default': 'allow', 'rules': [");
	for (i = 0; i < 99999; i++) {
		int b = i < 65536 ? 19 * 65536 + i : i < 98304 ? 18 * 65536 + i - 65536
				  : 18 * 65536 + 32768 + i - 98304;

		off += (size_t)snprintf(s + off, cap - off,
					"{'id': 'f%d', 'src': '198.%d.%d.%d', 'proto': 'udp',"
					" 'dport': 9000, 'action': 'deny'},", i, b >> 16,
					(b >> 8) & 255, b & 255);
	}
	snprintf(s + off, cap - off, "{'id': 'match', 'src': '198.18.192.0/18', 'proto': 'udp',"
		 " 'dport': 9000, 'action': 'deny'}]}");
	/* Twice: into both policy copies. */
	for (i = 0; i < 2; i++) {
		if (!ASSERT_OK(policy_install_text(s), "99,999 /32s and a /18"))
			break;
		for (int h = 0; h < 16384; h++)
			run_src4((const uint8_t[4]){ 198, 18, (uint8_t)(192 + h / 256), (uint8_t)h }, XDP_DROP);
		run_src4((const uint8_t[4]){ 198, 18, 135, 0 }, XDP_PASS);
	}
	free(s);
	ASSERT_OK(policy_install(LB_ACT_DENY), "the test policy back");
}

static void test_host_lengths(void)
{
	static const uint8_t v4[] = { 32, 24, 16, 12 }, v6[] = { 64, 56, 48 };
	struct lb_copy_info ci;
	unsigned int i;

	if (!ASSERT_OK(policy_install_text(POLICY_LENGTHS), "policy of five and three lengths"))
		goto out;
	RUN_CASES(length_cases);
	if (ASSERT_OK(copy_info_active(&ci), "copy info")) {
		ASSERT_EQ(ci.host_nlen[LB_CI_T(0, 0)], LB_HT_LENGTHS, "v4: four lengths listed");
		for (i = 0; i < sizeof(v4); i++)
			ASSERT_EQ(ci.host_plen[LB_CI_T(0, 0)][i], v4[i], "v4 lengths, longest first");
		ASSERT_TRUE(ci.flags & LB_CI_TRIE(LB_CI_T(0, 0)), "v4: the /8 is in the trie");
		ASSERT_EQ(ci.host_nlen[LB_CI_T(0, 1)], 3, "v6: three lengths listed");
		for (i = 0; i < sizeof(v6); i++)
			ASSERT_EQ(ci.host_plen[LB_CI_T(0, 1)][i], v6[i], "v6 lengths, longest first");
		ASSERT_TRUE(!(ci.flags & LB_CI_TRIE(LB_CI_T(0, 1))), "v6: only /0 in the trie");
	}
out:
	ASSERT_OK(policy_install(LB_ACT_DENY), "the test policy back");
}

/*
 * A full table of two lengths: 511 allowed /24s, each with 255 denied /32s
 * (.0-.254) in it.  Some /32s spill into the trie; a /24 hit in the table
 * would hide them, so the /24s must not be listed (they go to the trie too).
 */
#define SPILL_24S 511

static char *policy_spill(void)
{
	size_t cap = 64 + (size_t)SPILL_24S * 256 * 100, off = 0;
	char *s = malloc(cap);
	int j, h;

	if (!s)
		return NULL;
	off += (size_t)snprintf(s, cap, "{'default': 'deny', 'rules': [");
	for (j = 0; j < SPILL_24S; j++) {
		off += (size_t)snprintf(s + off, cap - off,
					"%s{'id': 'n%d', 'src': '198.%d.%d.0/24', 'proto': 'udp',"
					" 'dport': 9000, 'action': 'allow'}", j ? "," : "", j,
					18 + (j >> 8), j & 255);
		for (h = 0; h < 255; h++)
			off += (size_t)snprintf(s + off, cap - off,
						",{'id': 'h%d.%d', 'src': '198.%d.%d.%d', 'proto': 'udp',"
						" 'dport': 9000, 'action': 'deny'}", j, h,
						18 + (j >> 8), j & 255, h);
	}
	snprintf(s + off, cap - off, "]}");
	return s;
}

static void test_host_lengths_spill(void)
{
	uint8_t spill[4][4];
	struct lb_copy_info ci;
	struct lb_active act;
	char *text = policy_spill();
	size_t n, i;

	if (!ASSERT_OK_PTR(text, "policy text") ||
	    !ASSERT_OK(policy_install_text(text), "130,305 /32s in 511 /24s")) {
		free(text);
		goto out;
	}
	free(text);
	if (!ASSERT_OK(copy_info_active(&ci), "copy info") ||
	    !ASSERT_OK(policy_active(&env.maps, &act), "active copy"))
		goto out;
	n = trie_hosts((uint8_t)act.copy, spill, 4);
	ASSERT_TRUE(n > 0, "a full table spills /32s");
	ASSERT_EQ(ci.host_nlen[LB_CI_T(0, 0)], 1, "only the /32s are listed");
	ASSERT_EQ(ci.host_plen[LB_CI_T(0, 0)][0], 32, "the /32s");
	for (i = 0; i < n + 4; i++) {
		/* The spilled /32s, then two from the table, then two /24-only addresses. */
		const uint8_t *a = i < n ? spill[i]
			: i < n + 2 ? (const uint8_t[4]){ 198, 19, 254, (uint8_t)i }
				    : (const uint8_t[4]){ 198, 18, (uint8_t)i, 255 };

		run_src4(a, i < n + 2 ? XDP_DROP : XDP_PASS);
	}
out:
	ASSERT_OK(policy_install(LB_ACT_DENY), "the test policy back");
}

static void test_policy_shapes(void)
{
	struct lb_copy_info ci;
	char *wide;

	if (!ASSERT_OK(policy_install_text(POLICY_PREFIXES), "policy of /24s and /56s"))
		goto out;
	RUN_CASES(prefix_cases);
	if (ASSERT_OK(copy_info_active(&ci), "copy info")) {
		ASSERT_EQ(ci.host_nlen[LB_CI_T(0, 0)], 2, "v4 source table holds two lengths");
		ASSERT_EQ(ci.host_plen[LB_CI_T(0, 0)][0], 24, "v4 source table: the /24s first");
		ASSERT_EQ(ci.host_plen[LB_CI_T(0, 0)][1], 16, "v4 source table: then the /16");
		ASSERT_EQ(ci.host_nlen[LB_CI_T(0, 1)], 2, "v6 source table holds two lengths");
		ASSERT_EQ(ci.host_plen[LB_CI_T(0, 1)][0], 56, "v6 source table: the /56s first");
		ASSERT_EQ(ci.host_plen[LB_CI_T(0, 1)][1], 48, "v6 source table: then the /48");
		ASSERT_TRUE(!(ci.flags & LB_CI_TRIE(LB_CI_T(0, 0))), "no v4 source trie lookup");
		ASSERT_TRUE(!(ci.flags & LB_CI_TRIE(LB_CI_T(1, 0))), "no v4 destination trie lookup");
	}
	wide = policy_wide();
	if (!ASSERT_OK_PTR(wide, "policy text") ||
	    !ASSERT_OK(policy_install_text(wide), "policy too wide for the dense table")) {
		free(wide);
		goto out;
	}
	free(wide);
	RUN_CASES(wide_cases);
	if (ASSERT_OK(copy_info_active(&ci), "copy info"))
		ASSERT_FALSE(ci.flags & LB_CI_DENSE, "rules in the hash");
out:
	ASSERT_OK(policy_install(LB_ACT_DENY), "the test policy back");
}

/* ---- neighbour discovery and failsafe ---- */

static const struct fw_case nd_failsafe_cases[] = {
	{ "nd_router_solicit", XDP, { IN6("2001:db8:bad::5"), ICMP6(133, 0), .hop_limit = 255 },
	  PASS(LB_R_ND) },
	{ "nd_neighbour_solicit", XDP, { IN6("2001:db8:bad::5"), ICMP6(135, 0), .hop_limit = 255 },
	  PASS(LB_R_ND) },
	{ "nd_neighbour_advert", XDP, { IN6("2001:db8:3::5"), ICMP6(136, 0), .hop_limit = 255 },
	  PASS(LB_R_ND) },
	{ "nd_redirect", XDP, { IN6("2001:db8:3::5"), ICMP6(137, 0), .hop_limit = 255 },
	  PASS(LB_R_ND) },
	/* ND not at hop limit 255 was routed here: not link-local, so the rules decide. */
	{ "nd_advert_hop_64_goes_to_rules", XDP, { IN6("2001:db8:3::5"), ICMP6(136, 0) },
	  DROP(LB_R_DEFAULT_DENY) },
	{ "nd_redirect_hop_254_goes_to_rules", XDP,
	  { IN6("2001:db8:3::5"), ICMP6(137, 0), .hop_limit = 254 }, DROP(LB_R_DEFAULT_DENY) },
	{ "mld_query", XDP, { IN6("2001:db8:bad::5"), ICMP6(130, 0), .hop_limit = 1 },
	  PASS(LB_R_ND) },
	{ "mldv2_report", XDP, { IN6("2001:db8:bad::5"), ICMP6(143, 0), .hop_limit = 1 },
	  PASS(LB_R_ND) },
	{ "mld_report_hop_64_goes_to_rules", XDP, { IN6("2001:db8:3::5"), ICMP6(143, 0) },
	  DROP(LB_R_DEFAULT_DENY) },
	{ "icmp6_129_not_nd", XDP, { IN6("2001:db8:3::5"), ICMP6(129, 0) },
	  DROP(LB_R_DEFAULT_DENY) },
	{ "icmp6_138_not_nd", XDP, { IN6("2001:db8:3::5"), ICMP6(138, 0) },
	  DROP(LB_R_DEFAULT_DENY) },
	{ "failsafe_beats_deny", XDP, { IN4("198.18.100.7"), TCP(40000, 22, PKT_SYN) },
	  PASS(LB_R_FAILSAFE) },
	{ "failsafe_other_port", XDP, { IN4("198.18.100.7"), TCP(40000, 23, PKT_SYN) },
	  DROP(LB_R_RULE_DENY) },
	{ "failsafe_other_proto", XDP, { IN4("198.18.100.7"), UDP(40000, 22) },
	  DROP(LB_R_DEFAULT_DENY) },
	{ "failsafe_other_src", XDP, { IN4("198.18.101.7"), TCP(40000, 22, PKT_SYN) },
	  DROP(LB_R_DEFAULT_DENY) },
	{ "failsafe6_beats_deny", XDP, { IN6("2001:db8:100::7"), TCP(40000, 22, PKT_SYN) },
	  PASS(LB_R_FAILSAFE) },
	{ "failsafe6_other_src", XDP, { IN6("2001:db8:101::7"), TCP(40000, 22, PKT_SYN) },
	  DROP(LB_R_DEFAULT_DENY) },
};

static void test_nd_failsafe(void)
{
	RUN_CASES(nd_failsafe_cases);
}

/* ---- interface default ---- */

static const struct fw_case default_allow_cases[] = {
	{ "default_allow_v4", XDP, { IN4("198.18.3.3"), TCP(40000, 9999, PKT_SYN) },
	  PASS(LB_R_DEFAULT_ALLOW) },
	{ "default_allow_v6", XDP, { IN6("2001:db8:3::3"), UDP(40000, 9999) },
	  PASS(LB_R_DEFAULT_ALLOW) },
	{ "default_allow_keeps_deny_rules", XDP, { IN4("198.18.3.3"), TCP(40000, 23, PKT_SYN) },
	  DROP(LB_R_RULE_DENY) },
};

static void test_default_allow(void)
{
	if (!ASSERT_OK(policy_install(LB_ACT_ALLOW), "policy_write, lo default allow"))
		return;
	RUN_CASES(default_allow_cases);
	ASSERT_OK(policy_install(LB_ACT_DENY), "policy_write, lo default deny");
}

/* ---- fragments ---- */

#define FRAG4(s, id, off, more)	IN4(s), .frag_id = id, .frag_off = off, .mf = more
#define FRAG6(s, id, off, more)	IN6(s), .frag_id = id, .frag_off = off, .mf = more

static const struct fw_case frag_cases[] = {
	{ "v4_first_frag_allowed", XDP, { FRAG4("198.18.3.3", 0x1001, 0, true), UDP(5000, 7000),
	  .payload = 32 }, PASS(LB_R_RULE_ALLOW) },
	{ "v4_next_frag_follows_pass", XDP,
	  { FRAG4("198.18.3.3", 0x1001, 5, true), .proto = IPPROTO_UDP, .payload = 32 },
	  PASS(LB_R_FRAG_PASS) },
	{ "v4_last_frag_follows_pass", XDP,
	  { FRAG4("198.18.3.3", 0x1001, 9, false), .proto = IPPROTO_UDP, .payload = 8 },
	  PASS(LB_R_FRAG_PASS) },
	{ "v4_first_frag_denied", XDP, { FRAG4("198.18.3.3", 0x1002, 0, true), UDP(5000, 7001),
	  .payload = 32 }, DROP(LB_R_RULE_DENY) },
	{ "v4_next_frag_follows_drop", XDP,
	  { FRAG4("198.18.3.3", 0x1002, 5, false), .proto = IPPROTO_UDP, .payload = 8 },
	  DROP(LB_R_FRAG_DROP) },
	{ "v4_frag_other_id_orphan", XDP,
	  { FRAG4("198.18.3.3", 0x1003, 5, false), .proto = IPPROTO_UDP, .payload = 8 },
	  DROP(LB_R_FRAG_ORPHAN) },
	{ "v4_frag_other_src_orphan", XDP,
	  { FRAG4("198.18.3.4", 0x1001, 5, false), .proto = IPPROTO_UDP, .payload = 8 },
	  DROP(LB_R_FRAG_ORPHAN) },
	{ "v4_frag_ports_never_read", XDP,
	  { FRAG4("198.18.100.7", 0x1004, 5, false), TCP(40000, 22, PKT_SYN) },
	  DROP(LB_R_FRAG_ORPHAN) },
	{ "v6_first_frag_allowed", XDP, { FRAG6("2001:db8:3::3", 0x20001, 0, true), EXT(44),
	  UDP(5000, 7000), .payload = 32 }, PASS(LB_R_RULE_ALLOW) },
	{ "v6_next_frag_follows_pass", XDP, { FRAG6("2001:db8:3::3", 0x20001, 5, false), EXT(44),
	  .proto = IPPROTO_UDP, .payload = 8 }, PASS(LB_R_FRAG_PASS) },
	{ "v6_first_frag_denied", XDP, { FRAG6("2001:db8:3::3", 0x20002, 0, true), EXT(0, 44),
	  UDP(5000, 7001), .payload = 32 }, DROP(LB_R_RULE_DENY) },
	{ "v6_next_frag_follows_drop", XDP, { FRAG6("2001:db8:3::3", 0x20002, 5, false),
	  EXT(0, 44), .proto = IPPROTO_UDP, .payload = 8 }, DROP(LB_R_FRAG_DROP) },
	{ "v6_first_frag_ext_after", XDP, { FRAG6("2001:db8:3::3", 0x20003, 0, true),
	  EXT(44, 60), UDP(5000, 7000), .payload = 32 }, PASS(LB_R_RULE_ALLOW) },
	{ "v6_next_frag_ext_after", XDP, { FRAG6("2001:db8:3::3", 0x20003, 5, false),
	  EXT(44, 60), .proto = IPPROTO_UDP, .payload = 8 }, PASS(LB_R_FRAG_PASS) },
	{ "v6_frag_orphan", XDP, { FRAG6("2001:db8:3::3", 0x20009, 5, false), EXT(44),
	  .proto = IPPROTO_UDP, .payload = 8 }, DROP(LB_R_FRAG_ORPHAN) },
	{ "v6_atomic_fragment_is_whole", XDP, { FRAG6("2001:db8:3::3", 0x2000a, 0, false),
	  EXT(44), UDP(5000, 7001) }, DROP(LB_R_RULE_DENY) },
};

static void test_fragments(void)
{
	RUN_CASES(frag_cases);
}

/* ---- conntrack ---- */

static const struct fw_case ct_cases[] = {
	{ "tcp_syn_out", TC, { OUT4("198.18.7.7"), TCP(40001, 5555, PKT_SYN) }, EGRESS },
	{ "tcp_synack_reply", XDP, { IN4("198.18.7.7"), TCP(5555, 40001, PKT_SYN | PKT_ACK) },
	  PASS(LB_R_CT_REPLY) },
	{ "tcp_ack_out", TC, { OUT4("198.18.7.7"), TCP(40001, 5555, PKT_ACK) }, EGRESS },
	{ "tcp_data_reply", XDP, { IN4("198.18.7.7"), TCP(5555, 40001, PKT_ACK | PKT_PSH),
	  .payload = 100 }, PASS(LB_R_CT_REPLY) },
	{ "tcp_other_local_port", XDP, { IN4("198.18.7.7"), TCP(5555, 40002, PKT_ACK) },
	  DROP(LB_R_DEFAULT_DENY) },
	{ "tcp_other_remote", XDP, { IN4("198.18.7.8"), TCP(5555, 40001, PKT_ACK) },
	  DROP(LB_R_DEFAULT_DENY) },
	{ "tcp_same_ports_reversed", XDP, { IN4("198.18.7.7"), TCP(40001, 5555, PKT_SYN) },
	  DROP(LB_R_DEFAULT_DENY) },
	{ "udp_out", TC, { OUT4("198.18.5.5"), UDP(40000, 9999) }, EGRESS },
	{ "udp_reply", XDP, { IN4("198.18.5.5"), UDP(9999, 40000) }, PASS(LB_R_CT_REPLY) },
	{ "udp_other_remote_port", XDP, { IN4("198.18.5.5"), UDP(9998, 40000) },
	  DROP(LB_R_DEFAULT_DENY) },
	{ "tcp6_syn_out", TC, { OUT6("2001:db8:7::7"), TCP(40001, 5555, PKT_SYN) }, EGRESS },
	{ "tcp6_synack_reply", XDP, { IN6("2001:db8:7::7"), TCP(5555, 40001, PKT_SYN | PKT_ACK) },
	  PASS(LB_R_CT_REPLY) },
	{ "tcp6_other_port", XDP, { IN6("2001:db8:7::7"), TCP(5555, 40009, PKT_ACK) },
	  DROP(LB_R_DEFAULT_DENY) },
	{ "udp6_out_via_ext_hdr", TC, { OUT6("2001:db8:5::5"), UDP(40000, 9999), EXT(60) },
	  EGRESS },
	{ "udp6_reply", XDP, { IN6("2001:db8:5::5"), UDP(9999, 40000) }, PASS(LB_R_CT_REPLY) },
	{ "gre_out", TC, { OUT4("198.18.8.8"), .proto = 47, .payload = 4 }, EGRESS },
	{ "esp_reply_other_proto", XDP, { IN4("198.18.8.8"), .proto = 50, .payload = 8 },
	  DROP(LB_R_DEFAULT_DENY) },
	{ "esp_out", TC, { OUT4("198.18.8.8"), .proto = 50, .payload = 8 }, EGRESS },
	{ "esp_reply", XDP, { IN4("198.18.8.8"), .proto = 50, .payload = 8 },
	  PASS(LB_R_CT_REPLY) },
};

static const struct fw_case icmp_ct_cases[] = {
	{ "echo_out", TC, { OUT4("198.18.9.9"), ICMP(8, 0), .icmp_id = 0x4242 }, EGRESS },
	{ "echo_reply", XDP, { IN4("198.18.9.9"), ICMP(0, 0), .icmp_id = 0x4242 },
	  PASS(LB_R_CT_REPLY) },
	{ "echo_reply_other_id", XDP, { IN4("198.18.9.9"), ICMP(0, 0), .icmp_id = 0x4243 },
	  DROP(LB_R_DEFAULT_DENY) },
	{ "echo_reply_other_host", XDP, { IN4("198.18.9.8"), ICMP(0, 0), .icmp_id = 0x4242 },
	  DROP(LB_R_DEFAULT_DENY) },
	{ "echo6_out", TC, { OUT6("2001:db8:9::9"), ICMP6(128, 0), .icmp_id = 0x77 }, EGRESS },
	{ "echo6_reply", XDP, { IN6("2001:db8:9::9"), ICMP6(129, 0), .icmp_id = 0x77 },
	  PASS(LB_R_CT_REPLY) },
	{ "port_unreachable_related", XDP, { IN4("198.18.5.5"), ICMP(3, 3),
	  .inner = &(const struct pkt_spec){ OUT4("198.18.5.5"), UDP(40000, 9999) } },
	  PASS(LB_R_CT_RELATED) },
	{ "port_unreachable_untracked", XDP, { IN4("198.18.5.5"), ICMP(3, 3),
	  .inner = &(const struct pkt_spec){ OUT4("198.18.5.5"), UDP(40000, 9998) } },
	  DROP(LB_R_DEFAULT_DENY) },
	{ "frag_needed_related_tcp_options", XDP, { IN4("198.18.7.1"), ICMP(3, 4),
	  .inner = &(const struct pkt_spec){ OUT4("198.18.7.7"), TCP(40001, 5555, PKT_ACK),
					     .ip_opt_len = 8 } },
	  PASS(LB_R_CT_RELATED) },
	{ "time_exceeded_related_echo", XDP, { IN4("198.18.9.1"), ICMP(11, 0),
	  .inner = &(const struct pkt_spec){ OUT4("198.18.9.9"), ICMP(8, 0), .icmp_id = 0x4242 } },
	  PASS(LB_R_CT_RELATED) },
	{ "icmp_error_truncated_inner", XDP, { IN4("198.18.5.5"), ICMP(3, 3),
	  .inner = &(const struct pkt_spec){ OUT4("198.18.5.5"), UDP(40000, 9999) }, .cut = 1 },
	  DROP(LB_R_DEFAULT_DENY) },
	{ "icmp6_unreachable_related", XDP, { IN6("2001:db8:5::5"), ICMP6(1, 4),
	  .inner = &(const struct pkt_spec){ OUT6("2001:db8:5::5"), UDP(40000, 9999) } },
	  PASS(LB_R_CT_RELATED) },
	{ "icmp6_too_big_related", XDP, { IN6("2001:db8:7::1"), ICMP6(2, 0),
	  .inner = &(const struct pkt_spec){ OUT6("2001:db8:7::7"), TCP(40001, 5555, PKT_ACK) } },
	  PASS(LB_R_CT_RELATED) },
	{ "icmp6_unreachable_untracked", XDP, { IN6("2001:db8:5::5"), ICMP6(1, 4),
	  .inner = &(const struct pkt_spec){ OUT6("2001:db8:5::5"), UDP(40000, 1) } },
	  DROP(LB_R_DEFAULT_DENY) },
};

static const struct fw_case egress_cases[] = {
	{ "egress_arp", TC, { .ethertype = 0x0806 }, UNTRACKED },
	{ "egress_bad_ipv4", TC, { OUT4("198.18.5.5"), UDP(1, 2), .ihl = 4 }, UNTRACKED },
	{ "egress_later_fragment", TC, { OUT4("198.18.5.5"), .proto = IPPROTO_UDP, .frag_id = 9,
	  .frag_off = 8, .payload = 8 }, UNTRACKED },
	{ "egress_echo_reply", TC, { OUT4("198.18.5.5"), ICMP(0, 0), .icmp_id = 1 }, UNTRACKED },
	{ "egress_nd", TC, { OUT6("2001:db8::2"), ICMP6(135, 0) }, UNTRACKED },
	{ "egress_first_fragment", TC, { OUT4("198.18.5.6"), UDP(40000, 9999), .frag_id = 10,
	  .mf = true, .payload = 16 }, EGRESS },
};

static bool ct_get(int fd, const char *src, const char *dst, int family, uint8_t proto,
		   uint16_t sport, uint16_t dport, struct lb_ct_val *v)
{
	struct lb_ct_key k = { .sport = htons(sport), .dport = htons(dport), .proto = proto,
			       .family = (__u8)family };
	int af = family == 4 ? AF_INET : AF_INET6;

	if (inet_pton(af, src, k.saddr) != 1 || inet_pton(af, dst, k.daddr) != 1)
		return false;
	return !bpf_map_lookup_elem(fd, &k, v);
}

/* The key's bit in the filter half ingress reads now (lb_fw.h, lb_ct_filter). */
static bool ctf_bit(const char *src, const char *dst, uint8_t proto, uint16_t sport,
		    uint16_t dport)
{
	uint8_t s[16] = { 0 }, d[16] = { 0 };
	__u64 gen = 0, word = 0;
	__u32 bit, k;

	if (inet_pton(AF_INET, src, s) != 1 || inet_pton(AF_INET, dst, d) != 1)
		return false;
	bit = lb_ctf_hash(s, d, htons(sport), htons(dport), proto, 4);
	k = LB_CTF_GEN_KEY;
	if (bpf_map_lookup_elem(env.maps.ct_filter, &k, &gen))
		return false;
	k = (__u32)(gen & 1) * LB_CTF_WORDS + bit / 64;
	if (bpf_map_lookup_elem(env.maps.ct_filter, &k, &word))
		return false;
	return (word >> (bit & 63)) & 1;
}

static void test_conntrack(void)
{
	struct lb_ct_val v;

	RUN_CASES(ct_cases);
	ASSERT_TRUE(ctf_bit(ME4, "198.18.7.7", IPPROTO_TCP, 40001, 5555), "filter bit of a flow");
	ASSERT_FALSE(ctf_bit(ME4, "198.18.7.7", IPPROTO_TCP, 40002, 5555), "none for another");
	if (ASSERT_TRUE(ct_get(env.maps.ct_tcp, ME4, "198.18.7.7", 4, IPPROTO_TCP, 40001, 5555, &v),
			"tcp entry")) {
		ASSERT_EQ(v.state, LB_CT_ESTABLISHED, "SYN out, SYN+ACK in: established");
		ASSERT_EQ(v.packets_out, 2, "packets_out");
		ASSERT_EQ(v.packets_in, 2, "packets_in");
		ASSERT_EQ(v.seen_reply, 1, "seen_reply");
		ASSERT_TRUE(v.expires_ns > v.last_seen_ns, "expires after last_seen");
	}
	if (ASSERT_TRUE(ct_get(env.maps.ct_other, ME4, "198.18.5.5", 4, IPPROTO_UDP, 40000, 9999,
			       &v), "udp entry"))
		ASSERT_EQ(v.state, LB_CT_NEW, "udp state");
}

/* SYN_SENT, then a RST answers: the reply passes and closes the entry. */
static void test_ct_tcp_states(void)
{
	static const struct fw_case cases[] = {
		{ "syn_out", TC, { OUT4("198.18.7.9"), TCP(40100, 443, PKT_SYN) }, EGRESS },
		{ "rst_reply", XDP, { IN4("198.18.7.9"), TCP(443, 40100, PKT_RST | PKT_ACK) },
		  PASS(LB_R_CT_REPLY) },
		{ "synack_out", TC, { OUT4("198.18.7.9"), TCP(8443, 40200, PKT_SYN | PKT_ACK) },
		  EGRESS },
		{ "fin_out", TC, { OUT4("198.18.7.9"), TCP(8443, 40200, PKT_FIN | PKT_ACK) },
		  EGRESS },
	};
	struct lb_ct_val v;

	RUN_CASES(cases);
	if (ASSERT_TRUE(ct_get(env.maps.ct_tcp, ME4, "198.18.7.9", 4, IPPROTO_TCP, 40100, 443, &v),
			"entry of the refused connection"))
		ASSERT_EQ(v.state, LB_CT_CLOSED, "RST: closed");
	if (ASSERT_TRUE(ct_get(env.maps.ct_tcp, ME4, "198.18.7.9", 4, IPPROTO_TCP, 8443, 40200,
			       &v), "entry of the accepted connection"))
		ASSERT_EQ(v.state, LB_CT_FIN, "FIN: fin");
}

/* An expired entry does not let replies in. */
static void test_ct_expiry(void)
{
	static const struct fw_case cases[] = {
		{ "udp_out_1ns", TC, { OUT4("198.18.5.7"), UDP(40000, 9999) }, EGRESS },
		{ "udp_reply_expired", XDP, { IN4("198.18.5.7"), UDP(9999, 40000) },
		  DROP(LB_R_DEFAULT_DENY) },
	};

	if (!ASSERT_OK(config_set(1000000, 1000000, 1), "udp timeout 1 ns"))
		return;
	RUN_CASES(cases);
	ASSERT_OK(config_default(), "restore config");
}

static void test_icmp_conntrack(void)
{
	RUN_CASES(icmp_ct_cases);
}

static bool gc_wait(struct lb_gc_stats *st)
{
	__u32 zero = 0;

	for (int i = 0; i < 80; i++) {	/* at most 2 s */
		usleep(25000);
		if (!bpf_map_lookup_elem(env.maps.gc_stats, &zero, st) && st->deleted)
			return true;
	}
	return false;
}

/* The in-kernel collector deletes an expired entry with nobody asking. */
static void test_ct_gc(void)
{
	static const struct fw_case cases[] = {
		{ "udp_out_for_gc", TC, { OUT4("198.18.5.9"), UDP(40001, 9999) }, EGRESS },
	};
	static const struct fw_case after[] = {
		{ "udp_reply_after_rebuild", XDP, { IN4("198.18.5.5"), UDP(9999, 40000) },
		  PASS(LB_R_CT_REPLY) },
	};
	LIBBPF_OPTS(bpf_object_open_opts, o, .pin_root_path = env.dir);
	struct lb_config cfg = { .ev_rate = 1000000, .ev_burst = 1000000, .gc_interval_ms = 50 };
	uint8_t pkt[64] = { 0 };
	LIBBPF_OPTS(bpf_test_run_opts, run, .data_in = pkt, .data_size_in = sizeof(pkt));
	struct lb_gc_stats st = { 0 };
	struct ct_gc *gc = NULL;
	struct lb_ct_val v;
	__u32 zero = 0;

	cfg.ct_timeout_ns[LB_CTT_UDP] = 1;
	if (!ASSERT_OK(bpf_map_update_elem(env.maps.config, &zero, &cfg, BPF_ANY), "config"))
		return;
	RUN_CASES(cases);
	if (!ASSERT_TRUE(ct_get(env.maps.ct_other, ME4, "198.18.5.9", 4, IPPROTO_UDP, 40001, 9999,
				&v), "expired entry present before the collector runs"))
		goto out;
	gc = ct_gc__open_opts(&o);
	if (!ASSERT_OK_PTR(gc, "open ct_gc") || !ASSERT_OK(ct_gc__load(gc), "load ct_gc"))
		goto out;
	ASSERT_OK(bpf_prog_test_run_opts(bpf_program__fd(gc->progs.lb_ct_gc_arm), &run), "arm");
	ASSERT_EQ(run.retval, 0, "arm retval");
	ASSERT_TRUE(gc_wait(&st), "collector deleted something within 2 s");
	ASSERT_TRUE(st.runs >= 1, "collector ran");
	ASSERT_FALSE(ct_get(env.maps.ct_other, ME4, "198.18.5.9", 4, IPPROTO_UDP, 40001, 9999, &v),
		     "expired entry gone");
	ASSERT_TRUE(ctf_bit(ME4, "198.18.5.5", IPPROTO_UDP, 40000, 9999),
		    "a live entry keeps its filter bit");
	ASSERT_FALSE(ctf_bit(ME4, "198.18.5.9", IPPROTO_UDP, 40001, 9999),
		     "a deleted entry's bit goes at the rebuild");
out:
	ct_gc__destroy(gc);
	config_default();
	/* An entry that lived through rebuilds still lets its replies in. */
	RUN_CASES(after);
}

static void test_egress_untracked(void)
{
	RUN_CASES(egress_cases);
}

/* ---- counters and events ---- */

static void test_rule_hits(void)
{
	const struct pkt_spec web = { IN4("198.18.1.9"), TCP(40000, 80, PKT_SYN) };
	__u64 before = rule_hits(RULE_ALLOW_WEB), other = rule_hits(RULE_ALLOW_WEB + 1);
	int i, ret;

	for (i = 0; i < 3; i++)
		ASSERT_OK(run_pkt(XDP, &web, &ret), "run");
	ASSERT_EQ(rule_hits(RULE_ALLOW_WEB) - before, 3, "allow-web hits");
	ASSERT_EQ(rule_hits(RULE_ALLOW_WEB + 1), other, "no hits on deny-telnet");
}

struct ev_seen {
	int n;
	struct lb_event last;
};

static int ev_cb(void *ctx, void *data, size_t len)
{
	struct ev_seen *seen = ctx;

	if (len >= sizeof(seen->last)) {
		memcpy(&seen->last, data, sizeof(seen->last));
		seen->n++;
	}
	return 0;
}

static void test_audit_event(void)
{
	const struct pkt_spec audit = { IN4("198.18.3.4"), TCP(40123, 8080, PKT_SYN) };
	const struct pkt_spec deny = { IN6("2001:db8:3::4"), TCP(40124, 9999, PKT_SYN) };
	struct ev_seen seen = { 0 };
	struct ring_buffer *rb;
	uint8_t saddr[4];
	int ret = -1;

	rb = ring_buffer__new(bpf_map__fd(env.xdp->maps.lb_events), ev_cb, &seen, NULL);
	if (!ASSERT_OK_PTR(rb, "ring_buffer__new"))
		return;
	ring_buffer__consume(rb);	/* what earlier tests left */
	seen.n = 0;

	ASSERT_OK(run_pkt(XDP, &audit, &ret), "run audit");
	ASSERT_EQ(ret, XDP_PASS, "audit passes");
	ASSERT_EQ(ring_buffer__consume(rb), 1, "one event");
	ASSERT_EQ(seen.n, 1, "one event seen");
	inet_pton(AF_INET, "198.18.3.4", saddr);
	ASSERT_EQ(seen.last.reason, LB_R_RULE_AUDIT, "event reason");
	ASSERT_EQ(seen.last.verdict, LB_VERDICT_AUDIT, "event verdict");
	ASSERT_EQ(seen.last.rule_idx, RULE_AUDIT_8080, "event rule");
	ASSERT_EQ(seen.last.ifindex, LO_IFINDEX, "event ifindex");
	ASSERT_EQ(seen.last.family, 4, "event family");
	ASSERT_EQ(seen.last.proto, IPPROTO_TCP, "event proto");
	ASSERT_EQ(seen.last.sport, 40123, "event sport");
	ASSERT_EQ(seen.last.dport, 8080, "event dport");
	ASSERT_EQ(seen.last.tcp_flags, PKT_SYN, "event tcp flags");
	ASSERT_TRUE(!memcmp(seen.last.saddr, saddr, 4), "event saddr");

	ASSERT_OK(run_pkt(XDP, &deny, &ret), "run deny");
	ASSERT_EQ(ring_buffer__consume(rb), 1, "one drop event");
	ASSERT_EQ(seen.last.reason, LB_R_DEFAULT_DENY, "drop event reason");
	ASSERT_EQ(seen.last.verdict, LB_VERDICT_DROP, "drop event verdict");
	ASSERT_EQ(seen.last.rule_idx, LB_RULE_NONE, "drop event: no rule");
	ASSERT_EQ(seen.last.family, 6, "drop event family");
	ring_buffer__free(rb);
}

static void test_event_rate_limit(void)
{
	const struct pkt_spec deny = { IN4("198.18.3.5"), TCP(40000, 9999, PKT_SYN) };
	struct lb_ev_stats before, after;
	struct lb_ev_bucket *zero;
	__u64 emitted, suppressed, lost;
	__u32 key = 0;
	int i, ret;

	/* One event per second, two in a burst, starting from an unused bucket. */
	zero = calloc((size_t)env.ncpu, sizeof(*zero));
	if (!ASSERT_OK_PTR(zero, "calloc"))
		return;
	ASSERT_OK(bpf_map_update_elem(env.maps.ev_bucket, &key, zero, BPF_ANY), "reset bucket");
	free(zero);
	ASSERT_OK(config_set(1, 2, 0), "ev_rate 1, ev_burst 2");
	ev_stats(&before);
	for (i = 0; i < 20; i++)
		ASSERT_OK(run_pkt(XDP, &deny, &ret), "run");
	ev_stats(&after);
	emitted = after.emitted - before.emitted;
	suppressed = after.suppressed - before.suppressed;
	lost = after.lost - before.lost;
	ASSERT_EQ(emitted + suppressed + lost, 20, "every drop accounted for");
	ASSERT_TRUE(emitted >= 2 && emitted <= 3, "burst of 2 (+1 if a second passed)");
	ASSERT_TRUE(suppressed >= 17, "the rest suppressed");
	ASSERT_OK(config_default(), "restore config");
}

int main(void)
{
	int r;

	if (geteuid()) {
		printf("SKIP test_fw_xdp: needs root\n");
		return 0;
	}
	env.ncpu = libbpf_num_possible_cpus();
	r = env_isolate();
	if (!r)
		r = env_load();
	if (!r)
		r = iface_register();
	if (!r)
		r = config_default();
	if (r) {
		fprintf(stderr, "setup: %s\n", strerror(r < 0 ? -r : r));
		printf("FAIL setup\n");
		env_cleanup();
		return 1;
	}

	RUN(test_unmanaged_iface);
	RUN(test_high_ifindex);
	RUN(test_no_policy);
	RUN(test_policy_install);
	RUN(test_parse);
	RUN(test_rules);
	RUN(test_policy_shapes);
	RUN(test_host_table_full);
	RUN(test_host_table_late_prefix);
	RUN(test_host_lengths);
	RUN(test_host_lengths_spill);
	RUN(test_nd_failsafe);
	RUN(test_default_allow);
	RUN(test_fragments);
	RUN(test_conntrack);
	RUN(test_ct_tcp_states);
	RUN(test_ct_expiry);
	RUN(test_ct_gc);
	RUN(test_icmp_conntrack);
	RUN(test_egress_untracked);
	RUN(test_rule_hits);
	RUN(test_audit_event);
	RUN(test_event_rate_limit);

	env_cleanup();
	return test_summary();
}
