require "vnd.x.encrypt";

# Unknown format
encrypt :format "pgp" "alice@example.org";

# Wrong argument type
encrypt :format 3156 "alice@example.org";

# A tag twice
encrypt :hidesubject :hidesubject "alice@example.org";

# The same for :legacydisplay
encrypt :legacydisplay :legacydisplay "alice@example.org";
