// STUB: replaced by its owner.
#include "poller.h"
