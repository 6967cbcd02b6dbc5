require ["vnd.x.encrypt"];

# Encrypt to the user's own key (sieve_encrypt_default_keys) when the user
# has a keyring with a usable key for it; otherwise the mail is delivered as
# before, without an error.
if encrypt {
	# encrypted now, or it arrived encrypted
}
