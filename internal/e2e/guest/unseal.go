package main

import "github.com/google/go-tpm/tpm2/transport"

// unsealCheck is filled in with the credential case.
func unsealCheck(tpm transport.TPM) {}
