// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * cidr.c - IPv4/IPv6 prefixes: text form, containment, matching.
 *
 * A struct lb_cidr always holds the network address (host bits zero), so two
 * equal prefixes compare equal with memcmp and a prefix is its own key in
 * sorted tables (compile.c).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include "policy.h"

unsigned int cidr_max_plen(unsigned int family)
{
	return family == 4 ? 32 : family == 6 ? 128 : 0;
}

/* Do the first plen bits of a and b agree? */
bool addr_prefix_eq(const uint8_t *a, const uint8_t *b, unsigned int plen)
{
	unsigned int bytes = plen / 8, bits = plen % 8;
	uint8_t mask;

	if (memcmp(a, b, bytes) != 0)
		return false;
	if (!bits)
		return true;
	mask = (uint8_t)(0xff << (8 - bits));
	return !((a[bytes] ^ b[bytes]) & mask);
}

static bool has_host_bits(const struct lb_cidr *c)
{
	unsigned int i;

	for (i = c->plen; i < cidr_max_plen(c->family); i++)
		if (c->addr[i / 8] & (0x80 >> (i % 8)))
			return true;
	return false;
}

static void clear_host_bits(struct lb_cidr *c)
{
	unsigned int i;

	for (i = c->plen; i < cidr_max_plen(c->family); i++)
		c->addr[i / 8] &= (uint8_t)~(0x80 >> (i % 8));
}

/* "/len": decimal, no sign, no leading zeros, at most max. */
static bool parse_plen(const char *s, unsigned int max, uint8_t *out)
{
	unsigned int v = 0;
	const char *p;

	if (!*s || (s[0] == '0' && s[1]) || strlen(s) > 3)
		return false;
	for (p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return false;
		v = v * 10 + (unsigned int)(*p - '0');
	}
	if (v > max)
		return false;
	*out = (uint8_t)v;
	return true;
}

/* Parses "any", "ADDR" or "ADDR/LEN"; host bits are left as written. */
static bool cidr_parse_raw(const char *s, struct lb_cidr *out)
{
	char buf[INET6_ADDRSTRLEN];
	struct lb_cidr c = { 0 };
	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s);

	if (!strcmp(s, "any")) {
		*out = c;
		return true;
	}
	if (alen == 0 || alen >= sizeof(buf))
		return false;
	memcpy(buf, s, alen);
	buf[alen] = '\0';
	c.family = strchr(buf, ':') ? 6 : 4;
	if (inet_pton(c.family == 6 ? AF_INET6 : AF_INET, buf, c.addr) != 1)
		return false;
	c.plen = (uint8_t)cidr_max_plen(c.family);
	if (slash && !parse_plen(slash + 1, c.plen, &c.plen))
		return false;
	*out = c;
	return true;
}

bool cidr_parse(const char *s, struct lb_cidr *out)
{
	struct lb_cidr c;

	if (!cidr_parse_raw(s, &c) || has_host_bits(&c))
		return false;
	*out = c;
	return true;
}

bool cidr_parse_masked(const char *s, struct lb_cidr *out)
{
	struct lb_cidr c;

	if (!cidr_parse_raw(s, &c))
		return false;
	clear_host_bits(&c);
	*out = c;
	return true;
}

void cidr_format(const struct lb_cidr *c, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	if (!len)
		return;
	if (c->family != 4 && c->family != 6) {
		snprintf(buf, len, "any");
		return;
	}
	inet_ntop(c->family == 4 ? AF_INET : AF_INET6, c->addr, a, sizeof(a));
	snprintf(buf, len, "%s/%u", a, c->plen);
}

bool cidr_contains(const struct lb_cidr *outer, const struct lb_cidr *inner)
{
	if (!outer->family)
		return true;
	if (outer->family != inner->family || outer->plen > inner->plen)
		return false;
	return addr_prefix_eq(outer->addr, inner->addr, outer->plen);
}

bool cidr_match(const struct lb_cidr *c, unsigned int family, const uint8_t *addr)
{
	if (!c->family)
		return true;
	return c->family == family && addr_prefix_eq(c->addr, addr, c->plen);
}
