require "vnd.x.encrypt";

encrypt "expired@example.org";
