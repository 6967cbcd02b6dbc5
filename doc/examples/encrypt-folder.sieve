require ["vnd.x.encrypt"];

# The IMAPSieve script of a folder that encrypts (imapsieve_mailbox1_before
# in 90-sieve-encrypt-2.3.conf, mailbox Secure { sieve_script } on 2.4): a
# message an IMAP client appends, copies or moves into the folder is
# replaced by its encrypted form, to the user's own key
# (sieve_encrypt_default_keys), with its flags, keywords and date. A
# message encrypted already stays as it is. Without a usable key the
# message stays in clear and the failure is logged (doc/admin-howto.md).
encrypt;
