#include "base/ids.h"

#include <uuid/uuid.h>

void ids_new_uuid(char out[IDS_UUID_LEN + 1]) {
    uuid_t u;
    uuid_generate_random(u);
    uuid_unparse_lower(u, out);
}
