require "vnd.x.encrypt";

encrypt "revoked@example.org";
