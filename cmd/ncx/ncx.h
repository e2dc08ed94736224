/* ncx: the command-line tool. Each subcommand lives in its own file. */
#ifndef NCX_CMD_NCX_H
#define NCX_CMD_NCX_H

#include <sysexits.h>

int cmd_listen(int argc, char **argv);
int cmd_replay(int argc, char **argv);
int cmd_send(int argc, char **argv);
int cmd_forward(int argc, char **argv);

/* Print "ncx <cmd>: <message>" to stderr. */
void cmd_err(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
