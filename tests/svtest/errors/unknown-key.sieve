require "vnd.x.encrypt";

encrypt "nobody@example.org";
