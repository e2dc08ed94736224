/* SPDX-License-Identifier: MIT */
/*
 * A reliable sender's -t HOST:PORT, the same for `ncx send` and `ncx
 * forward`: numeric, a port that can receive, at most NCX_TX_TARGETS_MAX,
 * each once.
 */
#include <ncx/addr.h>
#include <ncx/netcon.h>

#include "ncx.h"

int cmd_add_target(const char *cmd, struct ncx_netcon_config *c, const char *text)
{
	struct ncx_addr *a = &c->targets[c->ntargets];

	if (c->ntargets == NCX_TX_TARGETS_MAX) {
		cmd_err(cmd, "at most %d targets", NCX_TX_TARGETS_MAX);
		return EX_USAGE;
	}
	if (ncx_addr_parse(text, CMD_DEFAULT_PORT, a)) {
		cmd_err(cmd, "'%s' is not HOST:PORT with a numeric address "
			     "(e.g. 10.0.0.5:6666 or [::1]:6666)", text);
		return EX_USAGE;
	}
	if (a->port == 0) {
		cmd_err(cmd, "'%s': port 0 is no receiver", text);
		return EX_USAGE;
	}
	for (unsigned i = 0; i < c->ntargets; i++)
		if (ncx_addr_equal(&c->targets[i], a)) {
			cmd_err(cmd, "target %s given twice", text);
			return EX_USAGE;
		}
	c->ntargets++;
	return 0;
}
