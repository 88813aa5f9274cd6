/* bench_events: the conditional-event matcher (host/events/events_match.c)
 * driven from C, without Lua. scripts/bench/events.sh runs it next to the
 * same work done from Lua (events_bench.lua).
 *
 *   bench_events [-n PUSHES] [-r RUNS] [-e EVENTS] [-p PEERS] [-t TAGS] [-d DRAIN]
 *                [-c CLEARS] [-C CLEAR_EVENTS]
 *
 * Event i is the unit "worker_%04d:tag_%02d:1" of peer i % PEERS and tag
 * i % TAGS; push k is a message from peer k % EVENTS with tag k % TAGS, so
 * every push satisfies exactly one unit event. Every DRAIN pushes,
 * events_table_fire hands the satisfied events to a no-op and consumes
 * them. Prints the median over RUNS of pushes per second (fire included)
 * for EVENTS events and for 10, and the ratio of the costs per push.
 *
 * Then the cost of events_table_clear with CLEAR_EVENTS registered events
 * against 10: event i is "peer_%05d:tag:2"; before each of CLEARS clears,
 * 8 messages go to 8 of the events (one each: buffered, none satisfied), and
 * only the clear is timed. Also an empty table's clear. Figures only.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "events/events.h"

typedef struct cfg {
    long pushes, runs, events, peers, tags, drain, clears, clear_events;
} cfg;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void no_release(void *ctx, uint32_t slot) {
    (void)ctx;
    (void)slot;
}

static void count_fire(void *ctx, uint32_t event, const uint32_t *slots, size_t n) {
    (void)event;
    (void)slots;
    *(size_t *)ctx += n;
}

static void die(const char *what) {
    fprintf(stderr, "bench_events: %s\n", what);
    exit(1);
}

/* One run: ns per push with nevents registered. */
static double run(const cfg *c, long nevents) {
    events_table *t = events_table_new(0);
    if (!t) die("out of memory");
    char text[64], err[256];
    for (long i = 0; i < nevents; i++) {
        int n = snprintf(text, sizeof text, "worker_%04ld:tag_%02ld:1", i % c->peers, i % c->tags);
        events_expr *x = events_parse_unit(text, (size_t)n, err, sizeof err);
        if (!x) die(err);
        if (events_table_add(t, x, text) < 0) die("out of memory");
    }
    /* The messages' header fields, made once like a receive loop's would be. */
    long nmsg = nevents;
    char (*src)[16] = malloc((size_t)nmsg * sizeof *src);
    char (*tag)[16] = malloc((size_t)nmsg * sizeof *tag);
    wire_slice *s_src = malloc((size_t)nmsg * sizeof *s_src);
    wire_slice *s_tag = malloc((size_t)nmsg * sizeof *s_tag);
    if (!src || !tag || !s_src || !s_tag) die("out of memory");
    for (long k = 0; k < nmsg; k++) {
        int a = snprintf(src[k], sizeof src[k], "worker_%04ld", k % c->peers);
        int b = snprintf(tag[k], sizeof tag[k], "tag_%02ld", k % c->tags);
        s_src[k] = (wire_slice){src[k], (size_t)a};
        s_tag[k] = (wire_slice){tag[k], (size_t)b};
    }
    size_t handed = 0;
    long kept = 0;
    double t0 = now();
    for (long k = 0, m = 0; k < c->pushes; k++) {
        uint32_t slot;
        kept += events_table_push(t, s_src[m], s_tag[m], &slot, no_release, NULL);
        if (++m == nmsg) m = 0;
        if ((k + 1) % c->drain == 0) events_table_fire(t, count_fire, no_release, &handed);
    }
    events_table_fire(t, count_fire, no_release, &handed);
    double dt = now() - t0;
    if (kept != c->pushes || handed != (size_t)c->pushes) die("a push did not satisfy one event");
    events_table_free(t);
    free(src);
    free(tag);
    free(s_src);
    free(s_tag);
    return dt * 1e9 / (double)c->pushes;
}

#define CLEAR_HELD 8 /* messages buffered before each timed clear */

/* One run: ns per clear with nevents registered and `held` messages
 * buffered before each clear (0: an empty table). */
static double run_clear(const cfg *c, long nevents, int held) {
    events_table *t = events_table_new(0);
    if (!t) die("out of memory");
    char text[64], err[256];
    for (long i = 0; i < nevents; i++) {
        int n = snprintf(text, sizeof text, "peer_%05ld:tag:2", i);
        events_expr *x = events_parse_unit(text, (size_t)n, err, sizeof err);
        if (!x) die(err);
        if (events_table_add(t, x, text) < 0) die("out of memory");
    }
    char src[CLEAR_HELD][16];
    wire_slice s_src[CLEAR_HELD], s_tag = {"tag", 3};
    for (int k = 0; k < CLEAR_HELD; k++) {
        /* spread over the registered events */
        int n = snprintf(src[k], sizeof src[k], "peer_%05ld", (long)k * (nevents / CLEAR_HELD));
        s_src[k] = (wire_slice){src[k], (size_t)n};
    }
    double total = 0;
    for (long i = 0; i < c->clears; i++) {
        for (int k = 0; k < held; k++) {
            uint32_t slot;
            if (events_table_push(t, s_src[k], s_tag, &slot, no_release, NULL) != 1)
                die("a push was not kept by exactly one event");
        }
        double t0 = now();
        events_table_clear(t);
        total += now() - t0;
    }
    events_stats st;
    events_table_stats(t, &st);
    if (st.buffered != 0 || st.messages != 0) die("clear left messages behind");
    events_table_free(t);
    return total * 1e9 / (double)c->clears;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median_of(double *v, long n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return v[n / 2];
}

int main(int argc, char **argv) {
    cfg c = {.pushes = 5000000, .runs = 5, .events = 1000, .peers = 1000, .tags = 100,
             .drain = 1000, .clears = 20000, .clear_events = 10000};
    for (int i = 1; i + 1 < argc; i += 2) {
        long v = atol(argv[i + 1]);
        if (v < 1) die("option values must be positive integers");
        if (!strcmp(argv[i], "-n")) c.pushes = v;
        else if (!strcmp(argv[i], "-r")) c.runs = v;
        else if (!strcmp(argv[i], "-e")) c.events = v;
        else if (!strcmp(argv[i], "-p")) c.peers = v;
        else if (!strcmp(argv[i], "-t")) c.tags = v;
        else if (!strcmp(argv[i], "-d")) c.drain = v;
        else if (!strcmp(argv[i], "-c")) c.clears = v;
        else if (!strcmp(argv[i], "-C")) c.clear_events = v;
        else die("usage: bench_events [-n PUSHES] [-r RUNS] [-e EVENTS] [-p PEERS] [-t TAGS] "
                 "[-d DRAIN] [-c CLEARS] [-C CLEAR_EVENTS]");
    }
    /* Runs alternate between the two sizes, so that a change in the
     * machine's load hits both; the ratio is the median of the per-pair
     * ratios. */
    double *big = malloc((size_t)c.runs * sizeof *big), *small = malloc((size_t)c.runs * sizeof *small);
    double *ratio = malloc((size_t)c.runs * sizeof *ratio);
    if (!big || !small || !ratio) die("out of memory");
    for (long i = 0; i < c.runs; i++) {
        big[i] = run(&c, c.events);
        small[i] = run(&c, 10);
        ratio[i] = big[i] / small[i];
    }
    double b = median_of(big, c.runs), s = median_of(small, c.runs), r = median_of(ratio, c.runs);
    printf("C core: %ld events (%ld tags, %ld peers): %.0f pushes/s (%.1f ns/push), median of %ld "
           "runs of %ld pushes, fire every %ld\n",
           c.events, c.tags, c.peers, 1e9 / b, b, c.runs, c.pushes, c.drain);
    printf("C core: 10 events: %.0f pushes/s (%.1f ns/push)\n", 1e9 / s, s);
    printf("C core: cost per push, %ld events vs 10: ratio %.2f (median of per-run ratios; "
           "range %.2f..%.2f)\n", c.events, r, ratio[0], ratio[c.runs - 1]);

    /* clear(): the same alternation, with and without messages held. */
    if (c.clear_events < CLEAR_HELD) die("-C must be at least 8");
    for (int held = CLEAR_HELD; held >= 0; held -= CLEAR_HELD) {
        for (long i = 0; i < c.runs; i++) {
            big[i] = run_clear(&c, c.clear_events, held);
            small[i] = run_clear(&c, 10, held);
            ratio[i] = big[i] / small[i];
        }
        b = median_of(big, c.runs);
        s = median_of(small, c.runs);
        r = median_of(ratio, c.runs);
        printf("C core: clear with %d messages held: %ld events %.1f ns, 10 events %.1f ns, "
               "ratio %.2f (median of %ld runs of %ld clears)\n",
               held, c.clear_events, b, s, r, c.runs, c.clears);
    }
    free(big);
    free(small);
    free(ratio);
    return 0;
}
