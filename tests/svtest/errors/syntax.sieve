require "vnd.x.encrypt";

# Wrong argument type
encrypt 42;

# Unknown tag
encrypt :armor "alice@example.org";

# Two positional arguments
encrypt "alice@example.org" "bob@example.org";

# A block is not allowed
encrypt "alice@example.org" { keep; }
