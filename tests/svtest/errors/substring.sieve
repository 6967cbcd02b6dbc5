require "vnd.x.encrypt";

# The keyring has carol.smith@example.org: an address must match exactly
encrypt "smith@example.org";
