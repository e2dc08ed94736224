// SPDX-License-Identifier: GPL-2.0
/*
 * ncxcon: the module, its parameters, its console and its kthread
 * (ncxcon.h says how the parts fit; docs/kmod.md is the operator's guide).
 */
#include <linux/console.h>
#include <linux/fs.h>
#include <linux/irq_work.h>
#include <linux/kthread.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/mutex.h>
#include <linux/netdevice.h>
#include <linux/random.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "ncxcon.h"

#define SPEC_MAX 1024
#define FIRST_SENDS_PER_ROUND 64
#define BUSY_POLL_MS 10		/* how soon to look again while records flow */

static struct ncxcon ncx;
/* Serializes configuration (target= at load and at run time, unload) and
 * the status read, which both use the targets and tx.
 */
static DEFINE_MUTEX(config_lock);
static char target_spec[SPEC_MAX];
static bool loaded;

static unsigned int max_pps;
module_param(max_pps, uint, 0444);
MODULE_PARM_DESC(max_pps, "at most this many datagrams a second, all targets together (0: no cap)");

static unsigned int poll_ms = 100;
module_param(poll_ms, uint, 0644);
MODULE_PARM_DESC(poll_ms,
		 "when idle, look for records above the console loglevel this often (ms, 1..1000)");

static int repeat_set(const char *val, const struct kernel_param *kp)
{
	return param_set_uint_minmax(val, kp, 1, 64);
}

static const struct kernel_param_ops repeat_ops = {
	.set = repeat_set,
	.get = param_get_uint,
};

module_param_cb(panic_repeat, &repeat_ops, &ncx.panic_repeat, 0644);
MODULE_PARM_DESC(panic_repeat, "at panic, send each unacked record this many times (1..64)");

/*
 * auth_key= (load time only): the host's key, 32 hex digits, as
 * `ncx key derive` makes it from the collector's secret and this host's
 * address. Permission 0: not in sysfs. The text is only kept here until
 * ncxcon_init() parses it (a parse error here would make the kernel print
 * the value), then wiped.
 */
static char auth_key_text[NCX_AUTH_KEY_HEX + 2];
static bool auth_key_long;

static int auth_key_set(const char *val, const struct kernel_param *kp)
{
	size_t n = strlen(val);

	memzero_explicit(auth_key_text, sizeof(auth_key_text));
	auth_key_long = n >= sizeof(auth_key_text);
	if (!auth_key_long)
		memcpy(auth_key_text, val, n);
	return 0;
}

static const struct kernel_param_ops auth_key_ops = {
	.set = auth_key_set,
};

module_param_cb(auth_key, &auth_key_ops, NULL, 0);
MODULE_PARM_DESC(auth_key,
		 "tag every datagram with this host key, take only tagged responses (32 hex digits: ncx key derive)");

static int auth_key_load(struct ncxcon *nc)
{
	const char *why = "too long: a key is 32 hex digits (128 bits)";
	int rc = 0;

	if (auth_key_long ||
	    (auth_key_text[0] &&
	     ncx_auth_key_parse(auth_key_text, strlen(auth_key_text), &nc->key, &why))) {
		pr_err("ncxcon: auth_key: %s; not loaded\n", why);
		rc = -EINVAL;
	} else if (auth_key_text[0]) {
		nc->auth = true;
	}
	memzero_explicit(auth_key_text, sizeof(auth_key_text));
	auth_key_long = false;
	return rc;
}

void ncxcon_kick(struct ncxcon *nc)
{
	atomic_set(&nc->kicked, 1);
	wake_up(&nc->wq);
}

static void kick_work(struct irq_work *w)
{
	ncxcon_kick(container_of(w, struct ncxcon, kick_work));
}

/* ---- the kthread ------------------------------------------------------- */

static u64 now_us(void)
{
	return div_u64(ktime_get_ns(), NSEC_PER_USEC);
}

/* How long to sleep: until tx's next deadline, or the next look for new
 * records, whichever is first. *idle_ms grows while nothing happens.
 */
static unsigned long sleep_jiffies(struct ncxcon *nc, u64 now, bool sent, unsigned int *idle_ms)
{
	unsigned int cap = clamp_t(unsigned int, READ_ONCE(poll_ms), 1, 1000);
	u64 deadline = ncx_tx_next_deadline(nc->tx), us;

	if (sent || nc->held)
		*idle_ms = BUSY_POLL_MS;
	else
		*idle_ms = min(*idle_ms * 2, cap);
	us = (u64)min(*idle_ms, cap) * USEC_PER_MSEC;
	if (deadline != U64_MAX)
		us = min(us, deadline > now ? deadline - now : 0);
	return max_t(unsigned long, usecs_to_jiffies(us), 1);
}

static int ncxcon_thread(void *arg)
{
	struct ncxcon *nc = arg;
	unsigned int idle_ms = BUSY_POLL_MS;

	while (!kthread_should_stop()) {
		u64 now = now_us(), before = nc->stats.records;
		bool more = false, more_new;

		nc->held = false;
		ncxcon_ack_read(nc, now, &more);
		ncx_tx_tick(nc->tx, now, ncxcon_resend, nc);
		ncxcon_send_new(nc, now, FIRST_SENDS_PER_ROUND, &more_new);
		if (more || more_new) {
			cond_resched();
			continue;
		}
		wait_event_interruptible_timeout(nc->wq,
						 atomic_xchg(&nc->kicked, 0) || kthread_should_stop(),
						 sleep_jiffies(nc, now, nc->stats.records != before,
							       &idle_ms));
	}
	return 0;
}

/* ---- targets ----------------------------------------------------------- */

static void targets_down(struct ncxcon *nc, unsigned int n)
{
	unsigned long flags;
	unsigned int i;

	for (i = 0; i < n; i++) {
		spin_lock_irqsave(&nc->xmit_lock, flags);
		nc->t[i].up = false;
		spin_unlock_irqrestore(&nc->xmit_lock, flags);
		/* A no-op if the device went away first (netdev_event). */
		netpoll_cleanup(&nc->t[i].np);
	}
}

static void ncxcon_stop(struct ncxcon *nc)
{
	if (nc->thread) {
		kthread_stop(nc->thread);
		nc->thread = NULL;
	}
	WRITE_ONCE(nc->live, false);
	ncxcon_ack_close(nc);
	targets_down(nc, nc->ntargets);
	ncx_tx_free(nc->tx);
	nc->tx = NULL;
	nc->ntargets = 0;
}

static int ncxcon_start(struct ncxcon *nc, const char *spec)
{
	struct ncx_tx_config cfg;
	unsigned int i, n;
	int rc;

	rc = ncxcon_targets_parse(spec, nc->t, NCXCON_TARGETS_MAX, &n);
	if (rc || !n)
		return rc;
	for (i = 0; i < n; i++) {
		rc = netpoll_setup(&nc->t[i].np);
		if (rc) {
			pr_err("ncxcon: target %u \"%s\": netpoll setup on %s failed (%d)\n",
			       i + 1, nc->t[i].spec, nc->t[i].np.dev_name, rc);
			targets_down(nc, i);
			return rc;
		}
		nc->t[i].up = true;
	}
	nc->ntargets = n;
	rc = ncxcon_ack_open(nc);
	if (rc)
		goto fail;
	ncx_tx_config_default(&cfg);
	cfg.ntargets = n;
	cfg.max_pps = max_pps;
	cfg.checkpoints = 4096;	/* 65,536 records in flight: more than the log holds */
	cfg.gone = ncxcon_send_gone;
	nc->tx = ncx_tx_new(&cfg);
	if (!nc->tx) {
		rc = -ENOMEM;
		goto fail;
	}
	nc->next_seq = ncxcon_record_oldest();
	nc->started = false;
	WRITE_ONCE(nc->live, true);
	nc->thread = kthread_run(ncxcon_thread, nc, "ncxcon");
	if (IS_ERR(nc->thread)) {
		rc = PTR_ERR(nc->thread);
		nc->thread = NULL;
		goto fail;
	}
	for (i = 0; i < n; i++)
		pr_info("ncxcon: sending to %pI4:%u from %pI4:%u on %s, from seq %llu, stream %016llx\n",
			&nc->t[i].np.remote_ip.ip, nc->t[i].np.remote_port,
			&nc->t[i].np.local_ip.ip, nc->t[i].np.local_port, nc->t[i].np.dev_name,
			nc->next_seq, nc->id);
	return 0;
fail:
	ncxcon_stop(nc);
	return rc;
}

/* target= written at run time: check it, then replace the running targets.
 * A bad value changes nothing.
 */
static int target_set(const char *val, const struct kernel_param *kp)
{
	struct ncxcon_target *check;
	unsigned int n;
	int rc;

	if (strlen(val) >= SPEC_MAX)
		return -ENOSPC;
	check = kcalloc(NCXCON_TARGETS_MAX, sizeof(*check), GFP_KERNEL);
	if (!check)
		return -ENOMEM;
	rc = ncxcon_targets_parse(val, check, NCXCON_TARGETS_MAX, &n);
	kfree(check);
	if (rc)
		return rc;

	mutex_lock(&config_lock);
	if (loaded) {
		ncxcon_stop(&ncx);
		rc = ncxcon_start(&ncx, val);
		if (rc) {
			pr_err("ncxcon: new targets failed (%d); back to the old ones\n", rc);
			if (ncxcon_start(&ncx, target_spec))
				target_spec[0] = '\0';
		}
	}
	if (!rc)
		strscpy(target_spec, val, SPEC_MAX);
	mutex_unlock(&config_lock);
	return rc;
}

static int target_get(char *buf, const struct kernel_param *kp)
{
	int n;

	mutex_lock(&config_lock);
	n = scnprintf(buf, PAGE_SIZE, "%s\n", target_spec);
	mutex_unlock(&config_lock);
	return n;
}

static const struct kernel_param_ops target_ops = {
	.set = target_set,
	.get = target_get,
};

module_param_cb(target, &target_ops, NULL, 0644);
MODULE_PARM_DESC(target,
		 "[+][src-port]@[src-ip]/[dev],[tgt-port]@<tgt-ip>[/tgt-mac], several separated by ';'");

/* status: one "name value" line each; read by tests and operators. */
static int status_get(char *buf, const struct kernel_param *kp)
{
	struct ncxcon *nc = &ncx;
	struct ncx_tx_stats st = { 0 };
	u64 unacked = 0, acked = U64_MAX;
	unsigned int t;
	int n;

	mutex_lock(&config_lock);
	if (nc->tx) {
		ncx_tx_stats(nc->tx, &st);
		if (nc->started)
			acked = ncx_tx_acked(nc->tx);
		for (t = 0; t < nc->ntargets; t++)
			unacked = max(unacked, ncx_tx_unacked(nc->tx, t));
	}
	n = scnprintf(buf, PAGE_SIZE,
		      "id %016llx\nauth %d\ntargets %u\nnext %llu\nacked %lld\nunacked %llu\nrecords %llu\n"
		      "datagrams %llu\nresent %llu\nemg_resent %llu\nemergencies %llu\n"
		      "gone %llu\nplaceholders %llu\nprobes %llu\nresponses %llu\n"
		      "malformed %llu\nforged %llu\ntruncated %llu\npaced %llu\nheld %llu\n"
		      "busy %llu\nauth_bad %llu\n",
		      nc->id, nc->auth, nc->ntargets, nc->next_seq, acked == U64_MAX ? -1LL : (s64)acked, unacked,
		      nc->stats.records, nc->stats.datagrams, st.resent, st.emg_resent,
		      st.emergencies, st.gone, st.placeholders, st.probes, nc->stats.responses,
		      st.malformed, nc->stats.forged, nc->stats.truncated, st.paced,
		      nc->stats.held, nc->stats.busy, nc->stats.auth_bad);
	mutex_unlock(&config_lock);
	return n;
}

static const struct kernel_param_ops status_ops = {
	.get = status_get,
};

module_param_cb(status, &status_ops, NULL, 0444);
MODULE_PARM_DESC(status, "counters (read only)");

/* ---- the console and the device notifier ------------------------------- */

/* Called by printk for records at or below the console loglevel: kick the
 * kthread (from irq_work: printk may run where a wake-up may not), or, at
 * panic, send (panic.c). Records above the loglevel are found by polling.
 */
static void console_write(struct console *con, const char *s, unsigned int len)
{
	if (atomic_read(&ncx.panicking))
		ncxcon_panic_console(&ncx);
	else
		irq_work_queue(&ncx.kick_work);
}

static struct console ncxcon_console = {
	.name = "ncxcon",
	.flags = CON_ENABLED,	/* enabled without console=, as netconsole */
	.write = console_write,
	.index = -1,
};

/* A target's device going away: stop using it (its netpoll holds a
 * reference the unregister waits for).
 */
static int netdev_event(struct notifier_block *nb, unsigned long event, void *ptr)
{
	struct net_device *dev = netdev_notifier_info_to_dev(ptr);
	struct ncxcon *nc = &ncx;
	unsigned long flags;
	unsigned int i;

	if (event != NETDEV_UNREGISTER && event != NETDEV_RELEASE && event != NETDEV_JOIN)
		return NOTIFY_DONE;
	for (i = 0; i < nc->ntargets; i++) {
		if (!nc->t[i].up || nc->t[i].np.dev != dev)
			continue;
		spin_lock_irqsave(&nc->xmit_lock, flags);
		nc->t[i].up = false;
		spin_unlock_irqrestore(&nc->xmit_lock, flags);
		__netpoll_cleanup(&nc->t[i].np);
		netdev_put(nc->t[i].np.dev, &nc->t[i].np.dev_tracker);
		nc->t[i].np.dev = NULL;
		pr_warn("ncxcon: target %u: %s went away; set target= again to resume\n",
			i + 1, nc->t[i].np.dev_name);
	}
	return NOTIFY_DONE;
}

static struct notifier_block netdev_nb = {
	.notifier_call = netdev_event,
};

/* ---- load and unload --------------------------------------------------- */

#define BOOT_ID_PATH "/proc/sys/kernel/random/boot_id"

/*
 * The stream's name (ncid): the boot id's first 64 bits, its first 16 hex
 * digits without the dashes. One boot is one stream, whatever is done to the
 * module: a reload resends the kernel's records with the kernel's seqs, and
 * the receiver fills the holes the last load left and drops what it has. The
 * boot id is not exported to modules, so it is read as userspace reads it
 * (insmod's context: its /proc). Without it, a random id: then each load is
 * a stream of its own.
 */
static u64 stream_id(void)
{
	char text[40];
	struct file *f;
	loff_t pos = 0;
	ssize_t n = -ENOENT;
	u64 id;

	f = filp_open(BOOT_ID_PATH, O_RDONLY, 0);
	if (!IS_ERR(f)) {
		n = kernel_read(f, text, sizeof(text), &pos);
		filp_close(f, NULL);
	}
	if (n > 0 && !ncx_boot_stream_id(text, n, &id))
		return id;
	pr_warn("ncxcon: no boot id in %s: a random stream id, so a reload starts a new stream\n",
		BOOT_ID_PATH);
	do {
		id = get_random_u64();
	} while (!id);
	return id;
}

static int __init ncxcon_init(void)
{
	struct ncxcon *nc = &ncx;
	int rc;

	if (!nc->panic_repeat)
		nc->panic_repeat = 16;
	nc->id = stream_id();
	rc = auth_key_load(nc);
	if (rc)
		return rc;
	spin_lock_init(&nc->xmit_lock);
	init_waitqueue_head(&nc->wq);
	init_irq_work(&nc->kick_work, kick_work);
	nc->work = kvzalloc(sizeof(*nc->work), GFP_KERNEL);
	nc->panic = kvzalloc(sizeof(*nc->panic), GFP_KERNEL);
	nc->rbuf = kzalloc(ncxcon_ack_buf_size(), GFP_KERNEL);
	rc = -ENOMEM;
	if (!nc->work || !nc->panic || !nc->rbuf)
		goto free;
	rc = register_netdevice_notifier(&netdev_nb);
	if (rc)
		goto free;
	mutex_lock(&config_lock);
	rc = ncxcon_start(nc, target_spec);
	if (!rc)
		loaded = true;
	mutex_unlock(&config_lock);
	if (rc)
		goto netdev;
	rc = ncxcon_panic_register(nc);
	if (rc)
		goto stop;
	register_console(&ncxcon_console);
	if (!nc->ntargets)
		pr_info("ncxcon: loaded with no target; set /sys/module/ncxcon/parameters/target\n");
	if (nc->auth)
		pr_info("ncxcon: stream %016llx: every datagram tagged (auth_key), only tagged responses taken\n",
			nc->id);
	return 0;
stop:
	mutex_lock(&config_lock);
	ncxcon_stop(nc);
	loaded = false;
	mutex_unlock(&config_lock);
netdev:
	unregister_netdevice_notifier(&netdev_nb);
free:
	kfree(nc->rbuf);
	kvfree(nc->panic);
	kvfree(nc->work);
	memzero_explicit(&nc->key, sizeof(nc->key));
	return rc;
}

static void __exit ncxcon_exit(void)
{
	struct ncxcon *nc = &ncx;

	unregister_console(&ncxcon_console);
	irq_work_sync(&nc->kick_work);
	ncxcon_panic_unregister(nc);
	mutex_lock(&config_lock);
	ncxcon_stop(nc);
	loaded = false;
	mutex_unlock(&config_lock);
	unregister_netdevice_notifier(&netdev_nb);
	kfree(nc->rbuf);
	kvfree(nc->panic);
	kvfree(nc->work);
	memzero_explicit(&nc->key, sizeof(nc->key));
}

module_init(ncxcon_init);
module_exit(ncxcon_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("ncxcon: reliable netconsole (acks, retransmission, emergency and panic transmission) for ncxd");
MODULE_VERSION(NCXCON_VERSION);
