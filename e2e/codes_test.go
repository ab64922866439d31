package e2e

// ageMagic starts every age-encrypted file (the age format's header line).
const ageMagic = "age-encryption.org/v1\n"
