/* The command line of `marohost status`, with the environment variables that
 * fill what it leaves out. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "status_impl.h"

void status_usage(const char *progname, FILE *out) {
    fprintf(out,
            "usage: %s status [GROUP] [options]\n"
            "Prints the live members of group GROUP (else MARO_GROUP): name, type,\n"
            "address, up time and the messages each has sent, received, buffered and\n"
            "dropped, as it publishes them with its heartbeat. Only reads the group.\n"
            "\n"
            "Options:\n"
            "  --redis URL        the group's Redis, host:port or\n"
            "                     redis://[[user]:password@]host[:port][/db]\n"
            "                     (else MARO_REDIS, else 127.0.0.1:6379)\n"
            "  --group-key PATH   the group key file (else MARO_GROUP_KEY_FILE): show\n"
            "                     only registrations signed with it\n"
            "  --watch            print the members again every second until Ctrl-C\n"
            "  --json             print JSON instead of a table (with --watch, one\n"
            "                     document a line)\n"
            "  -h, --help         show this help\n"
            "\n"
            "Exit status: 0 (also when --watch ends on SIGINT or SIGTERM); 1 when the\n"
            "group cannot be read or the key file cannot be loaded; 2 for a usage error.\n",
            progname);
}

__attribute__((format(printf, 2, 3)))
static int usage_error(const char *progname, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s status: ", progname);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\nusage: %s status [GROUP] [options]  (--help for more)\n", progname);
    va_end(ap);
    return STATUS_USAGE;
}

/* An empty variable counts as unset, as everywhere else. */
static const char *env(const char *name) {
    const char *v = getenv(name);
    return v && v[0] ? v : NULL;
}

/* Sets the group from a word that is not an option. */
static int take_group(const char *progname, status_options *o, const char *word) {
    if (o->group)
        return usage_error(progname, "two groups given, '%s' and '%s': give one", o->group,
                           word);
    if (!word[0]) return usage_error(progname, "the group name is empty");
    o->group = word;
    return 0;
}

int status_parse_args(const char *progname, int argc, char **argv, status_options *o) {
    const char *redis = NULL;
    int rc, words_only = 0;
    memset(o, 0, sizeof *o);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (words_only || a[0] != '-') {
            if ((rc = take_group(progname, o, a)) != 0) return rc;
        } else if (strcmp(a, "--") == 0) {
            words_only = 1;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            o->help = 1;
        } else if (strcmp(a, "--watch") == 0) {
            o->watch = 1;
        } else if (strcmp(a, "--json") == 0) {
            o->json = 1;
        } else if (strcmp(a, "--redis") == 0 || strcmp(a, "--group-key") == 0) {
            /* No URL or path starts with '-': "--redis --json" lacks the URL. */
            const char *v = i + 1 < argc ? argv[i + 1] : NULL;
            if (!v || !v[0] || v[0] == '-')
                return usage_error(progname, "'%s' needs %s", a,
                                   a[2] == 'r' ? "a URL (host:port or "
                                                 "redis://[[user]:password@]host[:port][/db])"
                                               : "the path of a group key file");
            if (a[2] == 'r') redis = v;
            else o->key_file = v;
            i++;
        } else {
            return usage_error(progname, "unrecognized option '%s'", a);
        }
    }
    if (o->help) return 0;
    if (!o->group) o->group = env("MARO_GROUP");
    if (!o->group)
        return usage_error(progname, "no group: give GROUP or set MARO_GROUP");
    if (!o->key_file) o->key_file = env("MARO_GROUP_KEY_FILE");
    const char *from = redis ? "--redis" : "MARO_REDIS";
    if (!redis) redis = env("MARO_REDIS");
    char err[512], masked[600];
    if (redis && redis_url_parse(redis, &o->redis, err, sizeof err) != 0) {
        redis_url_mask(redis, masked, sizeof masked);
        return usage_error(progname, "%s: \"%s\" is not a Redis address (host:port or "
                           "redis://[[user]:password@]host[:port][/db])", from, masked);
    }
    if (!redis) redis_url_parse("127.0.0.1:6379", &o->redis, err, sizeof err);
    return 0;
}

void status_options_wipe(status_options *o) {
    group_key_wipe(o->redis.password, sizeof o->redis.password);
}
