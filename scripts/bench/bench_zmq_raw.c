/* bench_zmq_raw: the raw libzmq baseline that scripts/bench/proxy.sh sets
 * next to the same work done by Lua scripts through maro.Proxy.
 *
 *   bench_zmq_raw thr    [-n N] [-s SIZE] [-z] [-H HDR] PUSH/PULL throughput; -H sends a
 *                                                  HDR-byte frame before each payload, as a
 *                                                  marohost message has its header frame
 *   bench_zmq_raw rtt    [-n N] [-s SIZE]            request/reply round trip
 *   bench_zmq_raw fanout [-n N] [-s SIZE] [-k K]     send to K peers, one reply each
 *
 * Every peer is its own process (fork) and all traffic goes over
 * tcp://127.0.0.1, as between marohost processes. The topology of rtt and
 * fanout mirrors a proxy's: every node binds one PULL socket for what it
 * receives and connects one PUSH socket to each peer it sends to, so the
 * baseline does the same socket work a proxy must do, minus the proxy.
 *
 * thr copies each payload once on each side (zmq_send from the sender's buffer,
 * zmq_recv into the receiver's), as a proxy must between Lua strings and
 * frames; -z shows libzmq's zero-copy ceiling instead (zmq_msg_init_data on
 * the same buffer, zmq_msg_recv without copying out).
 *
 * Output is one "name value" line per figure, for proxy.sh to parse:
 *   thr:    thr_msgs_per_s, thr_mib_per_s   (receiver side, first to last message)
 *   rtt:    rtt_median_us                   (median of N round trips), and CPU as fanout
 *   fanout: fanout_median_us                (median of N rounds of K sends + K replies),
 *           fanout_cpu_master_s, fanout_cpu_peers_s (user and system CPU seconds of the run)
 *
 * A zmq context never crosses a fork: each process creates its own after
 * forking, which is why endpoints travel over pipes. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define ENDPOINT_MAX 256
#define WARMUP_MAX 100

static const char *progname = "bench_zmq_raw";

static void die(const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "%s: ", progname);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(2);
}

static void check_zmq(int rc, const char *what) {
    if (rc == -1) die("%s: %s", what, zmq_strerror(zmq_errno()));
}

static double tv_s(struct timeval tv) { return (double)tv.tv_sec + (double)tv.tv_usec / 1e6; }

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, size_t n) {
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

/* Pipes carry short fixed-size records; a short read means the other side
 * died, which is fatal for a benchmark. */
static void write_all(int fd, const void *buf, size_t len) {
    const char *p = buf;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) die("pipe write: %s", strerror(errno));
        p += w;
        len -= (size_t)w;
    }
}

static void read_all(int fd, void *buf, size_t len) {
    char *p = buf;
    while (len > 0) {
        ssize_t r = read(fd, p, len);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) die("pipe read: %s", r == 0 ? "peer process exited" : strerror(errno));
        p += r;
        len -= (size_t)r;
    }
}

static void make_pipe(int fds[2]) {
    if (pipe(fds) != 0) die("pipe: %s", strerror(errno));
}

static pid_t fork_or_die(void) {
    fflush(NULL); /* so buffered output is not written twice */
    pid_t pid = fork();
    if (pid < 0) die("fork: %s", strerror(errno));
    /* A peer blocked in zmq_recv would outlive a master that died; the
     * kernel ends it instead. */
    if (pid == 0 && prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) die("prctl: %s", strerror(errno));
    return pid;
}

static void wait_child(pid_t pid) {
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) die("waitpid: %s", strerror(errno));
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) die("child %d failed", (int)pid);
}

/* Binds a PULL socket on an ephemeral loopback port; the endpoint actually
 * bound is written to ep. */
static void *bind_pull(void *ctx, char ep[ENDPOINT_MAX]) {
    void *s = zmq_socket(ctx, ZMQ_PULL);
    if (s == NULL) die("zmq_socket: %s", zmq_strerror(zmq_errno()));
    check_zmq(zmq_bind(s, "tcp://127.0.0.1:*"), "zmq_bind");
    size_t len = ENDPOINT_MAX;
    memset(ep, 0, ENDPOINT_MAX);
    check_zmq(zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, ep, &len), "ZMQ_LAST_ENDPOINT");
    return s;
}

static void *connect_push(void *ctx, const char *ep) {
    void *s = zmq_socket(ctx, ZMQ_PUSH);
    if (s == NULL) die("zmq_socket: %s", zmq_strerror(zmq_errno()));
    check_zmq(zmq_connect(s, ep), "zmq_connect");
    return s;
}

/* ---- thr: one PUSH sender, one PULL receiver ---------------------------- */

/* The receiver times from the first to the last message, so connection set-up
 * is not counted; (n - 1) messages arrive in that interval. */
static void thr_receiver(int ep_fd, int res_fd, long n, size_t size, int zero_copy,
                         size_t header) {
    void *ctx = zmq_ctx_new();
    char ep[ENDPOINT_MAX];
    void *pull = bind_pull(ctx, ep);
    write_all(ep_fd, ep, sizeof ep);
    size_t cap = size > header ? size : header;
    char *buf = malloc(cap ? cap : 1);
    if (buf == NULL) die("out of memory");
    double first = 0;
    for (long i = 0; i < n; i++) {
        int got;
        if (header) {
            got = zmq_recv(pull, buf, cap, 0);
            check_zmq(got, "zmq_recv");
            if ((size_t)got != header) die("received a %d-byte header, expected %zu", got, header);
        }
        if (zero_copy) {
            zmq_msg_t m;
            zmq_msg_init(&m);
            got = zmq_msg_recv(&m, pull, 0);
            zmq_msg_close(&m);
        } else {
            got = zmq_recv(pull, buf, size, 0);
        }
        check_zmq(got, "zmq_recv");
        if ((size_t)got != size) die("received %d bytes, expected %zu", got, size);
        if (i == 0) first = now_s();
    }
    double elapsed = now_s() - first;
    write_all(res_fd, &elapsed, sizeof elapsed);
    free(buf);
    zmq_close(pull);
    zmq_ctx_term(ctx);
}

static void run_thr(long n, size_t size, int zero_copy, size_t header) {
    if (n < 2) die("thr needs -n of at least 2");
    int ep_pipe[2], res_pipe[2];
    make_pipe(ep_pipe);
    make_pipe(res_pipe);
    pid_t pid = fork_or_die();
    if (pid == 0) {
        thr_receiver(ep_pipe[1], res_pipe[1], n, size, zero_copy, header);
        _exit(0);
    }
    char ep[ENDPOINT_MAX];
    read_all(ep_pipe[0], ep, sizeof ep);
    void *ctx = zmq_ctx_new();
    void *push = connect_push(ctx, ep);
    char *buf = calloc(1, (size > header ? size : header) + 1);
    if (buf == NULL) die("out of memory");
    for (long i = 0; i < n; i++) {
        if (header) check_zmq(zmq_send(push, buf, header, ZMQ_SNDMORE), "zmq_send");
        if (zero_copy) {
            /* The buffer outlives every message (it is freed after the
             * receiver has them all), so no free function is needed. */
            zmq_msg_t m;
            check_zmq(zmq_msg_init_data(&m, buf, size, NULL, NULL), "zmq_msg_init_data");
            check_zmq(zmq_msg_send(&m, push, 0), "zmq_msg_send");
        } else {
            check_zmq(zmq_send(push, buf, size, 0), "zmq_send");
        }
    }
    double elapsed;
    read_all(res_pipe[0], &elapsed, sizeof elapsed);
    zmq_close(push);
    zmq_ctx_term(ctx);
    free(buf);
    wait_child(pid);
    double rate = (double)(n - 1) / elapsed;
    printf("thr_msgs_per_s %.1f\n", rate);
    printf("thr_mib_per_s %.1f\n", rate * (double)size / (1024.0 * 1024.0));
}

/* ---- fanout (and rtt, which is fanout to one peer) ---------------------- */

/* A peer echoes every message back to the master until it gets an empty one. */
static void echo_peer(int ep_out_fd, int master_in_fd, size_t size) {
    void *ctx = zmq_ctx_new();
    char ep[ENDPOINT_MAX], master_ep[ENDPOINT_MAX];
    void *pull = bind_pull(ctx, ep);
    write_all(ep_out_fd, ep, sizeof ep);
    read_all(master_in_fd, master_ep, sizeof master_ep);
    void *push = connect_push(ctx, master_ep);
    char *buf = malloc(size ? size : 1);
    if (buf == NULL) die("out of memory");
    for (;;) {
        int got = zmq_recv(pull, buf, size, 0);
        check_zmq(got, "zmq_recv");
        if (got == 0) break;
        check_zmq(zmq_send(push, buf, (size_t)got, 0), "zmq_send");
    }
    free(buf);
    zmq_close(pull);
    zmq_close(push);
    zmq_ctx_term(ctx);
}

/* One round: the same message to every peer (built once, shared with
 * zmq_msg_copy, as a proxy's broadcast does), then one reply from each. */
static void fanout_round(void **push, int k, void *pull, zmq_msg_t *proto, char *buf,
                         size_t size) {
    for (int i = 0; i < k; i++) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        check_zmq(zmq_msg_copy(&m, proto), "zmq_msg_copy");
        check_zmq(zmq_msg_send(&m, push[i], 0), "zmq_msg_send");
    }
    for (int i = 0; i < k; i++) check_zmq(zmq_recv(pull, buf, size, 0), "zmq_recv");
}

static void run_fanout(long rounds, size_t size, int k, const char *label) {
    if (rounds < 1) die("-n must be positive");
    if (size == 0) die("-s must be positive (an empty message stops a peer)");
    pid_t *pids = calloc((size_t)k, sizeof *pids);
    int (*to_peer)[2] = calloc((size_t)k, sizeof *to_peer);
    int (*from_peer)[2] = calloc((size_t)k, sizeof *from_peer);
    void **push = calloc((size_t)k, sizeof *push);
    double *samples = calloc((size_t)rounds, sizeof *samples);
    char *buf = malloc(size);
    if (!pids || !to_peer || !from_peer || !push || !samples || !buf) die("out of memory");

    /* Fork every peer before this process makes its own zmq context. */
    for (int i = 0; i < k; i++) {
        make_pipe(to_peer[i]);
        make_pipe(from_peer[i]);
        pids[i] = fork_or_die();
        if (pids[i] == 0) {
            echo_peer(from_peer[i][1], to_peer[i][0], size);
            _exit(0);
        }
        close(from_peer[i][1]);
        close(to_peer[i][0]);
    }
    void *ctx = zmq_ctx_new();
    char ep[ENDPOINT_MAX];
    void *pull = bind_pull(ctx, ep);
    for (int i = 0; i < k; i++) {
        char peer_ep[ENDPOINT_MAX];
        read_all(from_peer[i][0], peer_ep, sizeof peer_ep);
        push[i] = connect_push(ctx, peer_ep);
        write_all(to_peer[i][1], ep, sizeof ep);
    }

    zmq_msg_t proto;
    check_zmq(zmq_msg_init_size(&proto, size), "zmq_msg_init_size");
    memset(zmq_msg_data(&proto), 'x', size);
    /* Warm-up rounds: a completed round proves every connection is up in both
     * directions, so the timed rounds measure traffic, not connecting. */
    long warmup = rounds / 10 < WARMUP_MAX ? rounds / 10 + 1 : WARMUP_MAX;
    for (long r = 0; r < warmup; r++) fanout_round(push, k, pull, &proto, buf, size);
    for (long r = 0; r < rounds; r++) {
        double t0 = now_s();
        fanout_round(push, k, pull, &proto, buf, size);
        samples[r] = (now_s() - t0) * 1e6;
    }
    zmq_msg_close(&proto);

    for (int i = 0; i < k; i++) {
        check_zmq(zmq_send(push[i], "", 0, 0), "zmq_send");
        zmq_close(push[i]);
    }
    zmq_close(pull);
    zmq_ctx_term(ctx);
    for (int i = 0; i < k; i++) wait_child(pids[i]);
    printf("%s_median_us %.1f\n", label, median(samples, (size_t)rounds));
    /* CPU time of the whole run, all threads, warm-up and setup included
     * (fanout_cpu.sh takes the difference of two runs). */
    struct rusage self, peers;
    getrusage(RUSAGE_SELF, &self);
    getrusage(RUSAGE_CHILDREN, &peers);
    printf("%s_cpu_master_s %.3f %.3f\n%s_cpu_peers_s %.3f %.3f\n", label, tv_s(self.ru_utime),
           tv_s(self.ru_stime), label, tv_s(peers.ru_utime), tv_s(peers.ru_stime));
    free(pids);
    free(to_peer);
    free(from_peer);
    free(push);
    free(samples);
    free(buf);
}

/* ---- command line ------------------------------------------------------- */

static void usage(FILE *out) {
    fprintf(out,
            "usage: %s thr|rtt|fanout [-n N] [-s SIZE] [-k K] [-z] [-H HDR]\n"
            "  thr     PUSH/PULL throughput of N messages of SIZE bytes (default N=1000000, SIZE=64);\n"
            "          -z: zero-copy on both sides; -H: a HDR-byte frame before each payload\n"
            "  rtt     median round trip of SIZE bytes over N rounds (default N=2000, SIZE=64)\n"
            "  fanout  median of N rounds: one message to K peers, one reply from each\n"
            "          (default N=200, SIZE=64, K=32)\n",
            progname);
}

static long parse_long(const char *s, const char *opt) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || *s == '\0' || *end != '\0' || v < 0) die("%s wants a non-negative integer, got '%s'", opt, s);
    return v;
}

int main(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *mode = argv[1];
    long n = -1, size = 64, k = 32, header = 0;
    int zero_copy = 0;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "-z") == 0) {
            zero_copy = 1;
            continue;
        }
        if (i + 1 >= argc) die("option %s needs a value", argv[i]);
        if (strcmp(argv[i], "-n") == 0) n = parse_long(argv[++i], "-n");
        else if (strcmp(argv[i], "-s") == 0) size = parse_long(argv[++i], "-s");
        else if (strcmp(argv[i], "-k") == 0) k = parse_long(argv[++i], "-k");
        else if (strcmp(argv[i], "-H") == 0) header = parse_long(argv[++i], "-H");
        else die("unknown option %s", argv[i]);
    }
    if (k < 1 || k > 1024) die("-k must be between 1 and 1024");
    if ((zero_copy || header) && strcmp(mode, "thr") != 0) die("-z and -H apply to thr only");
    if (strcmp(mode, "thr") == 0)
        run_thr(n < 0 ? 1000000 : n, (size_t)size, zero_copy, (size_t)header);
    else if (strcmp(mode, "rtt") == 0) run_fanout(n < 0 ? 2000 : n, (size_t)size, 1, "rtt");
    else if (strcmp(mode, "fanout") == 0) run_fanout(n < 0 ? 200 : n, (size_t)size, (int)k, "fanout");
    else {
        usage(stderr);
        return 2;
    }
    fflush(stdout);
    return 0;
}
