/*
 * ratelimit: the per-call-site limit, pure. See include/ncx/ratelimit.h for
 * the semantics and the one accepted imprecision (the 16-bit clock wrap).
 */
#include "ncx/ratelimit.h"

#include <stdbool.h>

static uint32_t make(uint32_t stamp, bool silent, uint32_t count)
{
	return (stamp & 0xffff) << 16 | (silent ? NCX_RL_SILENT : 0) | (count & NCX_RL_COUNT_MAX);
}

uint32_t ncx_rl_step(uint32_t state, uint32_t now_s, const struct ncx_rl_params *params,
		     enum ncx_rl_verdict *verdict, uint32_t *suppressed)
{
	uint32_t burst = params && params->burst ? params->burst : NCX_RL_BURST;
	uint32_t silence = params && params->silence ? params->silence : NCX_RL_SILENCE;
	uint32_t count = ncx_rl_count(state), stamp = ncx_rl_stamp(state);
	/* Age modulo 2^16: the stamp keeps only 16 bits (see the header). */
	uint32_t age = (uint16_t)(now_s - stamp);

	if (burst > NCX_RL_COUNT_MAX)
		burst = NCX_RL_COUNT_MAX;
	*suppressed = 0;
	if (state & NCX_RL_SILENT) {
		if (age < silence) {
			*verdict = NCX_RL_DROP;
			return make(stamp, true, count < NCX_RL_COUNT_MAX ? count + 1 : count);
		}
		*verdict = NCX_RL_RESUME;
		*suppressed = count;
		return make(now_s, false, 1);
	}
	if (count == 0 || age >= silence) {
		*verdict = NCX_RL_PASS;		/* a new window */
		return make(now_s, false, 1);
	}
	if (count < burst) {
		*verdict = NCX_RL_PASS;
		return make(stamp, false, count + 1);
	}
	*verdict = NCX_RL_LIMIT;		/* this call's message is the first suppressed */
	return make(now_s, true, 1);
}
