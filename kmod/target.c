// SPDX-License-Identifier: GPL-2.0
/*
 * target=: netconsole's syntax, several targets separated by ';':
 *
 *   [+][src-port]@[src-ip]/[dev],[tgt-port]@<tgt-ip>[/[tgt-mac]]
 *
 * Defaults as netconsole's: source port 6665, the device's own address,
 * eth0, target port 6666, the broadcast MAC. '+' (extended) is accepted and
 * changes nothing: ncxcon always sends the extended format. IPv4 only.
 * Parsing only fills struct netpoll; nothing is set up here.
 */
#include <linux/etherdevice.h>
#include <linux/inet.h>
#include <linux/kernel.h>
#include <linux/string.h>

#include "ncxcon.h"

/* The next field of *s up to (not including) stop, or to the end of *s if
 * stop is 0. Returns false if stop was wanted and is not there.
 */
static bool field(char **s, char stop, char **out)
{
	char *end = stop ? strchr(*s, stop) : *s + strlen(*s);

	if (!end)
		return false;
	*out = *s;
	if (*end) {
		*end = '\0';
		*s = end + 1;
	} else {
		*s = end;
	}
	return true;
}

static int parse_port(const char *s, u16 dflt, u16 *port, const char **why)
{
	u16 v;

	if (!*s) {
		*port = dflt;
		return 0;
	}
	if (kstrtou16(s, 10, &v) || !v) {
		*why = "a port is a number from 1 to 65535";
		return -EINVAL;
	}
	*port = v;
	return 0;
}

static int parse_ip(const char *s, union inet_addr *ip, const char **why)
{
	if (strchr(s, ':')) {
		*why = "IPv6 addresses are not supported (yet): use IPv4";
		return -EINVAL;
	}
	if (!in4_pton(s, -1, (u8 *)&ip->ip, -1, NULL)) {
		*why = "not an IPv4 address";
		return -EINVAL;
	}
	return 0;
}

/* One target, in place (s is modified). */
static int parse_one(char *s, struct ncxcon_target *t, const char **why)
{
	char *f;
	int rc;

	memset(&t->np, 0, sizeof(t->np));
	t->np.name = "ncxcon";
	if (*s == '+')
		s++;
	if (!field(&s, '@', &f)) {
		*why = "no '@' after the source port";
		return -EINVAL;
	}
	rc = parse_port(f, 6665, &t->np.local_port, why);
	if (rc)
		return rc;
	if (!field(&s, '/', &f)) {
		*why = "no '/' after the source address";
		return -EINVAL;
	}
	if (*f) {
		rc = parse_ip(f, &t->np.local_ip, why);
		if (rc)
			return rc;
	}
	if (!field(&s, ',', &f)) {
		*why = "no ',' after the device";
		return -EINVAL;
	}
	if (strlen(f) >= IFNAMSIZ) {
		*why = "device name too long";
		return -EINVAL;
	}
	strscpy(t->np.dev_name, *f ? f : "eth0", IFNAMSIZ);
	if (!field(&s, '@', &f)) {
		*why = "no '@' after the target port";
		return -EINVAL;
	}
	rc = parse_port(f, 6666, &t->np.remote_port, why);
	if (rc)
		return rc;
	if (!strchr(s, '/'))
		field(&s, 0, &f);
	else
		field(&s, '/', &f);
	if (!*f) {
		*why = "no target address";
		return -EINVAL;
	}
	rc = parse_ip(f, &t->np.remote_ip, why);
	if (rc)
		return rc;
	eth_broadcast_addr(t->np.remote_mac);
	if (*s && !mac_pton(s, t->np.remote_mac)) {
		*why = "not a MAC address (aa:bb:cc:dd:ee:ff)";
		return -EINVAL;
	}
	return 0;
}

/*
 * Parse spec into t[0..*n-1]. On error, says which target and why in the
 * kernel log and returns -EINVAL; t is then garbage.
 */
int ncxcon_targets_parse(const char *spec, struct ncxcon_target *t, unsigned int max,
			 unsigned int *n)
{
	char buf[sizeof(t->spec)];
	const char *p = spec, *end, *why;
	size_t len;

	*n = 0;
	while (*p) {
		end = strchrnul(p, ';');
		len = end - p;
		while (len && isspace(p[len - 1]))
			len--;
		while (len && isspace(*p)) {
			p++;
			len--;
		}
		if (len) {
			if (*n == max) {
				pr_err("ncxcon: more than %u targets\n", max);
				return -EINVAL;
			}
			if (len >= sizeof(buf)) {
				pr_err("ncxcon: target %u is too long\n", *n + 1);
				return -EINVAL;
			}
			memcpy(buf, p, len);
			buf[len] = '\0';
			strscpy(t[*n].spec, buf, sizeof(t[*n].spec));
			if (parse_one(buf, &t[*n], &why)) {
				pr_err("ncxcon: target %u \"%s\": %s\n", *n + 1, t[*n].spec, why);
				return -EINVAL;
			}
			(*n)++;
		}
		p = *end ? end + 1 : end;
	}
	return 0;
}
