/* SPDX-License-Identifier: MIT */
/*
 * rx: acks and retransmission requests, to reliable senders only.
 *
 *  - An ack of new progress at most once per ack_us, or due at once when
 *    window / 2 records were delivered since the last ack (rx_progress(),
 *    rx_internal.h).
 *  - Missing seqs are listed only in the retransmission requests (every
 *    retx_us, lowest first, only within the window, in up to
 *    NCX_RX_RESPONSES_MAX datagrams per round, each with the same ack).
 *  - An ncemg datagram is acked at once unless the same ack went out less
 *    than ack_us ago.
 *  - A held placeholder stands for its whole range: nothing in it is asked
 *    for.
 *  - The acks sent are remembered (marks) for the reboot test of
 *    rx_stream.c.
 *  - No amplification (rx.h): each datagram fits the sender's budget
 *    (cfg.amplify, NCX_RX_AMPLIFY, x the bytes received from it, less what
 *    it was sent)
 *    and the engine's cfg.resp_rate bucket, or carries fewer seqs, or is
 *    held back and counted. So the requests a sender can cause are bounded
 *    by what it has shown it sent: two forged datagrams claiming seq 1 and
 *    seq 1,000,000 buy 3x their bytes of requests, not 4,096 seqs every
 *    100 ms for the hole's whole life.
 */
#include "rx_internal.h"

/* Acks older than the reliable hole timeout become stable_ack. */
void rx_promote_ack(const struct ncx_rx *rx, struct sender *s, uint64_t now)
{
	while (s->nmarks && now > s->marks[0].us &&
	       now - s->marks[0].us > rx->cfg.reliable_hole_us) {
		s->stable_ack = s->marks[0].acked;
		memmove(s->marks, s->marks + 1, --s->nmarks * sizeof(s->marks[0]));
	}
}

/*
 * Remember acks for the reboot test: stable_ack is the latest ack sent more
 * than reliable_hole_us ago. Marks are kept at least a quarter of that
 * apart, so four of them make stable_ack lag the truth by about a quarter
 * of the timeout at most; lagging only makes the test more careful.
 */
static void note_ack(const struct ncx_rx *rx, struct sender *s, uint64_t acked, uint64_t now)
{
	rx_promote_ack(rx, s, now);
	if (s->nmarks && now - s->marks[s->nmarks - 1].us < rx->cfg.reliable_hole_us / 4)
		return;
	if (s->nmarks == ACK_MARKS)
		memmove(s->marks, s->marks + 1, --s->nmarks * sizeof(s->marks[0]));
	s->marks[s->nmarks].acked = acked;
	s->marks[s->nmarks].us = now;
	s->nmarks++;
}

/* The end of what may be asked for: the window, or top if nearer. */
static uint64_t ask_end(const struct ncx_rx *rx, const struct sender *s)
{
	return s->top - s->next > rx->cfg.window ? s->next + rx->cfg.window : s->top;
}

/*
 * Add each missing seq from *from up to end to the response, while it fits;
 * *from is left at the first seq not looked at.
 */
static void put_missing(struct ncx_rx *rx, struct sender *s, uint64_t *from, uint64_t end,
			uint64_t *asked)
{
	uint64_t q;

	for (q = *from; q < end; q++) {
		const struct held *h = rx_win_get(s, q);

		if (h) {
			uint64_t last = h->rec.gone ? sat_add(q, h->rec.gone - 1) : q;

			if (last >= end - 1) {
				q = end;
				break;
			}
			q = last;
			continue;
		}
		if (!ncx_resp_add(&rx->resp, q))
			break;
		(*asked)++;
	}
	*from = q;
}

/* Bytes a response to s may have now: its budget, and the engine's bucket. */
static uint64_t resp_room(struct ncx_rx *rx, const struct sender *s, uint64_t now)
{
	uint64_t k = rx->cfg.amplify, room = UINT64_MAX;

	if (k) {
		uint64_t budget = s->st.bytes > UINT64_MAX / k ? UINT64_MAX : s->st.bytes * k;

		room = budget > s->resp_bytes ? budget - s->resp_bytes : 0;
	}

	if (rx->cfg.resp_rate) {
		if (now > rx->resp_last_us) {
			uint64_t dt = now - rx->resp_last_us;
			uint64_t add = dt >= 1000000 ? rx->cfg.resp_rate :
				       rx->cfg.resp_rate * dt / 1000000;

			rx->resp_tokens = min64(sat_add(rx->resp_tokens, add), rx->cfg.resp_rate);
			if (add)
				rx->resp_last_us = now;
		}
		room = min64(room, rx->resp_tokens);
	}
	return min64(room, NCX_RX_RESPONSE_MAX);
}

/* Response datagrams "ncrx<acked>[ <seq>]*" for the missing seqs in
 * [*from, end), while *sent < NCX_RX_RESPONSES_MAX; at least one if none
 * went yet (the ack). */
static void emit_asks(struct ncx_rx *rx, struct sender *s, uint64_t *from, uint64_t end,
		      uint64_t *asked, unsigned *sent, uint64_t now)
{
	struct ncx_rx_event ev;

	while (*sent < NCX_RX_RESPONSES_MAX && (*from < end || !*sent)) {
		uint64_t room = resp_room(rx, s, now), before = *from;
		size_t tag = s->authed ? NCX_AUTH_RESP_TAG_LEN : 0; /* within the budget */

		ncx_resp_init(&rx->resp, s->next - 1);
		if (rx->resp.len + tag > room) {
			COUNT(rx, s, responses_held, 1);
			break;
		}
		rx->resp.limit = (size_t)room - tag;
		put_missing(rx, s, from, end, asked);
		if (tag)
			rx->resp.len = (size_t)ncx_auth_resp_sign(&s->key, s->id, rx->resp.buf,
								  rx->resp.len, sizeof(rx->resp.buf));
		COUNT(rx, s, responses, 1);
		COUNT(rx, s, response_bytes, rx->resp.len);
		s->resp_bytes += rx->resp.len;
		if (rx->cfg.resp_rate)
			rx->resp_tokens -= rx->resp.len;
		rx_ev_init(rx, &ev, NCX_RX_RESPONSE, s, NULL, now);
		ev.response.p = rx->resp.buf;
		ev.response.len = rx->resp.len;
		rx->emit(rx->arg, &ev);
		++*sent;
		if (*from == before)
			break; /* no room for a seq: the ack alone, once */
	}
}

/*
 * "ncrx<acked>", plus the missing seqs if ask: as many datagrams as they
 * need, NCX_RX_RESPONSES_MAX at most per call (per round), each with the
 * same ack. When all that is missing fits in one datagram (the last holes,
 * which decide when the last record arrives), the seqs already asked for
 * in the round before (their request or their resend was lost) are asked
 * for once more in a second one: under heavy loss the last holes close in
 * about half the rounds. Never more, so that many senders recovering at
 * once cannot flood the path with resends. Only to reliable senders, and
 * only once something can be acked.
 */
void rx_respond(struct ncx_rx *rx, struct sender *s, bool ask, uint64_t now)
{
	uint64_t acked, asked = 0, from, end, again;
	unsigned sent = 0;

	if (!s->reliable || s->stream != STREAM_OPEN || s->next == 0)
		return;
	acked = s->next - 1;
	from = s->next;
	end = ask ? ask_end(rx, s) : from;
	emit_asks(rx, s, &from, end, &asked, &sent, now);
	if (ask) {
		unsigned one = NCX_RX_RESPONSES_MAX - 1;

		again = s->next;
		if (sent == 1 && from == end)
			emit_asks(rx, s, &again, min64(end, s->asked_end), &asked, &one, now);
		s->asked_end = from;
	}
	COUNT(rx, s, retx_requested, asked);
	s->last_resp_us = now;
	s->last_acked = acked;
	s->ack_due = NONE;
	note_ack(rx, s, acked, now);
}

/* ncemg: ack at once, unless the same ack went out less than ack_us ago
 * (an emergency burst resends many records; one ack answers them all). */
void rx_ack_emergency(struct ncx_rx *rx, struct sender *s, uint64_t now)
{
	if (s->last_resp_us != NONE && s->stream != STREAM_NONE &&
	    s->last_acked == s->next - 1 && now - s->last_resp_us < rx->cfg.ack_us &&
	    now >= s->last_resp_us)
		return;
	rx_respond(rx, s, false, now);
}
