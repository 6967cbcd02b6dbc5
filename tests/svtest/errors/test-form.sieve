require "vnd.x.encrypt";

if encrypt "alice@example.org" {
	keep;
}
