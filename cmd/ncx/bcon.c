/* SPDX-License-Identifier: MIT */
/*
 * ncx bcon: the block console's userspace half (docs/bcon.md).
 *
 *   ncx bcon init FILE [--size N] [--tile N]
 *       make FILE a block console file (written in full, mapped with FIEMAP,
 *       checked, made immutable) and print the module's parameters; on a file
 *       init made before, check it again and print them again.
 *   ncx bcon read FILE|DEVICE [--follow] [--id HEX] [--interval S]
 *       print the stream, oldest to newest, marking torn and corrupt tiles
 *       and gaps; from a block device or a disk image, by scanning for tiles.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "ncx.h"
#include "ncx/bcon.h"

#define EXT4_MAGIC 0xEF53
#define XFS_MAGIC 0x58465342
#define BTRFS_MAGIC 0x9123683E
#define MAX_EXTENTS 128
#define SCAN_CHUNK (8u << 20)

static void usage(FILE *f)
{
	fprintf(f,
		"usage: ncx bcon init FILE [--size N] [--tile N]\n"
		"       ncx bcon read FILE|DEVICE [--follow] [--id HEX] [--interval S]\n\n"
		"The block console: the kernel's log written by ncxbcon.ko straight to the disk\n"
		"blocks of a preallocated file, and read back after a crash (docs/bcon.md).\n\n"
		"init  creates FILE (--size bytes, K/M/G suffixes; tiles of --tile bytes, default\n"
		"      64K), written in full, checks that raw writes to its blocks are safe (no\n"
		"      holes, unwritten, shared, inline or encoded extents, ext4 or xfs, one\n"
		"      device), sets the immutable flag, and prints the module's parameters:\n"
		"          insmod ncxbcon.ko $(ncx bcon init /var/log/bcon --size 4M)\n"
		"      On a file it made before: checks it again, prints them again (the log kept).\n"
		"      Refuses, with the reason, any layout it cannot prove safe (exit 65).\n"
		"read  prints the stream, oldest to newest across wraps; lines starting\n"
		"      '--- ncx-bcon: ' mark torn or corrupt tiles and gaps. FILE through its\n"
		"      filesystem, or a block device or disk image scanned for tiles (--id picks\n"
		"      one file's when several are there). --follow: keep printing what is\n"
		"      added (every --interval seconds, default 1). Exit 0 unless an I/O error.\n");
}

/* ---- helpers -------------------------------------------------------------- */

static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || s[0] == '-')
		return -1;
	switch (*end) {
	case 'k': case 'K': v <<= 10; end++; break;
	case 'm': case 'M': v <<= 20; end++; break;
	case 'g': case 'G': v <<= 30; end++; break;
	}
	if (*end == 'i' || *end == 'B')
		end += (*end == 'i' && end[1] == 'B') ? 2 : 1;
	if (*end)
		return -1;
	*out = v;
	return 0;
}

static void *alloc_aligned(size_t len)
{
	void *p = NULL;

	return posix_memalign(&p, 4096, len ? len : 4096) ? NULL : p;
}

/* pread all of len, retrying short reads; -1 on error, else bytes read (short at EOF). */
static ssize_t read_at(int fd, void *buf, size_t len, off_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, (char *)buf + done, len - done, off + (off_t)done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (!n)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

static int write_all(int fd, const void *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf = (const char *)buf + n;
		len -= (size_t)n;
	}
	return 0;
}

/* ---- init ---------------------------------------------------------------- */

struct extent {
	uint64_t logical, physical, length;
};

static const struct {
	uint32_t flag;
	const char *why;
} bad_flags[] = {
	{ FIEMAP_EXTENT_UNKNOWN, "its location is unknown (FIEMAP_EXTENT_UNKNOWN)" },
	{ FIEMAP_EXTENT_DELALLOC, "it has no blocks yet (delayed allocation)" },
	{ FIEMAP_EXTENT_ENCODED, "it is encoded (compressed) on disk" },
	{ FIEMAP_EXTENT_DATA_ENCRYPTED, "it is encrypted on disk" },
	{ FIEMAP_EXTENT_NOT_ALIGNED, "it is not block aligned" },
	{ FIEMAP_EXTENT_DATA_INLINE, "it is inline in the filesystem's metadata" },
	{ FIEMAP_EXTENT_DATA_TAIL, "it shares a block with other files' tails" },
	{ FIEMAP_EXTENT_UNWRITTEN,
	  "it is unwritten (preallocated): the filesystem would still read it as zeros" },
	{ FIEMAP_EXTENT_SHARED,
	  "it is shared with another file (a reflink or snapshot): a raw write would change both" },
};

static int refuse(const char *path, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int refuse(const char *path, const char *fmt, ...)
{
	char why[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	cmd_err("bcon", "refused: %s: %s", path, why);
	return EX_DATAERR;
}

#define REFUSE(...) return refuse(path, __VA_ARGS__)

/* The file's extents, merged where physically contiguous; checked. */
static int map_extents(const char *path, int fd, uint64_t size, uint32_t tile, unsigned int lbs,
		       struct extent *ext, unsigned int *next)
{
	size_t sz = sizeof(struct fiemap) + 256 * sizeof(struct fiemap_extent);
	struct fiemap *fm = calloc(1, sz);
	uint64_t at = 0;
	unsigned int n = 0;
	bool last = false;

	if (!fm) {
		cmd_err("bcon", "out of memory");
		return EX_OSERR;
	}
	while (!last && at < size) {
		memset(fm, 0, sz);
		fm->fm_start = at;
		fm->fm_length = size - at;
		fm->fm_flags = FIEMAP_FLAG_SYNC;
		fm->fm_extent_count = 256;
		if (ioctl(fd, FS_IOC_FIEMAP, fm) < 0) {
			int e = errno;

			free(fm);
			cmd_err("bcon", "refused: %s: FIEMAP failed: %s (the filesystem cannot say where the file's blocks are)",
				path, strerror(e));
			return EX_DATAERR;
		}
		if (!fm->fm_mapped_extents)
			break;
		for (unsigned int i = 0; i < fm->fm_mapped_extents; i++) {
			struct fiemap_extent e = fm->fm_extents[i], *fe = &e;

			if (fe->fe_flags & FIEMAP_EXTENT_LAST)
				last = true;
			if (fe->fe_logical >= size)
				continue;
			for (size_t b = 0; b < sizeof(bad_flags) / sizeof(bad_flags[0]); b++) {
				if (fe->fe_flags & bad_flags[b].flag) {
					free(fm);
					REFUSE("the extent at bytes %llu-%llu: %s",
					       (unsigned long long)fe->fe_logical,
					       (unsigned long long)(fe->fe_logical + fe->fe_length - 1),
					       bad_flags[b].why);
				}
			}
			if (fe->fe_logical != at) {
				free(fm);
				REFUSE("a hole at bytes %llu-%llu (a sparse file: raw writes there would land on blocks the file does not own)",
				       (unsigned long long)at, (unsigned long long)fe->fe_logical - 1);
			}
			if (fe->fe_physical % lbs || fe->fe_length % lbs) {
				free(fm);
				REFUSE("the extent at bytes %llu: not aligned to the device's %u-byte blocks",
				       (unsigned long long)fe->fe_logical, lbs);
			}
			if (n && ext[n - 1].physical + ext[n - 1].length == fe->fe_physical) {
				ext[n - 1].length += fe->fe_length;
			} else {
				if (n == MAX_EXTENTS) {
					free(fm);
					REFUSE("more than %d extents (too fragmented)", MAX_EXTENTS);
				}
				ext[n].logical = fe->fe_logical;
				ext[n].physical = fe->fe_physical;
				ext[n].length = fe->fe_length;
				n++;
			}
			at = fe->fe_logical + fe->fe_length;
		}
	}
	free(fm);
	if (at < size)
		REFUSE("a hole at bytes %llu-%llu (a sparse file: raw writes there would land on blocks the file does not own)",
		       (unsigned long long)at, (unsigned long long)size - 1);
	for (unsigned int i = 0; i < n; i++) {
		if (ext[i].logical % tile)
			REFUSE("an extent starts at byte %llu, inside a tile (fragmented free space): try a smaller --tile, or another place",
			       (unsigned long long)ext[i].logical);
		if (ext[i].logical + ext[i].length > size)
			ext[i].length = size - ext[i].logical;
	}
	*next = n;
	return 0;
}

/* The device's logical block size, from sysfs (a partition: its disk's). */
static int device_lbs(unsigned int maj, unsigned int min, unsigned int *lbs)
{
	char p[128];
	FILE *f;
	int ok;

	snprintf(p, sizeof(p), "/sys/dev/block/%u:%u/queue/logical_block_size", maj, min);
	f = fopen(p, "r");
	if (!f) {
		snprintf(p, sizeof(p), "/sys/dev/block/%u:%u/../queue/logical_block_size", maj, min);
		f = fopen(p, "r");
	}
	if (!f)
		return -1;
	ok = fscanf(f, "%u", lbs) == 1 && *lbs >= 512 && !(*lbs & (*lbs - 1));
	fclose(f);
	return ok ? 0 : -1;
}

static int fs_checks(const char *path, int fd, const struct stat *st, unsigned int *lbs)
{
	struct statfs sfs;
	unsigned int flags = 0;
	char p[64];

	if (fstatfs(fd, &sfs) < 0) {
		cmd_err("bcon", "%s: statfs: %s", path, strerror(errno));
		return EX_IOERR;
	}
	ioctl(fd, FS_IOC_GETFLAGS, &flags);
	if ((unsigned long)sfs.f_type == BTRFS_MAGIC) {
		if (!(flags & FS_NOCOW_FL))
			REFUSE("btrfs copy-on-write file: every write goes to new blocks, so the blocks mapped now would not stay the file's");
		REFUSE("btrfs: FIEMAP gives btrfs logical addresses, not offsets on a device (its st_dev %u:%u is an anonymous device): the block device cannot be resolved",
		       major(st->st_dev), minor(st->st_dev));
	}
	if ((unsigned long)sfs.f_type != EXT4_MAGIC && (unsigned long)sfs.f_type != XFS_MAGIC)
		REFUSE("filesystem type 0x%lx: not one known here to keep a file's blocks in place (ext2/3/4 and xfs are)",
		       (unsigned long)sfs.f_type);
	if (flags & FS_COMPR_FL)
		REFUSE("the file is marked for compression");
	if (flags & FS_ENCRYPT_FL)
		REFUSE("the file is encrypted (fscrypt): raw writes would bypass the encryption");
	if (flags & FS_DAX_FL)
		REFUSE("the file is DAX");
#ifdef FS_IOC_FSGETXATTR
	{
		struct fsxattr fa;

		if (!ioctl(fd, FS_IOC_FSGETXATTR, &fa) && (fa.fsx_xflags & FS_XFLAG_REALTIME))
			REFUSE("an xfs realtime file: its blocks are on the realtime device, not %u:%u",
			       major(st->st_dev), minor(st->st_dev));
	}
#endif
	snprintf(p, sizeof(p), "/sys/dev/block/%u:%u", major(st->st_dev), minor(st->st_dev));
	if (access(p, F_OK) || device_lbs(major(st->st_dev), minor(st->st_dev), lbs))
		REFUSE("its filesystem's device %u:%u is not a block device this system shows in /sys/dev/block",
		       major(st->st_dev), minor(st->st_dev));
	return 0;
}

static int write_new(const char *path, int fd, uint64_t size, uint32_t tile, uint64_t *id)
{
	char *buf = calloc(1, tile);
	struct ncx_bcon_hdr h = { .version = NCX_BCON_VERSION, .tile = tile };

	if (!buf) {
		cmd_err("bcon", "out of memory");
		return EX_OSERR;
	}
	while (!*id) {
		if (getrandom(id, sizeof(*id), 0) != sizeof(*id)) {
			free(buf);
			cmd_err("bcon", "getrandom: %s", strerror(errno));
			return EX_OSERR;
		}
	}
	h.id = *id;
	h.tiles = (uint32_t)(size / tile);
	for (uint32_t i = 0; i < h.tiles; i++) {
		h.index = i;
		h.pos = i;
		ncx_bcon_hdr_format(&h, buf);
		if (write_all(fd, buf, tile)) {
			int e = errno;

			free(buf);
			cmd_err("bcon", "%s: write: %s", path, strerror(e));
			return EX_IOERR;
		}
	}
	free(buf);
	if (fsync(fd)) {
		cmd_err("bcon", "%s: fsync: %s", path, strerror(errno));
		return EX_IOERR;
	}
	return 0;
}

/* A file made before: every tile starts with a header of one id. */
static int check_existing(const char *path, int fd, uint64_t size, uint32_t *tile, uint64_t *id)
{
	char *hb = alloc_aligned(NCX_BCON_HDR);
	struct ncx_bcon_hdr h0, h;
	int rc;

	if (!hb)
		return EX_OSERR;
	if (read_at(fd, hb, NCX_BCON_HDR, 0) != NCX_BCON_HDR ||
	    ncx_bcon_hdr_parse(hb, &h0)) {
		free(hb);
		REFUSE("it exists and is not a block console file (ncx bcon init makes a new file, or takes an empty one)");
	}
	if ((uint64_t)h0.tile * h0.tiles != size) {
		free(hb);
		REFUSE("its size %llu is not its %u tiles of %u bytes", (unsigned long long)size,
		       h0.tiles, h0.tile);
	}
	for (uint32_t i = 1; i < h0.tiles; i++) {
		if (read_at(fd, hb, NCX_BCON_HDR, (off_t)i * h0.tile) != NCX_BCON_HDR) {
			free(hb);
			cmd_err("bcon", "%s: read: %s", path, strerror(errno));
			return EX_IOERR;
		}
		rc = ncx_bcon_hdr_parse(hb, &h);
		if (rc == NCX_BCON_NOT_HDR || h.id != h0.id) {
			free(hb);
			REFUSE("tile %u does not start with this file's header", i);
		}
	}
	free(hb);
	*tile = h0.tile;
	*id = h0.id;
	return 0;
}

static int bcon_init(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "size", required_argument, NULL, 's' }, { "tile", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },	  { NULL, 0, NULL, 0 }
	};
	struct extent ext[MAX_EXTENTS];
	uint64_t size = 0, tile64 = NCX_BCON_TILE_DEFAULT, id = 0;
	uint32_t tile;
	unsigned int n = 0, lbs = 512, flags = 0;
	bool created = false, fresh;
	const char *path;
	struct stat st;
	int c, fd, rc;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":s:t:h", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (parse_size(optarg, &size) || !size) {
				cmd_err("bcon", "--size '%s': bytes, with K, M or G", optarg);
				return EX_USAGE;
			}
			break;
		case 't':
			if (parse_size(optarg, &tile64) || tile64 < NCX_BCON_TILE_MIN ||
			    tile64 > NCX_BCON_TILE_MAX || (tile64 & (tile64 - 1))) {
				cmd_err("bcon", "--tile '%s': a power of two from 4K to 256K", optarg);
				return EX_USAGE;
			}
			break;
		case 'h': usage(stdout); return 0;
		default: return cmd_usage_error("bcon init", c, argv, longopts);
		}
	}
	if (optind + 1 != argc) {
		fprintf(stderr, "ncx bcon init: one FILE\nTry 'ncx bcon --help'.\n");
		return EX_USAGE;
	}
	path = argv[optind];
	tile = (uint32_t)tile64;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		created = fd >= 0;
	}
	if (fd < 0) {
		cmd_err("bcon", "%s: %s", path, strerror(errno));
		return EX_IOERR;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		cmd_err("bcon", "refused: %s: not a regular file", path);
		return EX_DATAERR;
	}
	fresh = st.st_size == 0;
	rc = fs_checks(path, fd, &st, &lbs);
	if (!rc && fresh) {
		if (!size) {
			cmd_err("bcon", "%s: a new file needs --size", path);
			rc = EX_USAGE;
		} else if (size % tile || size / tile < NCX_BCON_TILES_MIN || size / tile > UINT32_MAX) {
			cmd_err("bcon", "--size %llu: a multiple of the tile size (%u), at least %d tiles",
				(unsigned long long)size, tile, NCX_BCON_TILES_MIN);
			rc = EX_USAGE;
		} else if (!created) {
			/* An empty file given to us (btrfs users chattr +C one first). */
			close(fd);
			fd = open(path, O_WRONLY | O_CLOEXEC);
			if (fd < 0) {
				cmd_err("bcon", "%s: %s", path, strerror(errno));
				return EX_IOERR;
			}
		}
		if (!rc)
			rc = write_new(path, fd, size, tile, &id);
	} else if (!rc) {
		/* The layout first: a sparse or shared file is told why. */
		uint64_t fsize = (uint64_t)st.st_size;
		uint32_t t2 = tile;

		if (size && size != fsize) {
			cmd_err("bcon", "refused: %s: exists with %llu bytes, --size says %llu", path,
				(unsigned long long)fsize, (unsigned long long)size);
			rc = EX_DATAERR;
		}
		if (!rc)
			rc = map_extents(path, fd, fsize, lbs, lbs, ext, &n);
		if (!rc)
			rc = check_existing(path, fd, fsize, &t2, &id);
		tile = t2;
		size = fsize;
	}
	if (!rc)
		rc = map_extents(path, fd, size, tile, lbs, ext, &n);
	if (!rc) {
		ioctl(fd, FS_IOC_GETFLAGS, &flags);
		if (!(flags & FS_IMMUTABLE_FL)) {
			flags |= FS_IMMUTABLE_FL;
			if (ioctl(fd, FS_IOC_SETFLAGS, &flags)) {
				cmd_err("bcon", "refused: %s: cannot set the immutable flag (%s; it needs CAP_LINUX_IMMUTABLE): without it the filesystem may change the file's blocks",
					path, strerror(errno));
				rc = EX_DATAERR;
			}
		}
	}
	if (rc) {
		close(fd);
		if (created)
			unlink(path);
		return rc;
	}
	/* Later reads through the filesystem must come from the disk. */
	posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	close(fd);

	printf("dev=%u:%u id=%016llx tile=%u extents=", major(st.st_dev), minor(st.st_dev),
	       (unsigned long long)id, tile);
	for (unsigned int i = 0; i < n; i++)
		printf("%s%llu+%llu", i ? "," : "", (unsigned long long)(ext[i].physical / 512),
		       (unsigned long long)(ext[i].length / 512));
	printf("\n");
	return 0;
}

/* ---- read ---------------------------------------------------------------- */

struct source {
	const char *path;
	int fd;
	bool direct;
	uint64_t size;
	bool want_id;
	uint64_t id;
};

static int src_open(struct source *s)
{
	struct stat st;

	s->direct = true;
	s->fd = open(s->path, O_RDONLY | O_DIRECT | O_CLOEXEC);
	if (s->fd < 0 && errno == EINVAL) {
		s->direct = false;
		s->fd = open(s->path, O_RDONLY | O_CLOEXEC);
	}
	if (s->fd < 0 || fstat(s->fd, &st)) {
		cmd_err("bcon", "%s: %s", s->path, strerror(errno));
		return EX_IOERR;
	}
	s->size = (uint64_t)st.st_size;
	if (S_ISBLK(st.st_mode) && ioctl(s->fd, BLKGETSIZE64, &s->size)) {
		cmd_err("bcon", "%s: BLKGETSIZE64: %s", s->path, strerror(errno));
		return EX_IOERR;
	}
	return 0;
}

/* read_at, falling back to buffered reads if O_DIRECT refuses this one. */
static ssize_t src_read(struct source *s, void *buf, size_t len, off_t off)
{
	ssize_t n = read_at(s->fd, buf, len, off);

	if (n < 0 && errno == EINVAL && s->direct) {
		int fd = open(s->path, O_RDONLY | O_CLOEXEC);

		if (fd >= 0) {
			close(s->fd);
			s->fd = fd;
			s->direct = false;
			n = read_at(s->fd, buf, len, off);
		}
	}
	return n;
}

struct found {
	uint64_t off;
	int state;
	struct ncx_bcon_hdr h;
};

/* Room for more in *f; on failure *f is freed. */
static int grow(struct found **f, size_t *cap)
{
	size_t c = *cap ? *cap * 2 : 64;
	struct found *n = realloc(*f, c * sizeof(**f));

	if (!n) {
		free(*f);
		*f = NULL;
		return -1;
	}
	*f = n;
	*cap = c;
	return 0;
}

/* Every tile in the source: *tiles (data in *mem) and their number; -1 on an I/O error. */
static int load(struct source *s, struct ncx_bcon_tile **tiles, size_t *ntiles, char **mem)
{
	char *hb = alloc_aligned(SCAN_CHUNK), *data;
	struct found *f = NULL;
	size_t nf = 0, cap = 0, k = 0;
	struct ncx_bcon_hdr h0;
	uint64_t id = s->id;
	uint32_t tile = 0;
	ssize_t got;
	bool file_mode;

	*tiles = NULL;
	*mem = NULL;
	*ntiles = 0;
	if (!hb)
		return -1;
	got = src_read(s, hb, NCX_BCON_HDR, 0);
	if (got < 0) {
		free(hb);
		return -1;
	}
	file_mode = got == NCX_BCON_HDR && !ncx_bcon_hdr_parse(hb, &h0) &&
		    (uint64_t)h0.tile * h0.tiles == s->size && (!s->want_id || h0.id == id);
	if (file_mode) {
		id = h0.id;
		tile = h0.tile;
		for (uint32_t i = 0; i < h0.tiles; i++) {
			if (nf == cap && grow(&f, &cap)) {
				free(hb);
				return -1;
			}
			f[nf].off = (uint64_t)i * tile;
			if (src_read(s, hb, NCX_BCON_HDR, (off_t)f[nf].off) != NCX_BCON_HDR) {
				free(hb);
				free(f);
				return -1;
			}
			f[nf].state = ncx_bcon_hdr_parse(hb, &f[nf].h);
			if (f[nf].state == 0 && f[nf].h.id != id)
				f[nf].state = NCX_BCON_BAD_HDR;
			if (f[nf].state == NCX_BCON_BAD_HDR)
				f[nf].h.index = i;
			nf++;
		}
	} else {
		/* A device or a disk image: look for headers at every sector. */
		for (uint64_t at = 0; at < s->size; at += SCAN_CHUNK) {
			got = src_read(s, hb, SCAN_CHUNK, (off_t)at);
			if (got < 0) {
				free(hb);
				free(f);
				return -1;
			}
			for (size_t o = 0; o + NCX_BCON_HDR <= (size_t)got; o += 512) {
				struct ncx_bcon_hdr h;
				int st;

				if (memcmp(hb + o, NCX_BCON_MAGIC, NCX_BCON_MAGIC_LEN))
					continue;
				st = ncx_bcon_hdr_parse(hb + o, &h);
				if (st == NCX_BCON_BAD_HDR && (!h.tiles || h.index >= h.tiles))
					continue;
				if (nf == cap && grow(&f, &cap)) {
					free(hb);
					return -1;
				}
				f[nf].off = at + o;
				f[nf].state = st;
				f[nf].h = h;
				nf++;
			}
		}
		if (!s->want_id) {
			/* The id with the most good tiles. */
			size_t best = 0;

			for (size_t i = 0; i < nf; i++) {
				size_t c = 0;

				for (size_t j = 0; j < nf; j++)
					c += !f[j].state && f[j].h.id == f[i].h.id;
				if (!f[i].state && c > best) {
					best = c;
					id = f[i].h.id;
				}
			}
		}
		for (size_t i = 0; i < nf; i++)
			if (!f[i].state && f[i].h.id == id)
				tile = f[i].h.tile;
	}
	free(hb);
	if (!tile) {
		free(f);
		return 0;
	}
	data = alloc_aligned((size_t)tile * (nf ? nf : 1));
	*tiles = calloc(nf ? nf : 1, sizeof(**tiles));
	if (!data || !*tiles) {
		free(data);
		free(*tiles);
		free(f);
		return -1;
	}
	for (size_t i = 0; i < nf; i++) {
		struct ncx_bcon_tile *t = &(*tiles)[k];

		if (f[i].h.id != id || (f[i].state == 0 && f[i].h.tile != tile))
			continue;
		t->state = f[i].state;
		t->h = f[i].h;
		t->slot = f[i].h.index;
		t->data = data + k * tile;
		got = src_read(s, data + k * tile, tile, (off_t)f[i].off);
		if (got < 0) {
			free(data);
			free(*tiles);
			*tiles = NULL;
			free(f);
			return -1;
		}
		t->len = (size_t)got;
		if (t->len < NCX_BCON_HDR)
			continue;
		k++;
	}
	free(f);
	*mem = data;
	*ntiles = k;
	return 0;
}

static void emit_stdout(void *arg, const char *s, size_t len)
{
	(void)arg;
	fwrite(s, 1, len, stdout);
}

static volatile sig_atomic_t stop;
static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int bcon_read(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "follow", no_argument, NULL, 'f' },	      { "id", required_argument, NULL, 'I' },
		{ "interval", required_argument, NULL, 'i' }, { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct source s = { 0 };
	struct ncx_bcon_cursor cur = { 0 };
	bool follow = false;
	double interval = 1.0;
	char *end;
	int c;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":fi:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'f': follow = true; break;
		case 'I':
			s.id = strtoull(optarg, &end, 16);
			if (*end || !*optarg) {
				cmd_err("bcon", "--id '%s': the file's id, in hex", optarg);
				return EX_USAGE;
			}
			s.want_id = true;
			break;
		case 'i':
			interval = strtod(optarg, &end);
			if (*end || !(interval >= 0.01 && interval <= 3600)) {
				cmd_err("bcon", "--interval '%s': seconds, 0.01 to 3600", optarg);
				return EX_USAGE;
			}
			break;
		case 'h': usage(stdout); return 0;
		default: return cmd_usage_error("bcon read", c, argv, longopts);
		}
	}
	if (optind + 1 != argc) {
		fprintf(stderr, "ncx bcon read: one FILE or DEVICE\nTry 'ncx bcon --help'.\n");
		return EX_USAGE;
	}
	s.path = argv[optind];
	if (src_open(&s))
		return EX_IOERR;
	if (follow) {
		signal(SIGINT, on_signal);
		signal(SIGTERM, on_signal);
	}
	do {
		struct ncx_bcon_tile *tiles;
		size_t n;
		char *mem;

		if (load(&s, &tiles, &n, &mem)) {
			cmd_err("bcon", "%s: read: %s", s.path, strerror(errno));
			close(s.fd);
			return EX_IOERR;
		}
		if (!n && !follow)
			fprintf(stderr, "ncx bcon: %s: no block console tiles found\n", s.path);
		ncx_bcon_print(tiles, n, &cur, follow, emit_stdout, NULL);
		fflush(stdout);
		free(tiles);
		free(mem);
		if (follow && !stop) {
			struct timespec ts = { (time_t)interval,
					       (long)((interval - (time_t)interval) * 1e9) };

			nanosleep(&ts, NULL);
		}
	} while (follow && !stop);
	close(s.fd);
	if (cur.torn || cur.gaps || cur.corrupt)
		fprintf(stderr, "ncx bcon: %s: %llu torn, %llu gaps, %llu corrupt headers (marked in the output)\n",
			s.path, (unsigned long long)cur.torn, (unsigned long long)cur.gaps,
			(unsigned long long)cur.corrupt);
	return 0;
}

int cmd_bcon(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return EX_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "init"))
		return bcon_init(argc - 1, argv + 1);
	if (!strcmp(argv[1], "read"))
		return bcon_read(argc - 1, argv + 1);
	fprintf(stderr, "ncx bcon: unknown subcommand '%s'\nTry 'ncx bcon --help'.\n", argv[1]);
	return EX_USAGE;
}
