/* SPDX-License-Identifier: MIT */
/*
 * ratelimit: the per-call-site limit of the log core, as a pure function
 * (header only: inline on the logging path).
 *
 * Every call site owns 4 bytes of state: a 16-bit count and a 16-bit
 * timestamp in seconds. The function below takes that state and the current
 * time in seconds and returns the next state and a verdict; it reads no
 * clock and touches nothing else, so the log core can apply it with one
 * compare-and-swap and the tests can drive it with any clock they like.
 *
 * Semantics, with the program-wide burst B (default 30,000) and silence S
 * (default 300 s):
 *
 *   - A window opens at a site's first call. Up to B calls pass in it.
 *   - A window that is S seconds old when the site is called again is over:
 *     the count starts over with this call.
 *   - Call B+1 inside a window gets NCX_RL_LIMIT: the caller logs one
 *     "ratelimit in effect" record naming the site instead of the message,
 *     and the site falls silent for S seconds from that moment.
 *   - Calls while silent get NCX_RL_DROP and are counted.
 *   - The first call S or more seconds after the silence began gets
 *     NCX_RL_RESUME with the number suppressed (the message that was
 *     replaced by the notice counts as suppressed): the caller logs a record
 *     saying so, then the message; a new window opens with this call.
 *
 * State layout (uint32_t): bits 0..14 the count (calls passed in the window,
 * or calls suppressed while silent), bit 15 set while silent, bits 16..31 the
 * low 16 bits of the time the window or the silence began. The suppressed
 * count saturates at NCX_RL_COUNT_MAX: a report of that number means "at
 * least that many". A zero state is a site never called.
 *
 * The timestamp wraps every 65,536 s (about 18 h). Ages are computed modulo
 * 65,536, so a site that fell silent and then stayed quiet for a multiple of
 * 65,536 s (give or take less than S) is silenced again, without cause, for
 * the rest of that one window; likewise a window that seems young again may
 * run out of its burst early once. That rare case is accepted (DESIGN.md);
 * nothing worse can happen: no state lasts longer than one window.
 */
#ifndef NCX_RATELIMIT_H
#define NCX_RATELIMIT_H

#include <stdint.h>

#define NCX_RL_BURST 30000	/* default calls per window */
#define NCX_RL_SILENCE 300	/* default seconds of silence (and window length) */
#define NCX_RL_COUNT_MAX 0x7fff	/* the largest count the state holds */
#define NCX_RL_SILENT 0x8000u	/* state bit: the site is silenced */

struct ncx_rl_params {
	uint16_t burst;		/* 1..NCX_RL_COUNT_MAX */
	uint16_t silence;	/* seconds, 1..32767 */
};

enum ncx_rl_verdict {
	NCX_RL_PASS,		/* log the message */
	NCX_RL_LIMIT,		/* log "ratelimit in effect" instead; silence begins */
	NCX_RL_DROP,		/* silenced: log nothing */
	NCX_RL_RESUME,		/* log "<n> suppressed", then the message */
};

static inline uint32_t ncx_rl_count(uint32_t state)
{
	return state & NCX_RL_COUNT_MAX;
}

static inline uint32_t ncx_rl_stamp(uint32_t state)
{
	return state >> 16;
}

static inline uint32_t ncx_rl_make(uint32_t stamp, int silent, uint32_t count)
{
	return (stamp & 0xffff) << 16 | (silent ? NCX_RL_SILENT : 0) | (count & NCX_RL_COUNT_MAX);
}

/*
 * One call at a site: returns the site's next state and sets *verdict; on
 * NCX_RL_RESUME, *suppressed is how many calls were suppressed (saturated at
 * NCX_RL_COUNT_MAX), otherwise 0. A params field of 0 means its default.
 * Inline: it is on every ncx_log() call, and a silenced call should cost
 * little more than this.
 */
static inline uint32_t ncx_rl_step(uint32_t state, uint32_t now_s,
				   const struct ncx_rl_params *params,
				   enum ncx_rl_verdict *verdict, uint32_t *suppressed)
{
	uint32_t burst = params && params->burst ? params->burst : NCX_RL_BURST;
	uint32_t silence = params && params->silence ? params->silence : NCX_RL_SILENCE;
	uint32_t count = ncx_rl_count(state), stamp = ncx_rl_stamp(state);
	/* Age modulo 2^16: the stamp keeps only 16 bits (see above). */
	uint32_t age = (uint16_t)(now_s - stamp);

	if (burst > NCX_RL_COUNT_MAX)
		burst = NCX_RL_COUNT_MAX;
	*suppressed = 0;
	if (state & NCX_RL_SILENT) {
		if (age < silence) {
			*verdict = NCX_RL_DROP;
			return ncx_rl_make(stamp, 1, count < NCX_RL_COUNT_MAX ? count + 1 : count);
		}
		*verdict = NCX_RL_RESUME;
		*suppressed = count;
		return ncx_rl_make(now_s, 0, 1);
	}
	if (count == 0 || age >= silence) {
		*verdict = NCX_RL_PASS;		/* a new window */
		return ncx_rl_make(now_s, 0, 1);
	}
	if (count < burst) {
		*verdict = NCX_RL_PASS;
		return ncx_rl_make(stamp, 0, count + 1);
	}
	*verdict = NCX_RL_LIMIT;		/* this call's message is the first suppressed */
	return ncx_rl_make(now_s, 1, 1);
}

#endif /* NCX_RATELIMIT_H */
