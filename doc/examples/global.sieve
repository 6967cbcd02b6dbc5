require ["vnd.x.encrypt", "envelope", "variables"];

# Encrypt to the key of the recipient's address when that user has a keyring
# with a usable key for it; otherwise the mail is delivered as before.
if envelope :matches "to" "*" {
	if encrypt "${1}" {
		# encrypted now, or it arrived encrypted
	}
}
