/* group_key.h: the secret that makes a group closed. Whoever holds the key
 * file is a member: the key authenticates registrations in Redis and lets
 * members accept each other's CURVE connections (docs/security.md). The
 * file is text, so that it can travel in a Kubernetes Secret or be checked
 * with cat:
 *
 *   # marohost group key: ... (comment lines start with '#')
 *   maro-group-key-1 <32 bytes in base64>
 */
#ifndef MARO_GROUP_KEY_H
#define MARO_GROUP_KEY_H

#include <stddef.h>

#define GROUP_KEY_BYTES 32
#define GROUP_KEY_TEXT_MAX 256 /* the text of a new key file fits in this */

typedef struct group_key {
    unsigned char secret[GROUP_KEY_BYTES];
} group_key;

/* Writes the text of a new key file (random bytes from libsodium) into out.
 * 0, or -1 with err. */
int group_key_new_text(char *out, size_t outlen, char *err, size_t errlen);

/* Reads a key from a key file's text. 0, or -1 with err saying what is wrong. */
int group_key_parse(const char *text, size_t len, group_key *k, char *err, size_t errlen);

/* Reads a key file. A file that others than its owner can read is refused:
 * a key that leaked is no key. 0, or -1 with err naming the path. */
int group_key_load(const char *path, group_key *k, char *err, size_t errlen);

/* Writes a new key file at path (mode 0600); an existing file is never
 * overwritten. 0, or -1 with err. */
int group_key_write_new(const char *path, char *err, size_t errlen);

/* What a member derives from the key (the key itself is used for nothing
 * else): the key that signs registrations, and a fingerprint that names the
 * key in Redis and in messages without revealing it. */
#define GROUP_KEY_MAC_BYTES 32
#define GROUP_KEY_FINGERPRINT_HEX 32
typedef struct group_secrets {
    unsigned char mac_key[32];
    char fingerprint[GROUP_KEY_FINGERPRINT_HEX + 1];
} group_secrets;

/* 0, or -1 when libsodium cannot start. */
int group_key_derive(const group_key *k, group_secrets *out);
/* group_key_load, then group_key_derive; the key itself is wiped. 0, or -1
 * with err. */
int group_key_load_secrets(const char *path, group_secrets *out, char *err, size_t errlen);
/* Clears a key or secrets in memory once they are no longer needed. */
void group_key_wipe(void *secret, size_t len);
/* HMAC-SHA-256 of data with the registration key, as 64 hex digits. */
void group_key_sign(const group_secrets *s, const char *data, size_t len, char out[65]);
/* 1 when hex (64 digits) is the signature of data. Constant time. */
int group_key_verify(const group_secrets *s, const char *data, size_t len, const char *hex,
                     size_t hexlen);

#endif
