#include "keys/group_key.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEY_TAG "maro-group-key-1"

static const char FILE_HEADER[] =
    "# marohost group key: whoever holds this file can join, read and write the group.\n"
    "# Keep it secret (mode 0600); see docs/security.md.\n";

static int ready(char *err, size_t errlen) {
    if (sodium_init() < 0) {
        snprintf(err, errlen, "libsodium cannot be initialised");
        return -1;
    }
    return 0;
}

int group_key_new_text(char *out, size_t outlen, char *err, size_t errlen) {
    if (ready(err, errlen) != 0) return -1;
    unsigned char secret[GROUP_KEY_BYTES];
    char b64[sodium_base64_ENCODED_LEN(GROUP_KEY_BYTES, sodium_base64_VARIANT_ORIGINAL)];
    randombytes_buf(secret, sizeof secret);
    sodium_bin2base64(b64, sizeof b64, secret, sizeof secret, sodium_base64_VARIANT_ORIGINAL);
    sodium_memzero(secret, sizeof secret);
    int n = snprintf(out, outlen, "%s%s %s\n", FILE_HEADER, KEY_TAG, b64);
    sodium_memzero(b64, sizeof b64);
    if (n < 0 || (size_t)n >= outlen) {
        snprintf(err, errlen, "no room for the key text");
        return -1;
    }
    return 0;
}

int group_key_parse(const char *text, size_t len, group_key *k, char *err, size_t errlen) {
    if (ready(err, errlen) != 0) return -1;
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *line_end = eol ? eol : end;
        size_t n = (size_t)(line_end - p);
        if (n > 0 && p[n - 1] == '\r') n--;
        size_t tag = sizeof KEY_TAG - 1;
        if (n > tag && memcmp(p, KEY_TAG, tag) == 0 && p[tag] == ' ') {
            const char *b64 = p + tag + 1;
            size_t got = 0;
            const char *b64_end;
            if (sodium_base642bin(k->secret, sizeof k->secret, b64, n - tag - 1, " \t", &got,
                                  &b64_end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
                got != GROUP_KEY_BYTES || b64_end != p + n) {
                snprintf(err, errlen, "the '%s' line does not hold %d bytes in base64",
                         KEY_TAG, GROUP_KEY_BYTES);
                sodium_memzero(k, sizeof *k);
                return -1;
            }
            return 0;
        }
        p = eol ? eol + 1 : end;
    }
    snprintf(err, errlen, "no '%s' line: not a group key file (make one with marohost keygen)",
             KEY_TAG);
    return -1;
}

int group_key_load(const char *path, group_key *k, char *err, size_t errlen) {
    char why[256];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open the group key file %s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    char text[1024];
    ssize_t n = -1;
    if (fstat(fd, &st) == 0) {
        if (st.st_mode & (S_IRWXG | S_IRWXO)) {
            close(fd);
            snprintf(err, errlen, "the group key file %s can be read by others than its owner "
                     "(mode %03o); make it private with chmod 600", path,
                     (unsigned)(st.st_mode & 0777));
            return -1;
        }
        n = read(fd, text, sizeof text);
    }
    int e = errno;
    close(fd);
    if (n < 0) {
        snprintf(err, errlen, "cannot read the group key file %s: %s", path, strerror(e));
        return -1;
    }
    int rc = group_key_parse(text, (size_t)n, k, why, sizeof why);
    sodium_memzero(text, sizeof text);
    if (rc != 0) snprintf(err, errlen, "group key file %s: %s", path, why);
    return rc;
}

int group_key_write_new(const char *path, char *err, size_t errlen) {
    char text[GROUP_KEY_TEXT_MAX];
    if (group_key_new_text(text, sizeof text, err, errlen) != 0) return -1;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        if (errno == EEXIST)
            snprintf(err, errlen, "%s exists already; a key file is never overwritten (remove "
                     "it first if you mean to replace the key)", path);
        else
            snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
        sodium_memzero(text, sizeof text);
        return -1;
    }
    size_t len = strlen(text);
    ssize_t w = write(fd, text, len);
    int e = errno;
    sodium_memzero(text, sizeof text);
    if (fsync(fd) != 0 && w == (ssize_t)len) {
        w = -1;
        e = errno;
    }
    close(fd);
    if (w != (ssize_t)len) {
        unlink(path);
        snprintf(err, errlen, "cannot write %s: %s", path, w < 0 ? strerror(e) : "short write");
        return -1;
    }
    return 0;
}

int group_key_derive(const group_key *k, group_secrets *out) {
    unsigned char fp[16];
    if (sodium_init() < 0) return -1;
    crypto_kdf_derive_from_key(out->mac_key, sizeof out->mac_key, 1, "maroregi", k->secret);
    unsigned char sub[32];
    crypto_kdf_derive_from_key(sub, sizeof sub, 2, "marofing", k->secret);
    crypto_generichash(fp, sizeof fp, sub, sizeof sub, NULL, 0);
    sodium_memzero(sub, sizeof sub);
    sodium_bin2hex(out->fingerprint, sizeof out->fingerprint, fp, sizeof fp);
    return 0;
}

void group_key_wipe(void *secret, size_t len) { sodium_memzero(secret, len); }

int group_key_load_secrets(const char *path, group_secrets *out, char *err, size_t errlen) {
    group_key k;
    if (group_key_load(path, &k, err, errlen) != 0) return -1;
    int rc = group_key_derive(&k, out);
    group_key_wipe(&k, sizeof k);
    if (rc != 0) snprintf(err, errlen, "libsodium cannot start");
    return rc;
}

void group_key_sign(const group_secrets *s, const char *data, size_t len, char out[65]) {
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256(mac, (const unsigned char *)data, len, s->mac_key);
    sodium_bin2hex(out, 65, mac, sizeof mac);
}

int group_key_verify(const group_secrets *s, const char *data, size_t len, const char *hex,
                     size_t hexlen) {
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    size_t got = 0;
    if (hexlen != 2 * sizeof mac ||
        sodium_hex2bin(mac, sizeof mac, hex, hexlen, NULL, &got, NULL) != 0 || got != sizeof mac)
        return 0;
    return crypto_auth_hmacsha256_verify(mac, (const unsigned char *)data, len, s->mac_key) == 0;
}
