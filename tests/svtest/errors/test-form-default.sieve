require "vnd.x.encrypt";

if encrypt {
	keep;
}
