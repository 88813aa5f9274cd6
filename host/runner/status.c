/* marohost status: reads the group once, or every second with --watch
 * until SIGINT or SIGTERM, and prints it as a table or as JSON. */
#include "status.h"

#include <poll.h>
#include <stdio.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/interrupt.h"
#include "status_impl.h"
#include "stop_signals.h"

#define STATUS_REFRESH 1.0 /* seconds between two looks with --watch */

/* Waits until t (a clock_now time); 1 when a stop signal came first. */
static int wait_or_stop(double t) {
    for (;;) {
        if (stop_signals_caught()) return 1;
        double left = t - clock_now();
        if (left <= 0) return 0;
        struct pollfd p = {interrupt_fd(), POLLIN, 0};
        /* Without the pipe, the signal still ends poll early (EINTR). */
        poll(&p, p.fd >= 0 ? 1 : 0, (int)(left * 1000.0) + 1);
    }
}

static void print_view(const status_options *o, const status_view *v, int first, int tty) {
    if (o->json) {
        status_print_json(stdout, v);
    } else {
        /* A terminal shows one table in place; a file or pipe gets them all. */
        if (o->watch && tty) fputs("\033[H\033[2J", stdout);
        else if (!first) fputc('\n', stdout);
        status_print_table(stdout, v);
    }
    fflush(stdout);
}

static int run(const char *progname, const status_options *o, status_source *src) {
    int tty = isatty(STDOUT_FILENO);
    char err[1024];
    /* Exit 0 when watching ends on a signal; a second signal ends at once. */
    if (o->watch) stop_signals_install(NULL);
    for (int first = 1;; first = 0) {
        double next = clock_now() + STATUS_REFRESH;
        status_view v;
        if (status_read(src, &v, err, sizeof err) == 0) {
            print_view(o, &v, first, tty);
            status_view_free(&v);
        } else {
            fprintf(stderr, "%s status: %s%s\n", progname, err,
                    o->watch && !first ? "; trying again" : "");
            /* A first look that fails is a wrong address or password: it
             * would fail again. Later, Redis may come back. */
            if (!o->watch || first) return STATUS_FAILED;
        }
        if (!o->watch || wait_or_stop(next)) break;
    }
    if (ferror(stdout)) {
        fprintf(stderr, "%s status: cannot write the output\n", progname);
        return STATUS_FAILED;
    }
    return STATUS_OK;
}

int status_main(const char *progname, int argc, char **argv) {
    status_options o;
    int rc = status_parse_args(progname, argc, argv, &o);
    if (rc != 0) return rc;
    if (o.help) {
        status_usage(progname, stdout);
        return STATUS_OK;
    }
    status_source src;
    char err[1024];
    if (status_source_open(&src, &o, err, sizeof err) != 0) {
        fprintf(stderr, "%s status: %s\n", progname, err);
        rc = STATUS_FAILED;
    } else {
        rc = run(progname, &o, &src);
    }
    status_source_close(&src);
    status_options_wipe(&o);
    return rc;
}
