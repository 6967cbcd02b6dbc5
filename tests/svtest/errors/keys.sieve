require "vnd.x.encrypt";
require "variables";

# Not a key: too short for a key id, not an address
encrypt "ABCDEF";

# Empty key string
encrypt "";

# One bad key among good ones
encrypt ["alice@example.org", "Alice Example"];

# 17 hex digits
encrypt "0x0123456789ABCDEF0";

# Variables are checked at run time only: no error here
set "who" "alice";
encrypt "${who}@example.org";
