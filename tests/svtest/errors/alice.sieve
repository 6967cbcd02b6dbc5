require "vnd.x.encrypt";

encrypt "alice@example.org";
