/* status.h: `marohost status [GROUP] [--watch] [--json]`, which prints the
 * live members of a group as they register themselves in Redis, with the
 * counts each publishes with its heartbeat (docs/api.md, "marohost
 * status"). It only reads the group: it never joins it. */
#ifndef MARO_STATUS_H
#define MARO_STATUS_H

/* argv[0] is "status". Returns the exit status: 0, 1 when the group cannot
 * be read, 2 for a usage error. */
int status_main(const char *progname, int argc, char **argv);

#endif
