require "vnd.x.encrypt";

encrypt;
