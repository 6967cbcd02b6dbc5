require "vnd.x.encrypt";

# Sieve tags are identifiers: no "-" (RFC 5228, section 8.1)
encrypt :protect-headers "alice@example.org";
