/* SPDX-License-Identifier: MIT */
/* ncx: the command-line tool. Each subcommand lives in its own file. */
#ifndef NCX_CMD_NCX_H
#define NCX_CMD_NCX_H

#include <stdbool.h>
#include <sysexits.h>

int cmd_listen(int argc, char **argv);
int cmd_replay(int argc, char **argv);
int cmd_send(int argc, char **argv);
int cmd_forward(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_bcon(int argc, char **argv);

int cmd_key(int argc, char **argv);

/* sandbox.c: ncx forward's seccomp filter and Landlock rules (docs/security.md).
 * Returns 0, or an exit status after saying why. */
int forward_sandbox_enter(const char *state_path);

/*
 * Our own lines (log.c): the log core, with the plain console on stderr
 * showing "ncx <cmd>: TEXT" for levels up to notice. main() starts it for
 * every command but send (whose log core is what it sends) and stops it,
 * flushed, when the command returns. cmd_log_start() returns 0 or an exit
 * status; cmd_log_level() changes the threshold (before any thread of the
 * command's own starts).
 */
int cmd_log_start(const char *cmd);
void cmd_log_level(int level);
void cmd_log_stop(void);

/*
 * An error: logged at NCX_LOG_ERR and on stderr at once as
 * "ncx <cmd>: <message>". With no console (send; a log that could not
 * start) it is printed directly, and still logged if the core is up.
 */
void cmd_err(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * A bad command line (opts.c): "ncx CMD: unknown option '--foo'" (or a
 * missing or unwanted value) and "Try 'ncx CMD --help'." on stderr, for
 * getopt_long() with opterr = 0 and an optstring starting with ':' (c is
 * what it returned: '?' or ':'). Returns EX_USAGE.
 */
struct option;
int cmd_usage_error(const char *cmd, int c, char **argv, const struct option *longopts);

/* The port a receiver listens on when HOST:PORT leaves it out (netconsole's). */
#define CMD_DEFAULT_PORT 6666

/* Add -t TEXT to c's targets (target.c): 0, or EX_USAGE after saying why. */
struct ncx_netcon_config;
int cmd_add_target(const char *cmd, struct ncx_netcon_config *c, const char *text);

#endif
