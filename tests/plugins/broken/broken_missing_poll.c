/* broken_missing_poll: a source whose function table has no poll. */
#include "broken_common.h"

BROKEN_SOURCE_PLUGIN(broken_create, NULL, "a deliberately broken test plugin")
