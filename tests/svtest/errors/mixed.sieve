require "vnd.x.encrypt";

# Usable and expired together: the expired one is an error, not skipped
encrypt ["alice@example.org", "@EXPIRED_FPR@"];
