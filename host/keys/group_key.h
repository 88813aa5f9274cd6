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

#endif
