/* bench_codec.c: encode and decode rates of the wire codec, and bytes on the
 * wire, for three messages: a 64-byte string payload, a small table payload
 * and a 1 MiB string payload.
 *
 *   bench_codec [seconds per measurement, default 0.2] [repeats, default 5] [case]
 * where case (string64, table, string1MiB) runs only that message, e.g. under perf.
 *
 * Two levels are timed:
 *   codec    payload_encode + a one-message packet (wire_packet_*), and the
 *            packet read + payload_decode into a Lua value;
 *   message  what a send and a receive do: message_encode (header fields and
 *            a payload blob, with a scratch kept between messages as a proxy
 *            keeps one) and the packet, and the packet read, the payload
 *            checked, message_push_received and the first read of msg.payload.
 * Bytes on the wire are given for the message alone in a packet and within
 * a batch of 256 like it (the packet divided by 256).
 * Each figure is the median of the repeats. For the 1 MiB payload a plain
 * memcpy of the payload is timed in the same run, and the ratios show how many
 * copies' worth each direction costs. */
#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/blob.h"
#include "base/buf.h"
#include "message/message.h"
#include "module/core.h"
#include "wire/header.h"
#include "wire/packet.h"
#include "wire/payload.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, const char *err) {
    fprintf(stderr, "bench_codec: %s: %s\n", what, err);
    exit(1);
}

typedef struct bench_ctx {
    lua_State *L;
    int msg;             /* stack index of the message */
    int value;           /* stack index of its payload value */
    wire_header h;       /* the message's header fields */
    buf header;          /* its packet (payload inline), for the decode side */
    blob *payload;
    buf out;             /* packets being written, reused */
    message_scratch scratch; /* what a sender keeps between messages */
    char *copy_dst;      /* memcpy target for the baseline */
} bench_ctx;

typedef void (*bench_fn)(bench_ctx *c);

/* noinline keeps each measured function a frame of its own for profilers. */

static wire_packet_head head_of(const wire_header *h) {
    wire_packet_head head;
    memset(&head, 0, sizeof head);
    head.group = h->group;
    head.sender = h->source;
    head.seq = 1;
    return head;
}

static void write_packet(bench_ctx *c, const wire_header *h, const char *payload, size_t len) {
    wire_packet_writer w;
    wire_packet_head head = head_of(h);
    c->out.len = 0;
    if (wire_packet_begin(&w, &c->out, &head) != 0 || wire_packet_add(&w, h, payload, len, 0) != 0)
        die("packet", "out of memory");
    wire_packet_finish(&w);
}

/* The message of the packet in c->header: its header and inline payload. */
static void read_packet(bench_ctx *c, wire_header *h, wire_slice *payload) {
    char err[256];
    wire_packet_reader r;
    int frame;
    if (wire_packet_open(&r, c->header.data, c->header.len, 0, err, sizeof err) != 0)
        die("packet", err);
    if (wire_packet_next(&r, h, payload, &frame, err, sizeof err) != WIRE_PACKET_MESSAGE)
        die("packet", err);
}

__attribute__((noinline)) static void codec_encode(bench_ctx *c) {
    char err[256];
    buf pb;
    buf_init(&pb);
    if (payload_encode(c->L, c->value, &pb, err, sizeof err) != 0) die("payload", err);
    write_packet(c, &c->h, pb.data, pb.len);
    buf_free(&pb);
}

__attribute__((noinline)) static void codec_decode(bench_ctx *c) {
    char err[256];
    wire_header h;
    wire_slice payload;
    read_packet(c, &h, &payload);
    if (payload_decode(c->L, payload.ptr, payload.len, err, sizeof err) != 0)
        die("payload", err);
    lua_pop(c->L, 1);
}

__attribute__((noinline)) static void message_encode_once(bench_ctx *c) {
    char err[256];
    wire_header h;
    blob *pb = NULL;
    if (message_encode(c->L, c->msg, &h, &c->scratch, &pb, err, sizeof err) != 0)
        die("message", err);
    h.group = c->h.group;
    write_packet(c, &h, blob_data(pb), blob_size(pb));
    blob_unref(pb);
}

__attribute__((noinline)) static void message_decode_once(bench_ctx *c) {
    char err[256];
    wire_header h;
    wire_slice payload;
    read_packet(c, &h, &payload);
    if (payload_decode(NULL, payload.ptr, payload.len, err, sizeof err) != 0)
        die("message", err);
    message_push_received(c->L, &h, payload.ptr, payload.len, c->payload, 0);
    message_push_payload(c->L, -1);
    lua_pop(c->L, 2);
}

__attribute__((noinline)) static void plain_memcpy(bench_ctx *c) {
    memcpy(c->copy_dst, blob_data(c->payload), blob_size(c->payload));
    /* Keep the copy observable so that it is not optimised away. */
    __asm__ volatile("" : : "r"(c->copy_dst) : "memory");
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Median over repeats of the mean time of one call, in seconds. */
static double measure(bench_ctx *c, bench_fn fn, double seconds, int repeats) {
    double samples[64];
    if (repeats > 64) repeats = 64;
    /* Calibrate: how many calls fill the time slice. */
    long n = 1;
    for (;;) {
        double t0 = now();
        for (long i = 0; i < n; i++) fn(c);
        double dt = now() - t0;
        if (dt >= seconds / 4 || n > (1L << 30)) {
            n = (long)((double)n * seconds / (dt > 0 ? dt : 1e-9)) + 1;
            break;
        }
        n *= 4;
    }
    for (int r = 0; r < repeats; r++) {
        lua_gc(c->L, LUA_GCCOLLECT, 0); /* start each repeat from a clean heap */
        double t0 = now();
        for (long i = 0; i < n; i++) fn(c);
        samples[r] = (now() - t0) / (double)n;
    }
    qsort(samples, (size_t)repeats, sizeof samples[0], cmp_double);
    return samples[repeats / 2];
}

static void print_rate(const char *name, const char *what, double t) {
    printf("  %-9s %-7s %12.0f msg/s  %10.3f us/msg\n", name, what, 1.0 / t, t * 1e6);
}

static void run_case(lua_State *L, const char *name, double seconds, int repeats) {
    bench_ctx c;
    memset(&c, 0, sizeof c);
    c.L = L;
    c.value = lua_gettop(L);
    /* The message: the fields a proxy would give it. */
    lua_getglobal(L, "make_message");
    lua_pushvalue(L, c.value);
    lua_call(L, 1, 1);
    c.msg = lua_gettop(L);
    c.h = *message_header(message_check(L, c.msg));
    c.h.group = (wire_slice){"master-worker", 13};

    char err[256];
    buf_init(&c.header);
    buf_init(&c.out);
    buf_init(&c.scratch.bytes);
    wire_header h;
    if (message_encode(L, c.msg, &h, NULL, &c.payload, err, sizeof err) != 0) die(name, err);
    h.group = c.h.group;
    c.copy_dst = malloc(blob_size(c.payload));
    if (!c.copy_dst) die(name, "out of memory");
    /* One packet of 256 such messages, as a stream is batched (ids as a
     * sender makes them: consecutive). */
    wire_packet_writer w;
    wire_packet_head head = head_of(&h);
    if (wire_packet_begin(&w, &c.header, &head) != 0) die(name, "out of memory");
    for (int i = 0; i < 256; i++) {
        lua_getglobal(L, "make_message");
        lua_pushvalue(L, c.value);
        lua_call(L, 1, 1);
        wire_header hi = *message_header(message_check(L, -1));
        if (wire_packet_add(&w, &hi, blob_data(c.payload), blob_size(c.payload), 0) != 0)
            die(name, "out of memory");
        lua_pop(L, 1);
    }
    wire_packet_finish(&w);
    size_t batched = c.header.len;
    c.header.len = 0;
    write_packet(&c, &h, blob_data(c.payload), blob_size(c.payload));
    if (buf_append(&c.header, c.out.data, c.out.len) != 0) die(name, "out of memory");
    printf("%s: payload %zu bytes; alone in a packet %zu bytes, in a batch of 256 %.1f bytes "
           "each\n", name, blob_size(c.payload), c.header.len, (double)batched / 256);
    double ce = measure(&c, codec_encode, seconds, repeats);
    double cd = measure(&c, codec_decode, seconds, repeats);
    double me = measure(&c, message_encode_once, seconds, repeats);
    double md = measure(&c, message_decode_once, seconds, repeats);
    print_rate("codec", "encode", ce);
    print_rate("codec", "decode", cd);
    print_rate("message", "encode", me);
    print_rate("message", "decode", md);
    if (blob_size(c.payload) >= (1 << 20)) {
        double cp = measure(&c, plain_memcpy, seconds, repeats);
        double mb = (double)blob_size(c.payload) / (1 << 20);
        printf("  memcpy of the payload: %.3f us (%.2f GiB/s)\n", cp * 1e6, mb / 1024 / cp);
        printf("  cost in copies of the payload: codec encode %.2f, codec decode %.2f, "
               "message encode %.2f, message decode %.2f\n", ce / cp, cd / cp, me / cp, md / cp);
    }
    free(c.copy_dst);
    buf_free(&c.header);
    buf_free(&c.out);
    buf_free(&c.scratch.bytes);
    blob_unref(c.scratch.spare);
    blob_unref(c.payload);
    lua_settop(L, c.value - 1);
}

/* The payloads, built in Lua as a script would build them. */
static const char *payloads_lua =
    "local core, name = ...\n"
    "function make_message(payload)\n"
    "  return core.SessionMessage{ tag = 'sum', source = 'master', destination = 'worker_001',\n"
    "                              payload = payload }\n"
    "end\n"
    "if name == 'string64' then return string.rep('x', 64) end\n"
    "if name == 'table' then return { id = 7, values = { 1, 2, 3 }, name = 'sum' } end\n"
    "return string.rep('y', 1024 * 1024)\n";

int main(int argc, char **argv) {
    double seconds = argc > 1 ? atof(argv[1]) : 0.2;
    int repeats = argc > 2 ? atoi(argv[2]) : 5;
    const char *only = argc > 3 ? argv[3] : NULL;
    if (seconds <= 0 || repeats <= 0) {
        fprintf(stderr, "usage: bench_codec [seconds per measurement] [repeats] [case]\n");
        return 2;
    }
    const char *names[] = {"string64", "table", "string1MiB"};
    printf("bench_codec: median of %d repeats of %.2f s each\n", repeats, seconds);
    for (int i = 0; i < 3; i++) {
        if (only && strcmp(only, names[i]) != 0) continue;
        /* A state of its own per case, so that the heap (and so the garbage
         * collector's pace) of one case does not slow down the next. */
        lua_State *L = luaL_newstate();
        if (!L) die("lua", "out of memory");
        luaL_openlibs(L);
        luaL_requiref(L, "maro.core", luaopen_maro_core, 0);
        /* Made in a tight C loop, as here, Lua 5.4's incremental collector
         * falls behind on message userdata (the heap grows faster than
         * linearly), so the small messages' figures would measure the
         * collector; the generational mode keeps the heap small.
         * The 1 MiB case keeps the default incremental mode: in the
         * generational one each young collection frees the 1 MiB string at
         * once, glibc returns its pages to the kernel, and every message pays
         * page faults. codec.lua measures a script's own loop, in the default
         * mode. */
        if (i < 2) lua_gc(L, LUA_GCGEN, 0, 0);
        if (luaL_loadstring(L, payloads_lua) != LUA_OK) die("setup", lua_tostring(L, -1));
        lua_insert(L, -2);
        lua_pushstring(L, names[i]);
        lua_call(L, 2, 1);
        run_case(L, names[i], seconds, repeats);
        lua_close(L);
    }
    return 0;
}
