require "vnd.x.encrypt";
require "variables";

set "how" "pgp/mime";
encrypt :format "${how}" "alice@example.org";
