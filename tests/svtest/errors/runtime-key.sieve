require "vnd.x.encrypt";
require "variables";

set "who" "not a key";
encrypt "${who}";
