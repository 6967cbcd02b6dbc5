encrypt "alice@example.org";
