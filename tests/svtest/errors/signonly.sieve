require "vnd.x.encrypt";

encrypt "signonly@example.org";
